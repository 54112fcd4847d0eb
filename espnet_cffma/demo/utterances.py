"""Turns one speaker's voice prompts into utterances of corpus-like length.

Voice prompts run from half a second (a digit) to over a minute; corpus
utterances are a few seconds. Short prompts are joined, long ones cut at the
quietest moment near the wanted length. Prompts keep some of their own leading
and trailing silence, so joins sound like natural pauses.

The prompts contain stretches of digital zeros, which no microphone records:
they make LPC-based measures (LLR, hence CSIG/COVL) blow up on silent frames.
Every utterance therefore gets a white noise floor at ``floor_dbfs`` (-70 dBFS
by default, below VoiceBank's own recording noise).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from espnet_cffma.demo.audio import load_audio
from espnet_cffma.demo.signals import fade_edges, quietest_point, trim_silence

logger = logging.getLogger(__name__)


class UtteranceMaker:
    """Draws utterances from one speaker's prompts, each prompt used once.

    Prompts are visited in a shuffled order; only when all have been used does
    the order restart (with a warning), so utterances never share audio
    before that.

    Args:
        files: The speaker's audio files.
        rng: Random generator (order, lengths, pauses).
        sr: Sample rate of the utterances.
        min_seconds: Shortest utterance from :meth:`make`.
        max_seconds: Longest utterance from :meth:`make`.
        margin: Seconds of each prompt's own silence kept at both ends.
        floor_dbfs: Level of the white noise floor added to each utterance.
    """

    def __init__(
        self,
        files: list[Path],
        rng: np.random.Generator,
        sr: int = 16000,
        min_seconds: float = 1.5,
        max_seconds: float = 4.0,
        margin: float = 0.12,
        floor_dbfs: float = -70.0,
    ):
        if not files:
            raise ValueError("UtteranceMaker needs at least one file")
        if not 0 < min_seconds <= max_seconds:
            raise ValueError(f"bad utterance length range {min_seconds}-{max_seconds}")
        self.files = list(files)
        self.rng = rng
        self.sr = sr
        self.min_seconds = min_seconds
        self.max_seconds = max_seconds
        self.margin = margin
        self.floor_dbfs = floor_dbfs
        # Own generator: drawing the floor from ``rng`` would shift every later
        # random choice (rooms, SNRs) of the corpus builders.
        self._floor_rng = np.random.default_rng(len(self.files))
        self._order: list[int] = []
        self._passes = 0

    def _next_prompt(self) -> tuple[np.ndarray, Path]:
        for _ in range(2 * len(self.files) + 1):
            if not self._order:
                if self._passes > 0:
                    logger.warning(
                        "all %d prompts of %s used; reusing them",
                        len(self.files),
                        self.files[0].parent,
                    )
                self._order = list(self.rng.permutation(len(self.files)))
                self._passes += 1
            path = self.files[self._order.pop()]
            x = trim_silence(load_audio(path, self.sr), self.sr, margin=self.margin)
            if len(x) >= 0.2 * self.sr:
                return x, path
        raise ValueError(f"no audible speech in {len(self.files)} files")

    def _join(self, length: int) -> tuple[np.ndarray, list[Path]]:
        pieces: list[np.ndarray] = []
        used: list[Path] = []
        total = 0
        while total < length:
            x, path = self._next_prompt()
            pieces.append(x)
            used.append(path)
            total += len(x)
        return np.concatenate(pieces), used

    def make(self) -> tuple[np.ndarray, list[Path]]:
        """An utterance between ``min_seconds`` and ``max_seconds`` long.

        Returns:
            ``(speech [T], source files used)``.
        """
        target = self.rng.uniform(self.min_seconds, self.max_seconds)
        x, used = self._join(int(target * self.sr))
        if len(x) > self.max_seconds * self.sr:
            lo = max(self.min_seconds, target - 0.5)
            cut = quietest_point(x, self.sr, lo, target)
            x = fade_edges(x[:cut], self.sr)
        return self._with_noise_floor(x), used

    def make_exact(self, length: int) -> tuple[np.ndarray, list[Path]]:
        """An utterance of exactly ``length`` samples (cut, not padded).

        Args:
            length: Number of samples.

        Returns:
            ``(speech [length], source files used)``.
        """
        x, used = self._join(length)
        return self._with_noise_floor(x[:length]), used

    def _with_noise_floor(self, x: np.ndarray) -> np.ndarray:
        floor = 10 ** (self.floor_dbfs / 20) * self._floor_rng.standard_normal(len(x))
        return (x + floor).astype(x.dtype)
