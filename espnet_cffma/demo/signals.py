"""Signal helpers for building demo mixtures: levels, SNR, trimming, noise.

All signals are 1-D float arrays ``[T]`` (mono) unless stated otherwise.
"""

from __future__ import annotations

import numpy as np

COLORS = ("white", "pink", "brown", "blue", "violet")
# Spectral slope of the power spectral density, PSD ~ f**exponent.
_COLOR_EXPONENT = {
    "white": 0.0,
    "pink": -1.0,
    "brown": -2.0,
    "blue": 1.0,
    "violet": 2.0,
}


def rms_db(x: np.ndarray) -> float:
    """Root-mean-square level in dB relative to full scale 1.0.

    Args:
        x: Signal ``[T]``.

    Returns:
        ``20 log10(rms)``; ``-inf`` for an all-zero signal.
    """
    power = float(np.mean(np.square(x, dtype=np.float64))) if x.size else 0.0
    return 10.0 * np.log10(power) if power > 0 else float("-inf")


def snr_db(clean: np.ndarray, noise: np.ndarray) -> float:
    """Energy ratio of ``clean`` to ``noise`` over their whole length, in dB.

    Args:
        clean: Speech ``[T]``.
        noise: Noise ``[T]`` (for a mixture, pass ``mixture - clean``).

    Returns:
        SNR in dB.
    """
    e_clean = float(np.sum(np.square(clean, dtype=np.float64)))
    e_noise = float(np.sum(np.square(noise, dtype=np.float64)))
    return 10.0 * np.log10(e_clean / max(e_noise, 1e-30))


def scale_noise_to_snr(clean: np.ndarray, noise: np.ndarray, snr: float) -> np.ndarray:
    """Scales ``noise`` so that ``snr_db(clean, scaled) == snr``.

    Args:
        clean: Speech ``[T]``.
        noise: Noise ``[T]``, not silent.
        snr: Target SNR in dB.

    Returns:
        Scaled noise ``[T]``.
    """
    return (noise * noise_gain_for_snr(clean, noise, snr)).astype(
        noise.dtype, copy=False
    )


def noise_gain_for_snr(clean: np.ndarray, noise: np.ndarray, snr: float) -> float:
    """The gain that brings ``noise`` to ``snr`` dB below ``clean``.

    Args:
        clean: Speech ``[T]``.
        noise: Noise ``[T]``, not silent.
        snr: Target SNR in dB.

    Returns:
        Linear gain for ``noise``.
    """
    e_clean = float(np.sum(np.square(clean, dtype=np.float64)))
    e_noise = float(np.sum(np.square(noise, dtype=np.float64)))
    if e_noise <= 0:
        raise ValueError("cannot scale a silent noise segment to an SNR")
    return float(np.sqrt(e_clean / (e_noise * 10.0 ** (snr / 10.0))))


def _frame_rms_db(x: np.ndarray, frame: int) -> np.ndarray:
    n = len(x) // frame
    if n == 0:
        return np.full(1, rms_db(x))
    frames = x[: n * frame].reshape(n, frame).astype(np.float64)
    power = np.mean(frames**2, axis=1)
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def trim_silence(
    x: np.ndarray, sr: int, threshold_db: float = -40.0, margin: float = 0.05
) -> np.ndarray:
    """Cuts leading and trailing silence.

    Frames of 10 ms whose level is ``threshold_db`` below the loudest frame count
    as silence; ``margin`` seconds are kept around the active part.

    Args:
        x: Signal ``[T]``.
        sr: Sample rate.
        threshold_db: Silence threshold relative to the loudest frame.
        margin: Seconds kept before the first and after the last active frame.

    Returns:
        The trimmed signal ``[T']``, empty if ``x`` is silent.
    """
    frame = max(1, sr // 100)
    level = _frame_rms_db(x, frame)
    if not np.isfinite(level.max()) or level.max() <= -100:
        return x[:0]
    active = np.nonzero(level > level.max() + threshold_db)[0]
    pad = int(margin * sr)
    start = max(0, active[0] * frame - pad)
    stop = min(len(x), (active[-1] + 1) * frame + pad)
    return x[start:stop]


def quietest_point(x: np.ndarray, sr: int, lo: float, hi: float) -> int:
    """Finds a good place to cut speech: the quietest 20 ms frame in a range.

    Args:
        x: Signal ``[T]``.
        sr: Sample rate.
        lo: Earliest cut time in seconds.
        hi: Latest cut time in seconds.

    Returns:
        Sample index of the cut (centre of the quietest frame), within
        ``[lo*sr, min(hi*sr, T)]``.
    """
    frame = max(1, sr // 50)
    start = int(lo * sr)
    stop = min(int(hi * sr), len(x))
    if stop - start <= frame:
        return max(min(stop, len(x)), 1)
    seg = x[start:stop].astype(np.float64) ** 2
    # Sliding-window energy (window = one frame) via cumulative sums.
    csum = np.concatenate([[0.0], np.cumsum(seg)])
    energy = csum[frame:] - csum[:-frame]
    return start + int(np.argmin(energy)) + frame // 2


def fade_edges(x: np.ndarray, sr: int, seconds: float = 0.01) -> np.ndarray:
    """Applies raised-cosine fades in and out, to avoid clicks at cuts.

    Args:
        x: Signal ``[T]``.
        sr: Sample rate.
        seconds: Fade length.

    Returns:
        Faded copy ``[T]``.
    """
    n = min(int(seconds * sr), len(x) // 2)
    y = np.array(x, dtype=np.float32, copy=True)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))).astype(np.float32)
        y[:n] *= ramp
        y[-n:] *= ramp[::-1]
    return y


def random_start(n_available: int, length: int, rng: np.random.Generator) -> int:
    """Draws a start offset for :func:`loop_segment`.

    Args:
        n_available: Length of the recording.
        length: Length of the wanted segment.
        rng: Random generator.

    Returns:
        An offset such that the segment fits without looping when it can.
    """
    if n_available >= length:
        return int(rng.integers(0, n_available - length + 1))
    return int(rng.integers(0, max(n_available, 1)))


def loop_segment(x: np.ndarray, length: int, start: int, sr: int) -> np.ndarray:
    """Takes ``length`` samples from ``start``, looping short recordings.

    Short recordings are repeated with 20 ms crossfades so that loops do not
    click.

    Args:
        x: Noise recording ``[N]``.
        length: Number of samples wanted.
        start: Offset into ``x`` (see :func:`random_start`).
        sr: Sample rate (crossfade length).

    Returns:
        ``[length]`` float32.
    """
    x = np.asarray(x, dtype=np.float32)
    if len(x) == 0:
        raise ValueError("empty noise recording")
    if start + length <= len(x):
        return x[start : start + length].copy()
    fade = min(int(0.02 * sr), len(x) // 4)
    out = np.array(x[start:], dtype=np.float32)
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32) if fade > 0 else None
    while len(out) < length:
        nxt = x.copy()
        if ramp is not None and len(out) >= fade:
            # Overlap-add the loop point: fade the tail out and the head in.
            out[-fade:] = out[-fade:] * ramp[::-1] + nxt[:fade] * ramp
            nxt = nxt[fade:]
        out = np.concatenate([out, nxt])
    return out[:length]


def colored_noise(length: int, color: str, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with a power-law spectrum (white, pink, brown, blue, violet).

    Args:
        length: Number of samples.
        color: One of :data:`COLORS`.
        rng: Random generator.

    Returns:
        ``[length]`` float32 with unit RMS.
    """
    if color not in _COLOR_EXPONENT:
        raise ValueError(f"unknown noise colour {color!r}; choose from {COLORS}")
    from scipy.fft import next_fast_len

    n = next_fast_len(length, real=True)  # prime lengths make FFTs slow
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n)
    freqs[0] = freqs[1] if n > 1 else 1.0  # no infinite gain at DC
    spectrum *= freqs ** (_COLOR_EXPONENT[color] / 2.0)
    y = np.fft.irfft(spectrum, n=n)[:length]
    y -= y.mean()
    return (y / max(np.sqrt(np.mean(y**2)), 1e-12)).astype(np.float32)


def babble(
    clips: list[np.ndarray], length: int, rng: np.random.Generator, sr: int
) -> np.ndarray:
    """Sums several speech clips, each at the same level, into babble noise.

    Each talker is placed at a random offset and looped to cover ``length``.

    Args:
        clips: Speech clips ``[T_i]`` (one per talker, at least one).
        length: Output length in samples.
        rng: Random generator.
        sr: Sample rate.

    Returns:
        ``[length]`` float32 with unit RMS.
    """
    if not clips:
        raise ValueError("babble needs at least one speech clip")
    out = np.zeros(length, dtype=np.float64)
    for clip in clips:
        seg = loop_segment(clip, length, random_start(len(clip), length, rng), sr)
        level = np.sqrt(np.mean(np.square(seg, dtype=np.float64)))
        if level > 0:
            out += seg / level
    out /= max(np.sqrt(np.mean(out**2)), 1e-12)
    return out.astype(np.float32)


def is_audible(x: np.ndarray, sr: int, min_active: float = 0.3) -> bool:
    """Says whether a noise segment has enough signal to set an SNR with.

    Args:
        x: Segment ``[T]``.
        sr: Sample rate.
        min_active: Fraction of 10 ms frames that must lie within 50 dB of the
            loudest one, and above -80 dBFS.

    Returns:
        True when usable.
    """
    level = _frame_rms_db(x, max(1, sr // 100))
    if level.max() < -80:
        return False
    active = (level > level.max() - 50) & (level > -80)
    return float(np.mean(active)) >= min_active
