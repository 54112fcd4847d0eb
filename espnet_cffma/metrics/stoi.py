"""STOI and extended STOI through ``pystoi`` (the implementation ESPnet scores with)."""

from __future__ import annotations

from espnet_cffma.metrics.validation import check_pair


def stoi(ref, deg, fs: int, utt_id: str | None = None) -> float:
    """Short-time objective intelligibility (Taal et al., 2011).

    Args:
        ref: Reference signal [T].
        deg: Degraded signal [T] (same length).
        fs: Sampling rate in Hz (pystoi resamples to 10 kHz internally).
        utt_id: Utterance id for error messages.

    Returns:
        float: STOI in [0, 1] (ESPnet's score files show it x100).
    """
    from pystoi import stoi as _stoi

    ref, deg = check_pair(ref, deg, fs, utt_id)
    return float(_stoi(ref, deg, fs, extended=False))


def estoi(ref, deg, fs: int, utt_id: str | None = None) -> float:
    """Extended STOI (Jensen & Taal, 2016), robust to modulated noise.

    Args:
        ref: Reference signal [T].
        deg: Degraded signal [T] (same length).
        fs: Sampling rate in Hz.
        utt_id: Utterance id for error messages.

    Returns:
        float: ESTOI, at most 1 (ESPnet's score files show it x100).
    """
    from pystoi import stoi as _stoi

    ref, deg = check_pair(ref, deg, fs, utt_id)
    return float(_stoi(ref, deg, fs, extended=True))
