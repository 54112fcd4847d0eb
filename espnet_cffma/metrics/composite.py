"""Loizou's composite quality measures CSIG, CBAK, COVL and their ingredients.

Hu & Loizou (2008) regress listener ratings of signal distortion (CSIG),
background intrusiveness (CBAK) and overall quality (COVL) on four objective
measures. The field reports them with the coefficients of Loizou's
``composite.m`` (not the paper's table)::

    CSIG = 3.093 - 1.029 LLR + 0.603 PESQ - 0.009 WSS
    CBAK = 1.634 + 0.478 PESQ - 0.007 WSS + 0.063 segSNR
    COVL = 1.594 + 0.805 PESQ - 0.512 LLR - 0.007 WSS

each clipped to [1, 5]. Conventions of ``composite.m`` kept here, since published
numbers depend on them:

* signals in [-1, 1] (as read from wav), ``eps`` (2.2e-16) added to both;
* 30 ms frames, hop = floor(frame / 4), a Hann window without zero end points,
  floor((T - frame) / hop) frames (the last full frame is not used);
* LLR with LPC order 16 (10 below 10 kHz), WSS with 25 Gaussian critical bands
  below 4 kHz and Klatt weights (Kmax = 20, Klocmax = 1); both averaged over the
  95 % lowest frames; segSNR clamped per frame to [-10, 35] dB, averaged over
  all frames;
* WSS's search for the nearest spectral peak to the right of a rising band
  stops one band short of the peak, as ``composite.m`` does.

PESQ is the ITU-T P.862.2 wide-band MOS-LQO from the ``pesq`` package
(narrow-band P.862.1 at 8 kHz), which is what every recent paper plugs in
(``composite.m`` itself used raw P.862 scores).

Everything here is a pure function of numpy arrays, vectorised over frames.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from espnet_cffma.metrics.validation import MetricInputError, check_pair

logger = logging.getLogger(__name__)

#: Fraction of frames (lowest values) that LLR and WSS average over.
ALPHA = 0.95
SEGSNR_MIN_DB = -10.0
SEGSNR_MAX_DB = 35.0
KMAX = 20.0
KLOCMAX = 1.0
#: MATLAB's eps, added to both signals and inside segSNR's logarithm.
EPS = float(np.finfo(np.float64).eps)

# Critical bands (Hz) of composite.m's WSS, after Klatt (1982).
_CENT_FREQ = np.array(
    [
        50.0, 120.0, 190.0, 260.0, 330.0, 400.0, 470.0, 540.0, 617.372,
        703.378, 798.717, 904.128, 1020.38, 1148.30, 1288.72, 1442.54,
        1610.70, 1794.16, 1993.93, 2211.08, 2446.71, 2701.97, 2978.04,
        3276.17, 3597.63,
    ]
)  # fmt: skip
_BANDWIDTH = np.array(
    [
        70.0, 70.0, 70.0, 70.0, 70.0, 70.0, 70.0, 77.3724, 86.0056, 95.3398,
        105.411, 116.256, 127.914, 140.423, 153.823, 168.154, 183.457,
        199.776, 217.153, 235.631, 255.255, 276.072, 298.126, 321.465,
        346.136,
    ]
)  # fmt: skip

COMPOSITE_KEYS = ("csig", "cbak", "covl", "pesq", "llr", "wss", "segsnr")


# ----------------------------------------------------------------------------
# Framing
# ----------------------------------------------------------------------------


def frame_params(fs: int) -> tuple[int, int]:
    """Frame length and hop in samples (30 ms, 75 % overlap).

    Args:
        fs: Sampling rate in Hz.

    Returns:
        (win, hop): e.g. (480, 120) at 16 kHz.
    """
    win = int(np.round(0.030 * fs))
    return win, win // 4


def num_frames(n_samples: int, fs: int) -> int:
    """Number of analysis frames ``composite.m`` uses for a signal of this length."""
    win, hop = frame_params(fs)
    return max(int(math.floor(n_samples / hop - win / hop)), 0)


def hann(win: int) -> np.ndarray:
    """Hann window without zero end points (MATLAB ``hanning``), shape [win]."""
    k = np.arange(1, win + 1)
    return 0.5 * (1.0 - np.cos(2.0 * np.pi * k / (win + 1)))


def _windowed_frames(x: np.ndarray, fs: int) -> np.ndarray:
    """Cut ``x`` [T] into Hann-windowed frames [F, win]."""
    win, hop = frame_params(fs)
    n = num_frames(x.size, fs)
    view = np.lib.stride_tricks.sliding_window_view(x, win)[::hop][:n]
    return view * hann(win)


def _check_frames(x: np.ndarray, fs: int, utt_id: str | None) -> None:
    if fs < 8000:
        raise MetricInputError(
            f"sampling rate {fs} Hz is below 8 kHz; the critical bands reach 3.8 kHz"
        )
    if num_frames(x.size, fs) < 1:
        win, hop = frame_params(fs)
        where = f" (utterance {utt_id!r})" if utt_id else ""
        raise MetricInputError(
            f"signal{where} has {x.size} samples; frame-based measures need at "
            f"least {win + hop} ({(win + hop) / fs * 1000:.0f} ms) at {fs} Hz"
        )


def _mean_lowest(values: np.ndarray, alpha: float = ALPHA) -> float:
    """Mean of the round(alpha * F) smallest values (MATLAB rounding)."""
    k = int(math.floor(values.size * alpha + 0.5))
    return float(np.mean(np.sort(values)[: max(k, 1)]))


# ----------------------------------------------------------------------------
# LPC and LLR
# ----------------------------------------------------------------------------


def lpc_order(fs: int) -> int:
    """LPC order of the LLR measure: 10 below 10 kHz, else 16."""
    return 10 if fs < 10000 else 16


def autocorrelation(frames: np.ndarray, order: int) -> np.ndarray:
    """Biased (unnormalised) autocorrelation lags 0..order of each frame.

    Args:
        frames: [F, N] windowed frames.
        order: Highest lag.

    Returns:
        np.ndarray: [F, order + 1].
    """
    n = frames.shape[-1]
    # Zero-padding to >= N + order makes the circular correlation linear.
    n_fft = 1 << int(math.ceil(math.log2(n + order + 1)))
    spec = np.fft.rfft(frames, n_fft, axis=-1)
    return np.fft.irfft(spec.real**2 + spec.imag**2, n_fft, axis=-1)[..., : order + 1]


def levinson(r: np.ndarray) -> np.ndarray:
    """Levinson-Durbin recursion, batched over frames.

    Solves the normal equations of linear prediction so that the prediction
    error filter A(z) = 1 + a_1 z^-1 + ... + a_p z^-p is minimum-phase.

    Args:
        r: [F, p + 1] autocorrelation lags.

    Returns:
        np.ndarray: [F, p + 1] coefficients ``[1, a_1, ..., a_p]``.
    """
    r = np.atleast_2d(r)
    n_frames, p1 = r.shape
    a = np.zeros((n_frames, p1))
    a[:, 0] = 1.0
    err = r[:, 0].copy()
    tiny = np.finfo(np.float64).tiny
    for i in range(1, p1):
        acc = np.einsum("fj,fj->f", a[:, :i], r[:, i:0:-1])
        # Guard against a zero prediction error (all-zero or perfectly
        # predictable frames), which would otherwise give inf/NaN.
        k = -acc / np.maximum(err, tiny)
        a[:, 1 : i + 1] = a[:, 1 : i + 1] + k[:, None] * a[:, i - 1 :: -1][:, :i]
        err = err * (1.0 - k * k)
    return a


def toeplitz_quadratic(a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``a @ toeplitz(r) @ a.T`` for each frame: the prediction error energy.

    Args:
        a: [F, p + 1] filter coefficients.
        r: [F, p + 1] autocorrelation lags.

    Returns:
        np.ndarray: [F].
    """
    p1 = r.shape[-1]
    idx = np.abs(np.arange(p1)[:, None] - np.arange(p1)[None, :])
    return np.einsum("fi,fij,fj->f", a, r[:, idx], a)


_silence_warnings = 0


def _warn_digital_silence(ref: np.ndarray, fs: int, utt_id: str | None) -> None:
    """Warn when > 5 % of the reference's frames are exact zeros.

    Such frames become eps * window (composite.m adds eps), which an order-16
    predictor fits almost perfectly: their LLR is ~25, and once they exceed the
    5 % that the average drops, they inflate LLR and lower CSIG/COVL. Recorded
    corpora have a noise floor; synthetic references should get one too.
    """
    global _silence_warnings
    win, hop = frame_params(fs)
    n = num_frames(ref.size, fs)
    frames = np.lib.stride_tricks.sliding_window_view(ref, win)[::hop][:n]
    share = float(np.mean(~frames.any(axis=-1)))
    if share <= 1.0 - ALPHA:
        return
    _silence_warnings += 1
    level = logging.WARNING if _silence_warnings <= 5 else logging.DEBUG
    logger.log(
        level,
        "utterance %r: %.0f%% of reference frames are digital silence; LLR "
        "(and CSIG/COVL) follow composite.m's eps convention there and are "
        "pessimistic. Add a noise floor to synthetic references.%s",
        utt_id,
        100 * share,
        " (further warnings of this kind at DEBUG level)"
        if _silence_warnings == 5
        else "",
    )


def _llr_frames(ref: np.ndarray, deg: np.ndarray, fs: int) -> np.ndarray:
    order = lpc_order(fs)
    r_ref = autocorrelation(_windowed_frames(ref, fs), order)
    r_deg = autocorrelation(_windowed_frames(deg, fs), order)
    a_ref, a_deg = levinson(r_ref), levinson(r_deg)
    # Both filters are scored on the reference's autocorrelation: how much
    # worse the degraded signal's all-pole model predicts the clean frame.
    num = toeplitz_quadratic(a_deg, r_ref)
    den = toeplitz_quadratic(a_ref, r_ref)
    return np.log(num / den)


def llr_frames(ref, deg, fs: int, utt_id: str | None = None) -> np.ndarray:
    """Per-frame log-likelihood ratio log(a_d R_r a_d^T / a_r R_r a_r^T).

    Args:
        ref: Reference signal [T], float in [-1, 1].
        deg: Degraded signal [T].
        fs: Sampling rate in Hz (>= 8000).
        utt_id: Utterance id for error messages.

    Returns:
        np.ndarray: [F] LLR of each frame (>= 0 up to rounding).
    """
    ref, deg = check_pair(ref, deg, fs, utt_id)
    _check_frames(ref, fs, utt_id)
    _warn_digital_silence(ref, fs, utt_id)
    return _llr_frames(ref + EPS, deg + EPS, fs)


def llr(ref, deg, fs: int, utt_id: str | None = None) -> float:
    """Log-likelihood ratio averaged over the 95 % lowest frames.

    Args:
        ref: Reference signal [T], float in [-1, 1].
        deg: Degraded signal [T].
        fs: Sampling rate in Hz (>= 8000).
        utt_id: Utterance id for error messages.

    Returns:
        float: LLR (0 for identical signals).
    """
    return _mean_lowest(llr_frames(ref, deg, fs, utt_id))


# ----------------------------------------------------------------------------
# Weighted spectral slope
# ----------------------------------------------------------------------------


def wss_params(fs: int) -> tuple[int, np.ndarray]:
    """FFT size and critical-band filterbank of the WSS measure.

    Args:
        fs: Sampling rate in Hz.

    Returns:
        (n_fft, filters): n_fft = next power of two >= 2 * frame length;
        filters [25, n_fft // 2] Gaussian band weights on FFT bins
        0 .. n_fft/2 - 1, cut below -30 dB.
    """
    win, _ = frame_params(fs)
    n_fft = 1 << int(math.ceil(math.log2(2 * win)))
    half = n_fft // 2
    nyquist = fs / 2.0
    f0 = np.floor(_CENT_FREQ / nyquist * half)[:, None]
    bw = (_BANDWIDTH / nyquist * half)[:, None]
    # Equal-area scaling relative to the narrowest band.
    norm = np.log(_BANDWIDTH[0]) - np.log(_BANDWIDTH)[:, None]
    bins = np.arange(half)[None, :]
    filters = np.exp(-11.0 * ((bins - f0) / bw) ** 2 + norm)
    min_factor = math.exp(-30.0 / (2.0 * 2.303))
    return n_fft, np.where(filters > min_factor, filters, 0.0)


def _band_energies_db(frames: np.ndarray, n_fft: int, filters: np.ndarray):
    spec = np.fft.rfft(frames, n_fft, axis=-1)[:, : n_fft // 2]
    power = spec.real**2 + spec.imag**2
    # einsum, not BLAS: a multithreaded matmul this small is slower on a busy
    # machine than numpy's own loop.
    energy = np.einsum("fk,bk->fb", power, filters)
    return 10.0 * np.log10(np.maximum(energy, 1e-10))


def _nearest_peaks(energy: np.ndarray, slope: np.ndarray) -> np.ndarray:
    """Level of the nearest spectral peak for each band, as composite.m finds it.

    Rising band i (slope > 0): walk right to the first band n >= i whose slope
    is <= 0 (or the last band) and take the energy of band n - 1. Falling band:
    walk left to the last band n <= i with rising slope and take band n + 1.

    Args:
        energy: [F, B] band energies (dB).
        slope: [F, B - 1] energy differences between neighbouring bands.

    Returns:
        np.ndarray: [F, B - 1].
    """
    n_frames, n_slopes = slope.shape
    rising = slope > 0
    rows = np.arange(n_frames)
    # next_stop[:, i]: first n >= i with slope <= 0, or n_slopes if none.
    next_stop = np.empty((n_frames, n_slopes), dtype=np.int64)
    nxt = np.full(n_frames, n_slopes)
    for i in range(n_slopes - 1, -1, -1):
        nxt = np.where(rising[:, i], nxt, i)
        next_stop[:, i] = nxt
    # last_rise[:, i]: last n <= i with slope > 0, or -1 if none.
    last_rise = np.empty((n_frames, n_slopes), dtype=np.int64)
    prv = np.full(n_frames, -1)
    for i in range(n_slopes):
        prv = np.where(rising[:, i], i, prv)
        last_rise[:, i] = prv
    idx = np.where(rising, next_stop - 1, last_rise + 1)
    return energy[rows[:, None], idx]


def _wss_frames(ref: np.ndarray, deg: np.ndarray, fs: int) -> np.ndarray:
    n_fft, filters = wss_params(fs)
    e_ref = _band_energies_db(_windowed_frames(ref, fs), n_fft, filters)
    e_deg = _band_energies_db(_windowed_frames(deg, fs), n_fft, filters)
    s_ref, s_deg = np.diff(e_ref, axis=-1), np.diff(e_deg, axis=-1)

    def weights(energy, slope):
        # Klatt: emphasise bands near the global maximum and near local peaks.
        e = energy[:, :-1]
        w_max = KMAX / (KMAX + energy.max(axis=-1, keepdims=True) - e)
        w_loc = KLOCMAX / (KLOCMAX + _nearest_peaks(energy, slope) - e)
        return w_max * w_loc

    w = 0.5 * (weights(e_ref, s_ref) + weights(e_deg, s_deg))
    return np.sum(w * (s_ref - s_deg) ** 2, axis=-1) / np.sum(w, axis=-1)


def wss_frames(ref, deg, fs: int, utt_id: str | None = None) -> np.ndarray:
    """Per-frame weighted spectral slope distance.

    Args:
        ref: Reference signal [T], float in [-1, 1].
        deg: Degraded signal [T].
        fs: Sampling rate in Hz (>= 8000).
        utt_id: Utterance id for error messages.

    Returns:
        np.ndarray: [F] WSS of each frame.
    """
    ref, deg = check_pair(ref, deg, fs, utt_id)
    _check_frames(ref, fs, utt_id)
    return _wss_frames(ref + EPS, deg + EPS, fs)


def wss(ref, deg, fs: int, utt_id: str | None = None) -> float:
    """Weighted spectral slope averaged over the 95 % lowest frames.

    Args:
        ref: Reference signal [T], float in [-1, 1].
        deg: Degraded signal [T].
        fs: Sampling rate in Hz (>= 8000).
        utt_id: Utterance id for error messages.

    Returns:
        float: WSS (0 for identical signals).
    """
    return _mean_lowest(wss_frames(ref, deg, fs, utt_id))


# ----------------------------------------------------------------------------
# Segmental SNR
# ----------------------------------------------------------------------------


def _segsnr_frames(ref: np.ndarray, deg: np.ndarray, fs: int) -> np.ndarray:
    f_ref = _windowed_frames(ref, fs)
    f_deg = _windowed_frames(deg, fs)
    signal = np.sum(f_ref**2, axis=-1)
    noise = np.sum((f_ref - f_deg) ** 2, axis=-1)
    snr = 10.0 * np.log10(signal / (noise + EPS) + EPS)
    return np.clip(snr, SEGSNR_MIN_DB, SEGSNR_MAX_DB)


def segsnr_frames(ref, deg, fs: int, utt_id: str | None = None) -> np.ndarray:
    """Per-frame SNR in dB, clamped to [-10, 35].

    Args:
        ref: Reference signal [T], float in [-1, 1].
        deg: Degraded signal [T].
        fs: Sampling rate in Hz (>= 8000).
        utt_id: Utterance id for error messages.

    Returns:
        np.ndarray: [F].
    """
    ref, deg = check_pair(ref, deg, fs, utt_id)
    _check_frames(ref, fs, utt_id)
    return _segsnr_frames(ref + EPS, deg + EPS, fs)


def segsnr(ref, deg, fs: int, utt_id: str | None = None) -> float:
    """Segmental SNR (dB): mean over all frames of the clamped frame SNR.

    Args:
        ref: Reference signal [T], float in [-1, 1].
        deg: Degraded signal [T].
        fs: Sampling rate in Hz (>= 8000).
        utt_id: Utterance id for error messages.

    Returns:
        float: segSNR in [-10, 35].
    """
    return float(np.mean(segsnr_frames(ref, deg, fs, utt_id)))


# ----------------------------------------------------------------------------
# PESQ
# ----------------------------------------------------------------------------


def _pesq(ref: np.ndarray, deg: np.ndarray, fs: int, mode: str, utt_id) -> float:
    from pesq import PesqError, pesq

    if not np.any(ref) and not np.any(deg):
        logger.warning("PESQ: utterance %r: both signals are all zeros -> NaN", utt_id)
        return float("nan")
    try:
        return float(pesq(fs, ref, deg, mode))
    except PesqError as exc:
        # NoUtterancesError (silence / no speech found), BufferTooShortError, ...
        logger.warning(
            "PESQ: utterance %r: %s (%s) -> NaN", utt_id, type(exc).__name__, exc
        )
        return float("nan")


def pesq_wb(ref, deg, fs: int = 16000, utt_id: str | None = None) -> float:
    """Wide-band PESQ (ITU-T P.862.2 MOS-LQO) via the ``pesq`` package.

    Args:
        ref: Reference signal [T] at 16 kHz.
        deg: Degraded signal [T].
        fs: Must be 16000 (resample beforehand; wide-band PESQ is only
            defined at 16 kHz).
        utt_id: Utterance id for warnings and errors.

    Returns:
        float: MOS-LQO in about [1.04, 4.64]; NaN (with a logged warning naming
        the utterance) when PESQ finds no speech or the signal is too short.
    """
    ref, deg = check_pair(ref, deg, fs, utt_id)
    if fs != 16000:
        raise MetricInputError(
            f"wide-band PESQ needs 16 kHz audio, got {fs} Hz"
            + (f" (utterance {utt_id!r})" if utt_id else "")
            + "; resample first, or use pesq_nb at 8 kHz"
        )
    return _pesq(ref, deg, fs, "wb", utt_id)


def pesq_nb(ref, deg, fs: int = 8000, utt_id: str | None = None) -> float:
    """Narrow-band PESQ (P.862.1 MOS-LQO) at 8 kHz; NaN on PESQ errors.

    Args:
        ref: Reference signal [T] at 8 kHz.
        deg: Degraded signal [T].
        fs: Must be 8000.
        utt_id: Utterance id for warnings and errors.

    Returns:
        float: MOS-LQO, or NaN with a logged warning.
    """
    ref, deg = check_pair(ref, deg, fs, utt_id)
    if fs != 8000:
        raise MetricInputError(
            f"narrow-band PESQ here is for 8 kHz audio, got {fs} Hz"
            + (f" (utterance {utt_id!r})" if utt_id else "")
        )
    return _pesq(ref, deg, fs, "nb", utt_id)


# ----------------------------------------------------------------------------
# Composite
# ----------------------------------------------------------------------------


def composite_from_parts(
    pesq: float, llr: float, wss: float, segsnr: float
) -> dict[str, float]:
    """Apply composite.m's regressions to precomputed measures.

    Args:
        pesq: PESQ MOS-LQO.
        llr: LLR (95 % lowest frames).
        wss: WSS (95 % lowest frames).
        segsnr: Segmental SNR in dB.

    Returns:
        dict: ``csig``, ``cbak``, ``covl`` clipped to [1, 5] (NaN if PESQ is).
    """
    csig = 3.093 - 1.029 * llr + 0.603 * pesq - 0.009 * wss
    cbak = 1.634 + 0.478 * pesq - 0.007 * wss + 0.063 * segsnr
    covl = 1.594 + 0.805 * pesq - 0.512 * llr - 0.007 * wss
    return {
        "csig": float(np.clip(csig, 1.0, 5.0)),
        "cbak": float(np.clip(cbak, 1.0, 5.0)),
        "covl": float(np.clip(covl, 1.0, 5.0)),
    }


def composite(
    ref,
    deg,
    fs: int = 16000,
    utt_id: str | None = None,
    length_mismatch: str = "error",
) -> dict[str, float]:
    """CSIG, CBAK, COVL and the measures they are built from.

    Args:
        ref: Reference (clean) signal [T], float in [-1, 1] (or PCM ints).
        deg: Degraded (noisy/enhanced) signal [T].
        fs: 16000 (PESQ-WB) or 8000 (PESQ-NB).
        utt_id: Utterance id for warnings and errors.
        length_mismatch: ``"error"`` (default) or ``"trim"`` to the shorter
            signal with a warning.

    Returns:
        dict with keys ``csig``, ``cbak``, ``covl`` (in [1, 5]), ``pesq``,
        ``llr``, ``wss``, ``segsnr``. If PESQ fails (no speech found) it and the
        three composite values are NaN; a warning names the utterance.
    """
    ref, deg = check_pair(ref, deg, fs, utt_id, length_mismatch)
    if fs not in (8000, 16000):
        raise MetricInputError(
            f"composite measures need 16 kHz (PESQ-WB) or 8 kHz (PESQ-NB) audio, "
            f"got {fs} Hz" + (f" (utterance {utt_id!r})" if utt_id else "")
        )
    _check_frames(ref, fs, utt_id)
    _warn_digital_silence(ref, fs, utt_id)
    mode = "wb" if fs == 16000 else "nb"
    pesq_value = _pesq(ref, deg, fs, mode, utt_id)
    ref_e, deg_e = ref + EPS, deg + EPS
    parts = {
        "pesq": pesq_value,
        "llr": _mean_lowest(_llr_frames(ref_e, deg_e, fs)),
        "wss": _mean_lowest(_wss_frames(ref_e, deg_e, fs)),
        "segsnr": float(np.mean(_segsnr_frames(ref_e, deg_e, fs))),
    }
    return {**composite_from_parts(**parts), **parts}
