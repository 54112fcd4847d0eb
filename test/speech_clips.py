"""Real speech clips of an exact length, for tests (from the Debian voice cache)."""

from __future__ import annotations

import os

import numpy as np

from espnet_cffma.demo.audio import SPEECH_SR
from espnet_cffma.demo.signals import fade_edges
from espnet_cffma.demo.sources import fetch_speech
from espnet_cffma.demo.utterances import UtteranceMaker


def real_speech_clips(
    n: int,
    seconds: float,
    cache_dir: str | os.PathLike | None = None,
    voice: str = "en",
    seed: int = 0,
) -> list[np.ndarray]:
    """Real speech clips of an exact length.

    Prompts of one voice are trimmed, shuffled and joined until each clip is
    long enough, then cut to ``seconds``.

    Args:
        n: Number of clips.
        seconds: Length of each clip.
        cache_dir: Debian package cache (see
            :func:`espnet_cffma.demo.sources.cache_root`).
        voice: Key of :data:`espnet_cffma.demo.sources.VOICES`.
        seed: Shuffling seed.

    Returns:
        ``n`` arrays ``[round(seconds * 16000)]``, float32, 16 kHz, distinct.
    """
    files = fetch_speech(cache_dir, [voice])[voice]
    maker = UtteranceMaker(files, np.random.default_rng(seed), sr=SPEECH_SR)
    length = int(round(seconds * SPEECH_SR))
    return [fade_edges(maker.make_exact(length)[0], SPEECH_SR) for _ in range(n)]
