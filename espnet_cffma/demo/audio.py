"""Decoding the demo's audio files: raw G.722 voice prompts and what soundfile reads.

A leaf module: the source fetchers (:mod:`espnet_cffma.demo.sources`) and the
utterance and noise makers all read audio through :func:`load_audio`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from espnet_cffma.resampling import resample

SPEECH_SR = 16000  # Asterisk's G.722 prompts are 16 kHz wideband
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus")


class DemoSourceError(RuntimeError):
    """A demo source (Debian package, user folder or audio file) cannot be used."""


class EmptyAudioError(DemoSourceError):
    """An audio file holds no samples (one of Asterisk's prompts does)."""


def _decode_g722(path: Path) -> np.ndarray:
    from G722 import G722  # PyPI package "g722"; bit-exact to ffmpeg's decoder

    codec = G722(SPEECH_SR, 64000)
    pcm = np.asarray(codec.decode(path.read_bytes()), dtype=np.int16)
    return pcm.astype(np.float32) / 32768.0


def load_audio(path: str | os.PathLike, sr: int = SPEECH_SR) -> np.ndarray:
    """Reads an audio file as mono float32 at ``sr``.

    ``.g722`` files (raw G.722, 64 kbit/s, 16 kHz) are decoded with the g722
    package; anything else goes through soundfile (wav, flac, ogg, ...).
    Multi-channel audio is averaged; other rates are resampled with soxr.

    Args:
        path: Audio file.
        sr: Wanted sample rate.

    Returns:
        ``[T]`` float32.

    Raises:
        DemoSourceError: When the file cannot be read.
        EmptyAudioError: When it holds no samples.
    """
    path = Path(path)
    try:
        if path.suffix == ".g722":
            x, file_sr = _decode_g722(path), SPEECH_SR
        else:
            x, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
            x = x.mean(axis=1)
    except (OSError, RuntimeError, sf.LibsndfileError) as err:
        raise DemoSourceError(f"cannot read audio file {path}: {err}") from err
    if x.size == 0:
        raise EmptyAudioError(f"audio file {path} is empty")
    return resample(x, file_sr, sr)
