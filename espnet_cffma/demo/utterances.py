"""Turns one speaker's voice prompts into utterances of corpus-like length.

Voice prompts run from half a second (a digit or a word) to over a minute;
corpus utterances are a few seconds. Short prompts are joined, long ones cut at
the quietest moment near the wanted length. Prompts keep some of their own
leading and trailing silence, and joins may add a random pause on top, so
joined words sound like someone reading a list rather than one run-on word.

The prompts contain stretches of digital zeros, which no microphone records:
they make LPC-based measures (LLR, hence CSIG/COVL) blow up on silent frames.
Every utterance therefore gets a white noise floor at ``floor_dbfs`` (-70 dBFS
by default, below VoiceBank's own recording noise).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from espnet_cffma.demo.audio import EmptyAudioError, load_audio
from espnet_cffma.demo.signals import fade_edges, quietest_point, trim_silence

logger = logging.getLogger(__name__)

# Seconds of each prompt's own silence kept at both ends (UtteranceMaker).
PROMPT_MARGIN = 0.12
# KDE's recordings are single words: kept with 50 ms of their own silence and
# joined with a random 0.1-0.4 s pause, they sound like someone reading a
# list. Asterisk's prompts are whole phrases and keep the default margins.
WORD_LIST_OPTIONS = {"margin": 0.05, "gap_seconds": (0.1, 0.4)}


def utterance_options(voices: str, speech_dir: object = None) -> dict:
    """:class:`UtteranceMaker` options for a corpus's speech.

    Args:
        voices: The builders' ``voices`` option (``many`` or ``asterisk``).
        speech_dir: The user's speech folder, or None for Debian speech.

    Returns:
        Keyword arguments: :data:`WORD_LIST_OPTIONS` for Debian speech with
        KDE's word recordings, none otherwise.
    """
    return dict(WORD_LIST_OPTIONS) if voices == "many" and speech_dir is None else {}


def utterance_note(seconds: tuple[float, float]) -> str:
    """How utterances are made, for a corpus's SOURCES.md."""
    gap = WORD_LIST_OPTIONS["gap_seconds"]
    return (
        f"Utterances: a speaker's prompts, trimmed to {PROMPT_MARGIN:g} s of their "
        f"own silence at each end, joined or cut at the quietest point, {seconds[0]:g}-"
        f"{seconds[1]:g} s; KDE's single words keep "
        f"{WORD_LIST_OPTIONS['margin'] * 1000:g} ms of their own silence and are "
        f"joined with a random {gap[0]:g}-{gap[1]:g} s pause. Empty or silent "
        "files are skipped."
    )


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
        gap_seconds: Range of the extra pause between joined prompts (drawn
            uniformly per join), or None for none.
    """

    def __init__(
        self,
        files: list[Path],
        rng: np.random.Generator,
        sr: int = 16000,
        min_seconds: float = 1.5,
        max_seconds: float = 4.0,
        margin: float = PROMPT_MARGIN,
        floor_dbfs: float = -70.0,
        gap_seconds: tuple[float, float] | None = None,
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
        self.gap_seconds = gap_seconds
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
            try:
                x = load_audio(path, self.sr)
            except EmptyAudioError:
                logger.warning("skipping empty audio file %s", path)
                continue
            x = trim_silence(x, self.sr, margin=self.margin)
            # Silent or too short to be a word: skipped, never written as is.
            if len(x) >= 0.2 * self.sr:
                return x, path
        raise ValueError(f"no audible speech in {len(self.files)} files")

    def _join(self, length: int) -> tuple[np.ndarray, list[Path]]:
        pieces: list[np.ndarray] = []
        used: list[Path] = []
        total = 0
        while total < length:
            x, path = self._next_prompt()
            if pieces and self.gap_seconds is not None:
                gap = int(self.rng.uniform(*self.gap_seconds) * self.sr)
                pieces.append(np.zeros(gap, dtype=x.dtype))
                total += gap
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
