"""Layers shared by every system: STFT, padding masks, normalisations, convolutions.

Each system's own blocks live in its folder under :mod:`espnet_cffma.systems`;
what more than one system needs lives here, once.
"""
