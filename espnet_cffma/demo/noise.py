"""Draws noise segments for demo mixtures: recordings, babble, coloured noise."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from espnet_cffma.demo.audio import load_audio
from espnet_cffma.demo.signals import (
    babble,
    colored_noise,
    is_audible,
    loop_segment,
    random_start,
    trim_silence,
)
from espnet_cffma.demo.sources import noise_category


@dataclass
class NoiseSegment:
    """A noise segment and where it came from.

    Attributes:
        audio: ``[T]`` float32.
        kind: ``"file"``, ``"babble"`` or ``"colored"``.
        label: Short noise-type name for logs (``sonicpi-ambi_drone``,
            ``babble``, ``pink``).
        details: Provenance (file and offset, babble talkers, ...).
        category: What it sounds like: ``stationary``, ``babble``, ``music``,
            ``machines``, ``traffic``, ``city``, ``nature``, ``effects``
            (``other``: a user's files).
    """

    audio: np.ndarray
    kind: str
    label: str
    details: dict = field(default_factory=dict)
    category: str = "other"


class NoiseMaker:
    """Draws noise of a requested length from one split's noise pool.

    Args:
        files: Source -> noise recordings of this split.
        sr: Sample rate of the segments.
        rng: Random generator.
        kinds: Noise kind -> probability (``file``, ``babble``, ``colored``).
        colors: Colours for ``colored`` noise.
        babble_speech: Speaker -> speech files usable as babble talkers (the
            target speaker is excluded at each draw).
        n_talkers: Range (inclusive) of babble talkers.
        root: Paths in ``details`` are written relative to it when possible.
    """

    def __init__(
        self,
        files: dict[str, list[Path]],
        sr: int,
        rng: np.random.Generator,
        kinds: dict[str, float] | None = None,
        colors: tuple[str, ...] = ("white", "pink"),
        babble_speech: dict[str, list[Path]] | None = None,
        n_talkers: tuple[int, int] = (3, 6),
        root: Path | None = None,
    ):
        self.files = {k: list(v) for k, v in sorted(files.items()) if v}
        if not self.files:
            raise ValueError("NoiseMaker needs at least one noise recording")
        self.sr = sr
        self.rng = rng
        self.kinds = kinds or {"file": 1.0}
        unknown = set(self.kinds) - {"file", "babble", "colored"}
        if unknown:
            raise ValueError(f"unknown noise kinds {sorted(unknown)}")
        self.colors = colors
        self.babble_speech = babble_speech or {}
        self.n_talkers = n_talkers
        self.root = root
        self._cache: dict[Path, np.ndarray] = {}

    def _rel(self, path: Path) -> str:
        if self.root is not None:
            try:
                return path.relative_to(self.root).as_posix()
            except ValueError:
                pass
        return str(path)

    def _load(self, path: Path) -> np.ndarray:
        if path not in self._cache:
            x = load_audio(path, self.sr)
            self._cache[path] = x - x.mean()  # game/music samples may carry DC
        return self._cache[path]

    def draw(self, length: int, exclude_speaker: str | None = None) -> NoiseSegment:
        """Draws one segment.

        Args:
            length: Number of samples.
            exclude_speaker: Speaker that must not be among babble talkers.

        Returns:
            The segment (not level-normalised for ``file`` noise).
        """
        names = list(self.kinds)
        probs = np.array([self.kinds[k] for k in names], dtype=float)
        kind = names[int(self.rng.choice(len(names), p=probs / probs.sum()))]
        talkers = [s for s in self.babble_speech if s != exclude_speaker]
        if kind == "babble" and talkers:
            return self._babble(length, talkers)
        if kind == "colored":
            color = str(self.rng.choice(self.colors))
            audio = colored_noise(length, color, self.rng)
            return NoiseSegment(audio, "colored", color, {"color": color}, "stationary")
        return self._file(length)

    def _file(self, length: int) -> NoiseSegment:
        for _ in range(50):
            # Sources are drawn uniformly so a large package does not dominate.
            source = list(self.files)[int(self.rng.integers(len(self.files)))]
            pool = self.files[source]
            path = pool[int(self.rng.integers(len(pool)))]
            x = self._load(path)
            start = random_start(len(x), length, self.rng)
            seg = loop_segment(x, length, start, self.sr)
            if is_audible(seg, self.sr):
                label = f"{source}-{path.stem}"
                details = {"file": self._rel(path), "start": start}
                category = noise_category(path)
                return NoiseSegment(seg, "file", label, details, category)
        raise ValueError(f"no audible noise segment of {length} samples found")

    def _babble(self, length: int, talkers: list[str]) -> NoiseSegment:
        n = int(self.rng.integers(self.n_talkers[0], self.n_talkers[1] + 1))
        clips, used = [], []
        for _ in range(20 * n):
            if len(clips) == n:
                break
            speaker = talkers[int(self.rng.integers(len(talkers)))]
            files = self.babble_speech[speaker]
            path = files[int(self.rng.integers(len(files)))]
            clip = trim_silence(load_audio(path, self.sr), self.sr)
            if len(clip) >= 0.3 * self.sr:
                clips.append(clip)
                used.append(f"{speaker}:{path.stem}")
        if not clips:
            raise ValueError(f"no audible babble speech among {talkers}")
        audio = babble(clips, length, self.rng, self.sr)
        return NoiseSegment(audio, "babble", "babble", {"talkers": used}, "babble")
