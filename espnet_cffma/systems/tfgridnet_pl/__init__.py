"""TF-GridNet with progressive learning (seed 004) on ESPnet's TF-GridNet blocks.

- ``separator.py``: :class:`TFGridNetPLSeparator`, the ESPnet separator
  ``tfgridnet_pl`` (output heads after chosen blocks, optional dense-by-sum
  wiring; with neither it is ESPnet's ``tfgridnetv2``).
- ``targets.py``: intermediate targets of rising SNR (relative or absolute).
"""
