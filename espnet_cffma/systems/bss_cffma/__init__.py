"""BSS-CFFMA (arXiv 2408.06851): SSL weighted-sum front + STFT, MSCFF, RHMA.

- ``separator.py``: :class:`BSSCFFMASeparator`, the ESPnet separator ``bss_cffma``.
- ``mscff.py``: multi-scale cross-domain feature fusion.
- ``rhma.py``: residual hybrid multi-attention blocks.
- ``scta.py``: selective channel-time attention (inside RHMA).
"""
