"""Input checks shared by every metric: one mono float pair, same rate, finite.

Metrics silently produce nonsense on stereo files, int16 scaling, NaN samples or
misaligned lengths, so every public metric function runs its inputs through
:func:`check_pair` first and fails with a message naming the utterance.
"""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger(__name__)

LENGTH_POLICIES = ("error", "trim")


class MetricInputError(ValueError):
    """A reference/degraded pair that cannot be scored as given."""


def _where(utt_id: str | None) -> str:
    return f" (utterance {utt_id!r})" if utt_id else ""


def check_signal(x, name: str, utt_id: str | None = None) -> np.ndarray:
    """Return ``x`` as a 1-D float64 array, or raise :class:`MetricInputError`.

    Integer arrays are scaled to [-1, 1) as soundfile does for PCM (the
    composite measures assume that scale: WSS floors band energies at 1e-10).
    A ``[T, 1]`` or ``[1, T]`` array is accepted as mono.

    Args:
        x: Signal, array-like of shape [T] (or [T, 1] / [1, T]).
        name: What the signal is ("reference", "degraded"), for messages.
        utt_id: Utterance id, for messages.

    Returns:
        np.ndarray: [T] float64.
    """
    arr = np.asarray(x)
    where = _where(utt_id)
    if arr.dtype.kind in "iu":
        # PCM integers: full scale is 2**(bits-1), as soundfile reads them.
        arr = arr.astype(np.float64) / float(2 ** (8 * arr.dtype.itemsize - 1))
    elif arr.dtype.kind not in "f":
        raise MetricInputError(
            f"{name} signal{where} has dtype {arr.dtype}; expected float or PCM int"
        )
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise MetricInputError(
            f"{name} signal{where} has shape {arr.shape}; expected mono [T] "
            "(select one channel of a multichannel file first)"
        )
    if arr.size == 0:
        raise MetricInputError(f"{name} signal{where} is empty")
    bad = ~np.isfinite(arr)
    if bad.any():
        raise MetricInputError(
            f"{name} signal{where} has {int(bad.sum())} NaN/Inf samples "
            f"(first at sample {int(np.argmax(bad))})"
        )
    return arr.astype(np.float64, copy=False)


def check_pair(
    ref,
    deg,
    fs: int,
    utt_id: str | None = None,
    length_mismatch: str = "error",
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a reference/degraded pair and return them as float64 [T] arrays.

    Args:
        ref: Reference (clean) signal [T].
        deg: Degraded (noisy or enhanced) signal [T'].
        fs: Sampling rate in Hz (must be a positive integer).
        utt_id: Utterance id, for messages.
        length_mismatch: ``"error"`` (default) raises when T != T';
            ``"trim"`` cuts both to the shorter length with a warning (what
            Loizou's ``composite.m`` does silently).

    Returns:
        (ref, deg): two float64 arrays of equal length [min(T, T')].
    """
    where = _where(utt_id)
    if length_mismatch not in LENGTH_POLICIES:
        raise ValueError(
            f"length_mismatch must be one of {LENGTH_POLICIES}, got {length_mismatch!r}"
        )
    if isinstance(fs, bool) or not isinstance(fs, (int, np.integer)) or fs <= 0:
        raise MetricInputError(
            f"sampling rate{where} must be a positive int, got {fs!r}"
        )
    ref = check_signal(ref, "reference", utt_id)
    deg = check_signal(deg, "degraded", utt_id)
    if ref.size != deg.size:
        diff = deg.size - ref.size
        msg = (
            f"length mismatch{where}: reference has {ref.size} samples, degraded "
            f"{deg.size} ({diff:+d} samples, {diff / fs * 1000:+.1f} ms)"
        )
        if length_mismatch == "error":
            raise MetricInputError(msg + "; pass length_mismatch='trim' to cut")
        logger.warning("%s; trimming both to %d", msg, min(ref.size, deg.size))
        n = min(ref.size, deg.size)
        ref, deg = ref[:n], deg[:n]
    return ref, deg
