"""Audio probing, sample checks and atomic output files (all through soundfile).

Output files keep the input's sampling rate, container and sample format where
libsndfile can write that combination, and are written to a temporary file in
the destination folder that replaces the final name only once complete, so an
interrupted or failed run never leaves half a file under the real name.
"""

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from espnet_cffma.enhance.errors import EnhanceError
from espnet_cffma.fileio import atomic_path, first_line

logger = logging.getLogger(__name__)

# Samples at or above this magnitude count as "at full scale": int16's largest
# positive code is 32767/32768 = 0.99997.
FULL_SCALE = 0.999
# Clipping is reported when at least this fraction of samples sits at full scale.
CLIP_FRACTION = 1e-4


@dataclass(frozen=True)
class AudioInfo:
    """What an input file holds (from its header)."""

    frames: int
    samplerate: int
    channels: int
    format: str
    subtype: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.samplerate


def probe(path: str | Path) -> AudioInfo:
    """Reads an audio file's header.

    Raises:
        EnhanceError: missing, unreadable, not audio, or without samples.
    """
    path = Path(path)
    if not path.exists():
        reason = "broken symbolic link" if path.is_symlink() else "no such file"
        raise EnhanceError(str(path), reason)
    if path.is_dir():
        raise EnhanceError(str(path), "is a directory, not an audio file")
    if not path.is_file():  # a FIFO or device would block or never end
        raise EnhanceError(str(path), "not a regular file")
    if not os.access(path, os.R_OK):
        raise EnhanceError(str(path), "permission denied (file is not readable)")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise EnhanceError(
            str(path), f"not a readable audio file ({_libsndfile_reason(e)})"
        ) from None
    if info.frames <= 0:
        raise EnhanceError(str(path), "empty audio file (0 samples)")
    return AudioInfo(
        frames=int(info.frames),
        samplerate=int(info.samplerate),
        channels=int(info.channels),
        format=info.format,
        subtype=info.subtype,
    )


def read_all(path: str | Path) -> np.ndarray:
    """Reads a whole file as float32 ``[N, C]``.

    Raises:
        EnhanceError: the file cannot be decoded.
    """
    try:
        data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as e:
        raise EnhanceError(
            str(path), f"cannot decode audio ({_libsndfile_reason(e)})"
        ) from None
    return data


class SampleChecker:
    """Checks blocks of one file for NaN/Inf (an error) and clipping (a warning).

    Feed every block through :meth:`check`; :meth:`clipping_warning` then tells
    whether the file as a whole looked clipped.

    Args:
        path: the file, for messages.
    """

    def __init__(self, path: str):
        self.path = path
        self.frames = 0
        self.samples = 0
        self.at_full_scale = 0
        self.peak = 0.0

    def check(self, block: np.ndarray) -> None:
        """Inspects ``block`` ``[N, C]``.

        Raises:
            EnhanceError: the block holds NaN or infinite samples.
        """
        finite = np.isfinite(block)
        if not finite.all():
            frame = self.frames + int(np.argwhere(~finite)[0][0])
            raise EnhanceError(
                self.path,
                f"contains NaN or infinite samples (first at sample {frame}); "
                "cannot enhance",
            )
        magnitude = np.abs(block)
        self.at_full_scale += int(np.count_nonzero(magnitude >= FULL_SCALE))
        if block.size:
            self.peak = max(self.peak, float(magnitude.max()))
        self.frames += len(block)
        self.samples += block.size

    @property
    def silent(self) -> bool:
        """True when every sample seen so far is exactly zero."""
        return self.peak == 0.0

    def clipping_warning(self) -> str | None:
        """A message when the file looks clipped or exceeds full scale, else None."""
        if self.samples and self.at_full_scale >= max(3, CLIP_FRACTION * self.samples):
            share = 100.0 * self.at_full_scale / self.samples
            return (
                f"input looks clipped ({self.at_full_scale} samples, {share:.3g} %, "
                f"at full scale; peak {self.peak:.3g}); enhancing anyway"
            )
        return None


@dataclass(frozen=True)
class OutputSpec:
    """How an output file is written."""

    path: Path
    samplerate: int
    channels: int
    format: str
    subtype: str

    @property
    def is_integer(self) -> bool:
        """True for integer PCM subtypes, which must be clipped to [-1, 1]."""
        return self.subtype.startswith("PCM") or self.subtype in ("ULAW", "ALAW")


def output_spec(
    info: AudioInfo, path: Path, channels: int, subtype: str | None = None
) -> OutputSpec:
    """Chooses the output format: the input's, where libsndfile can write it.

    Args:
        info: the input's header.
        path: the wanted output path.
        channels: output channel count.
        subtype: force this subtype (e.g. ``FLOAT``) instead of the input's.

    Returns:
        The spec; its path ends in ``.wav`` when the input's container had to be
        replaced by WAV.
    """
    fmt = info.format
    sub = subtype or info.subtype
    if sf.check_format(fmt, sub):
        return OutputSpec(path, info.samplerate, channels, fmt, sub)
    if subtype is None and sf.check_format(fmt):
        default_sub = sf.default_subtype(fmt)
        logger.warning(
            "%s: cannot write subtype %s in %s; writing %s", path, sub, fmt, default_sub
        )
        return OutputSpec(path, info.samplerate, channels, fmt, default_sub)
    wav_sub = sub if sf.check_format("WAV", sub) else "FLOAT"
    new_path = path.with_suffix(".wav")
    logger.warning(
        "%s: cannot write %s/%s; writing WAV %s to %s",
        path,
        fmt,
        sub,
        wav_sub,
        new_path,
    )
    return OutputSpec(new_path, info.samplerate, channels, "WAV", wav_sub)


class AtomicAudioWriter:
    """Writes an audio file block by block, renaming it into place on success.

    Use as a context manager; on an exception the temporary file is removed
    and the final path is untouched. Integer outputs are clipped to [-1, 1]
    (libsndfile would otherwise wrap around) and the clipped samples counted.

    Args:
        spec: where and how to write.
        total_frames: exact length of the finished file; extra frames are
            dropped and missing ones zero-filled on close.
    """

    def __init__(self, spec: OutputSpec, total_frames: int):
        self.spec = spec
        self.total_frames = total_frames
        self.written = 0
        self.clipped = 0
        self._file: sf.SoundFile | None = None
        self._rename = contextlib.ExitStack()

    def __enter__(self) -> "AtomicAudioWriter":
        # fileio.atomic_path renames the temporary file into place when the
        # stack closes without an error, and removes it otherwise.
        tmp = self._rename.enter_context(atomic_path(self.spec.path))
        try:
            self._file = sf.SoundFile(
                str(tmp),
                mode="w",
                samplerate=self.spec.samplerate,
                channels=self.spec.channels,
                format=self.spec.format,
                subtype=self.spec.subtype,
            )
        except BaseException as e:
            self._rename.__exit__(type(e), e, e.__traceback__)
            raise
        return self

    def write(self, block: np.ndarray) -> None:
        """Appends ``block`` ``[N, C]`` (float), up to ``total_frames`` in all."""
        block = block[: max(self.total_frames - self.written, 0)]
        if not len(block):
            return
        if self.spec.is_integer:
            over = np.abs(block) > 1.0
            if over.any():
                self.clipped += int(np.count_nonzero(over))
                block = np.clip(block, -1.0, 1.0)
        self._file.write(block)
        self.written += len(block)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None and self.written < self.total_frames:
                missing = self.total_frames - self.written
                self._file.write(
                    np.zeros((missing, self.spec.channels), dtype=np.float32)
                )
            self._file.close()
        except BaseException as e:
            self._file.close()
            self._rename.__exit__(type(e), e, e.__traceback__)
            raise
        self._rename.__exit__(exc_type, exc, tb)


def _libsndfile_reason(error: BaseException) -> str:
    reason = first_line(error)
    # soundfile prefixes messages with "Error opening '<path>': "; the path is
    # already in our message.
    if reason.startswith("Error opening") and ": " in reason:
        reason = reason.split(": ", 1)[1]
    return reason
