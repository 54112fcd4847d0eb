"""One folder per enhancement system: its ESPnet separator and its own blocks.

A system is a thin assembly of the shared layers (:mod:`espnet_cffma.layers`),
the SSL front (:mod:`espnet_cffma.ssl`) and the blocks of its paper, which
live beside its separator.
"""
