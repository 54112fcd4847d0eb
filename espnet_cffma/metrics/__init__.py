"""Speech enhancement metrics: Loizou's composite measures plus helpers.

* :mod:`espnet_cffma.metrics.composite`: ``composite`` (CSIG, CBAK, COVL, PESQ,
  LLR, WSS, segSNR), ``llr``, ``wss``, ``segsnr``, ``pesq_wb``: pure numpy.
* :mod:`espnet_cffma.metrics.stoi`: ``stoi``, ``estoi`` (pystoi).
* :mod:`espnet_cffma.metrics.scoring`: every recipe metric for one pair, or for
  Kaldi ``wav.scp`` lists in ESPnet's enh_scoring layout (also a CLI).

Nothing is re-exported here: the functions ``composite`` and ``stoi`` would
shadow their modules of the same name.
"""
