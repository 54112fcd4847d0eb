"""Tests of Loizou's composite measures (espnet_cffma.metrics.composite).

Known answers on synthetic signals, the LLR of two AR processes against its
closed form, and agreement with a second, loop-based implementation of the
same published formulas written here (per-frame loops, scipy's Toeplitz solver
for LPC, its own critical-band filterbank and peak search).
"""

import logging
import math

import numpy as np
import pytest
from pesq import pesq as pesq_package
from scipy.linalg import solve_toeplitz, toeplitz
from scipy.signal import lfilter

from espnet_cffma.metrics import composite as C
from espnet_cffma.metrics.validation import MetricInputError

FS = 16000

# ---------------------------------------------------------------------------
# Synthetic speech-like signals
# ---------------------------------------------------------------------------

_VOWELS = [(730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480)]


def _formants(x, formants, fs):
    for f, bw in zip(formants, (80, 100, 140)):
        r = math.exp(-math.pi * bw / fs)
        x = lfilter([1 - r], [1, -2 * r * math.cos(2 * math.pi * f / fs), r * r], x)
    return x


def speech_like(seconds=3.0, fs=FS, seed=0):
    """Pulse train through moving vowel formants, 4 Hz syllables, pauses."""
    rng = np.random.default_rng(seed)
    n = int(seconds * fs)
    t = np.arange(n) / fs
    f0 = 130 + 40 * np.sin(2 * np.pi * 0.6 * t + rng.uniform(0, 6))
    pulses = np.diff(np.floor(np.cumsum(f0) / fs), prepend=0.0)
    exc = lfilter([1.0], [1, -0.9], pulses) + 0.02 * rng.standard_normal(n)
    voiced = [_formants(exc, v, fs) for v in _VOWELS]
    syl = (t * 4).astype(int)
    y = np.choose(rng.integers(0, len(_VOWELS), syl.max() + 1)[syl], voiced)
    env = np.clip(np.sin(np.pi * (t * 4 % 1)), 0, 1) ** 0.7
    env *= (rng.random(syl.max() + 1) > 0.15)[syl]
    y = y * lfilter(np.ones(64) / 64, [1], env)
    y = 0.5 * y / np.max(np.abs(y))
    # A noise floor: no digital silence, as in recorded speech.
    return y + 1e-4 * rng.standard_normal(n)


def add_noise(x, snr_db, seed=1, noise=None):
    rng = np.random.default_rng(seed)
    n = rng.standard_normal(x.size) if noise is None else noise[: x.size]
    n = n * math.sqrt(np.sum(x**2) / np.sum(n**2)) * 10 ** (-snr_db / 20)
    return x + n


# ---------------------------------------------------------------------------
# Independent reference implementation (deliberately loop-based)
# ---------------------------------------------------------------------------

_CF = [50, 120, 190, 260, 330, 400, 470, 540, 617.372, 703.378, 798.717, 904.128,
       1020.38, 1148.30, 1288.72, 1442.54, 1610.70, 1794.16, 1993.93, 2211.08,
       2446.71, 2701.97, 2978.04, 3276.17, 3597.63]  # fmt: skip
_BW = [70, 70, 70, 70, 70, 70, 70, 77.3724, 86.0056, 95.3398, 105.411, 116.256,
       127.914, 140.423, 153.823, 168.154, 183.457, 199.776, 217.153, 235.631,
       255.255, 276.072, 298.126, 321.465, 346.136]  # fmt: skip


def ref_frames(x, fs):
    win = int(round(0.03 * fs))
    hop = win // 4
    window = np.hanning(win + 2)[1:-1]  # MATLAB hanning(win): no zero ends
    count = int(len(x) / hop - win / hop)
    return [x[i * hop : i * hop + win] * window for i in range(count)]


def ref_lpc(frame, order):
    r = np.array([np.dot(frame[: len(frame) - k], frame[k:]) for k in range(order + 1)])
    return r, np.concatenate([[1.0], -solve_toeplitz(r[:order], r[1:])])


def ref_llr_frames(x, y, fs):
    order = 10 if fs < 10000 else 16
    out = []
    for fx, fy in zip(ref_frames(x, fs), ref_frames(y, fs)):
        rx, ax = ref_lpc(fx, order)
        _, ay = ref_lpc(fy, order)
        rmat = toeplitz(rx)
        out.append(math.log((ay @ rmat @ ay) / (ax @ rmat @ ax)))
    return np.array(out)


def ref_filterbank(fs):
    win = int(round(0.03 * fs))
    n_fft = 2 ** math.ceil(math.log2(2 * win))
    half = n_fft // 2
    bank = np.zeros((25, half))
    for b in range(25):
        centre = math.floor(_CF[b] / (fs / 2) * half)
        width = _BW[b] / (fs / 2) * half
        for j in range(half):
            g = (_BW[0] / _BW[b]) * math.exp(-11 * ((j - centre) / width) ** 2)
            bank[b, j] = g if g > math.exp(-30 / (2 * 2.303)) else 0.0
    return n_fft, bank


def ref_peak(energy, slope, i):
    """composite.m's nearest-peak search, literally (0-based)."""
    n = i
    if slope[i] > 0:
        while n < len(slope) and slope[n] > 0:
            n += 1
        return energy[n - 1]
    while n >= 0 and slope[n] <= 0:
        n -= 1
    return energy[n + 1]


def ref_wss_frames(x, y, fs):
    n_fft, bank = ref_filterbank(fs)
    half = n_fft // 2
    out = []
    for fx, fy in zip(ref_frames(x, fs), ref_frames(y, fs)):
        e, s, w = {}, {}, {}
        for name, frame in (("x", fx), ("y", fy)):
            power = np.abs(np.fft.fft(frame, n_fft)[:half]) ** 2
            energy = [
                10 * math.log10(max(np.sum(power * bank[b]), 1e-10)) for b in range(25)
            ]
            slope = [energy[b + 1] - energy[b] for b in range(24)]
            top = max(energy)
            w[name] = [
                20
                / (20 + top - energy[b])
                / (1 + ref_peak(energy, slope, b) - energy[b])
                for b in range(24)
            ]
            e[name], s[name] = energy, slope
        weights = [(a + b) / 2 for a, b in zip(w["x"], w["y"])]
        dist = sum(wb * (a - b) ** 2 for wb, a, b in zip(weights, s["x"], s["y"]))
        out.append(dist / sum(weights))
    return np.array(out)


def ref_segsnr_frames(x, y, fs):
    eps = np.finfo(float).eps
    out = []
    for fx, fy in zip(ref_frames(x, fs), ref_frames(y, fs)):
        snr = 10 * math.log10(np.sum(fx**2) / (np.sum((fx - fy) ** 2) + eps) + eps)
        out.append(min(max(snr, -10), 35))
    return np.array(out)


def ref_composite(x, y, fs=FS):
    eps = np.finfo(float).eps
    n = min(len(x), len(y))
    x, y = x[:n] + eps, y[:n] + eps

    def lowest(v):
        v = np.sort(v)
        return float(np.mean(v[: int(len(v) * 0.95 + 0.5)]))

    llr_v = lowest(ref_llr_frames(x, y, fs))
    wss_v = lowest(ref_wss_frames(x, y, fs))
    seg = float(np.mean(ref_segsnr_frames(x, y, fs)))
    p = pesq_package(fs, x, y, "wb")
    return {
        "csig": min(max(3.093 - 1.029 * llr_v + 0.603 * p - 0.009 * wss_v, 1), 5),
        "cbak": min(max(1.634 + 0.478 * p - 0.007 * wss_v + 0.063 * seg, 1), 5),
        "covl": min(max(1.594 + 0.805 * p - 0.512 * llr_v - 0.007 * wss_v, 1), 5),
        "pesq": p,
        "llr": llr_v,
        "wss": wss_v,
        "segsnr": seg,
    }


# ---------------------------------------------------------------------------
# Known answers
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean():
    return speech_like(3.0, seed=0)


def test_identical_signals(clean):
    out = C.composite(clean, clean, FS)
    assert set(out) == set(C.COMPOSITE_KEYS)
    assert abs(out["llr"]) < 1e-9
    assert abs(out["wss"]) < 1e-9
    assert out["segsnr"] == 35.0
    assert out["pesq"] == pytest.approx(4.644, abs=0.01)
    # Unclipped: CSIG 5.89, CBAK 6.06, COVL 5.33: all clip to 5.
    p = out["pesq"]
    assert 3.093 + 0.603 * p > 5.8
    assert 1.634 + 0.478 * p + 0.063 * 35 > 6.0
    assert 1.594 + 0.805 * p > 5.3
    assert (out["csig"], out["cbak"], out["covl"]) == (5.0, 5.0, 5.0)


def test_composite_formulas_and_clipping():
    out = C.composite_from_parts(pesq=2.5, llr=0.8, wss=40.0, segsnr=5.0)
    assert out["csig"] == pytest.approx(3.093 - 1.029 * 0.8 + 0.603 * 2.5 - 0.36)
    assert out["cbak"] == pytest.approx(1.634 + 0.478 * 2.5 - 0.28 + 0.315)
    assert out["covl"] == pytest.approx(1.594 + 0.805 * 2.5 - 0.512 * 0.8 - 0.28)
    low = C.composite_from_parts(pesq=1.0, llr=3.0, wss=120.0, segsnr=-10.0)
    assert (low["csig"], low["cbak"], low["covl"]) == (1.0, 1.0, 1.0)
    nan = C.composite_from_parts(pesq=math.nan, llr=0.5, wss=30.0, segsnr=3.0)
    assert all(math.isnan(nan[k]) for k in ("csig", "cbak", "covl"))


def test_scaled_copy_has_known_segsnr_and_zero_distortion(clean):
    # deg = 0.5 ref: error = 0.5 ref in every frame, so SNR = 20 log10(2) exactly;
    # LPC and spectral slopes are scale invariant.
    assert C.segsnr(clean, 0.5 * clean, FS) == pytest.approx(
        20 * math.log10(2), abs=1e-9
    )
    assert abs(C.llr(clean, 0.5 * clean, FS)) < 1e-9
    assert abs(C.wss(clean, 0.5 * clean, FS)) < 1e-6
    assert C.segsnr(clean, 0.999 * clean, FS) == 35.0  # 60 dB clamps to 35


def test_pure_noise_scores_at_the_floor(clean):
    noise = np.random.default_rng(3).standard_normal(clean.size) * np.std(clean) * 10
    out = C.composite(clean, noise, FS)
    assert out["segsnr"] < -9.9
    assert out["pesq"] < 1.3
    assert out["llr"] > 1.5 and out["wss"] > 50
    assert out["csig"] == 1.0 and out["covl"] == 1.0
    assert out["cbak"] < 1.2


def test_scores_fall_with_snr(clean):
    rows = [C.composite(clean, add_noise(clean, snr), FS) for snr in (30, 15, 0)]
    for key in ("pesq", "cbak", "segsnr"):
        assert rows[0][key] > rows[1][key] > rows[2][key], key
    for key in ("llr", "wss"):
        assert rows[0][key] < rows[1][key] < rows[2][key], key


# ---------------------------------------------------------------------------
# LPC and LLR
# ---------------------------------------------------------------------------


def test_levinson_matches_toeplitz_solver():
    rng = np.random.default_rng(0)
    frames = lfilter([1], [1, -0.9, 0.5], rng.standard_normal((8, 480)), axis=-1)
    r = C.autocorrelation(frames, 16)
    direct = np.array([[f[: 480 - k] @ f[k:] for k in range(17)] for f in frames])
    np.testing.assert_allclose(r, direct, rtol=1e-10, atol=1e-10)
    a = C.levinson(r)
    for i in range(len(frames)):
        np.testing.assert_allclose(
            a[i, 1:], -solve_toeplitz(r[i, :16], r[i, 1:]), rtol=1e-8, atol=1e-10
        )


def _ar_autocorrelation(a, lags):
    h = lfilter([1.0], a, np.r_[1.0, np.zeros(20000)])
    return np.array([h[: h.size - k] @ h[k:] for k in range(lags + 1)])


@pytest.mark.parametrize(
    "clean_poles, deg_poles",
    [((0.9, 0.3), (0.8, 1.2)), ((0.95, 0.5), (0.9, 0.6)), ((0.5, 0.3), (0.7, 2.0))],
)
def test_llr_of_two_ar_processes_matches_closed_form(clean_poles, deg_poles):
    def ar(radius, angle):
        poles = [radius * np.exp(1j * angle), radius * np.exp(-1j * angle)]
        return np.real(np.poly(poles))

    a_c, a_d = ar(*clean_poles), ar(*deg_poles)
    rng = np.random.default_rng(7)
    n = 20 * FS
    x = lfilter([1.0], a_c, rng.standard_normal(n))
    y = lfilter([1.0], a_d, rng.standard_normal(n))
    x_again = lfilter([1.0], a_c, rng.standard_normal(n))
    # Order-16 LPC of an AR(2) process recovers its 2 coefficients, so the
    # expected LLR is log(a_d R_c a_d^T / a_c R_c a_c^T) with the true
    # autocorrelation R_c of the clean process.
    r = toeplitz(_ar_autocorrelation(a_c, 16))
    ac, ad = np.zeros(17), np.zeros(17)
    ac[:3], ad[:3] = a_c, a_d
    expected = math.log((ad @ r @ ad) / (ac @ r @ ac))
    measured = np.mean(C.llr_frames(x, y, FS))
    # 30 ms frames give noisy LPC fits, which raise the LLR by a roughly
    # constant amount: estimate it from two realisations of the same process
    # (true LLR 0).
    bias = np.mean(C.llr_frames(x, x_again, FS))
    assert 0.05 < bias < 0.2
    assert measured - bias == pytest.approx(expected, abs=0.06)
    assert measured == pytest.approx(expected, abs=0.15)


def test_llr_is_nonnegative_per_frame(clean):
    frames = C.llr_frames(clean, add_noise(clean, 5.0), FS)
    assert frames.min() > -1e-9
    assert frames.size == C.num_frames(clean.size, FS) == 3 * FS // 120 - 4


# ---------------------------------------------------------------------------
# Agreement with the independent implementation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("snr", [0.0, 10.0])
def test_matches_reference_implementation_synthetic(clean, snr):
    deg = add_noise(clean[: 2 * FS], snr, seed=int(snr) + 5)
    ref = clean[: 2 * FS]
    np.testing.assert_allclose(
        C.llr_frames(ref, deg, FS), ref_llr_frames(ref, deg, FS), rtol=1e-7, atol=1e-9
    )
    np.testing.assert_allclose(
        C.wss_frames(ref, deg, FS), ref_wss_frames(ref, deg, FS), rtol=1e-7, atol=1e-9
    )
    np.testing.assert_allclose(
        C.segsnr_frames(ref, deg, FS), ref_segsnr_frames(ref, deg, FS), atol=1e-9
    )
    ours, theirs = C.composite(ref, deg, FS), ref_composite(ref, deg, FS)
    for key in C.COMPOSITE_KEYS:
        assert ours[key] == pytest.approx(theirs[key], abs=1e-6), key


def test_wss_filterbank_matches_reference():
    n_fft, bank = C.wss_params(FS)
    n_fft_ref, bank_ref = ref_filterbank(FS)
    assert n_fft == n_fft_ref == 1024
    np.testing.assert_allclose(bank, bank_ref, rtol=1e-12)
    assert bank.shape == (25, 512)


def test_nearest_peaks_match_literal_search():
    rng = np.random.default_rng(0)
    energy = rng.normal(0, 5, (200, 25)).round()  # ties exercise slope == 0
    slope = np.diff(energy, axis=-1)
    got = C._nearest_peaks(energy, slope)
    want = [[ref_peak(e, s, i) for i in range(24)] for e, s in zip(energy, slope)]
    np.testing.assert_array_equal(got, np.array(want))


# ---------------------------------------------------------------------------
# PESQ and input validation
# ---------------------------------------------------------------------------


def test_pesq_failure_gives_nan_and_names_utterance(caplog, clean):
    silent = np.zeros(2 * FS)
    with caplog.at_level(logging.WARNING):
        out = C.composite(silent, clean[: 2 * FS], FS, utt_id="utt_silent")
        too_short = C.pesq_wb(clean[:1000], clean[:1000], FS, utt_id="utt_short")
    assert math.isnan(out["pesq"]) and math.isnan(out["csig"])
    assert math.isnan(out["cbak"]) and math.isnan(out["covl"])
    assert np.isfinite(out["wss"]) and out["segsnr"] == -10.0
    assert math.isnan(too_short)
    assert "utt_silent" in caplog.text and "NoUtterancesError" in caplog.text
    assert "utt_short" in caplog.text and "BufferTooShortError" in caplog.text


def test_length_mismatch_error_and_trim(caplog, clean):
    with pytest.raises(MetricInputError, match=r"utt7.*\+160 samples, \+10\.0 ms"):
        C.composite(clean, np.r_[clean, np.zeros(160)], FS, utt_id="utt7")
    with caplog.at_level(logging.WARNING):
        out = C.composite(
            clean, np.r_[clean, np.zeros(160)], FS, length_mismatch="trim"
        )
    assert "trimming" in caplog.text
    assert out["csig"] == 5.0 and out["llr"] == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    "ref, deg, fs, pattern",
    [
        ("clean", "clean", 44100, r"16 kHz .* or 8 kHz"),
        ("clean", "nan", FS, r"degraded .* 1 NaN/Inf samples \(first at sample 100\)"),
        ("empty", "empty", FS, "reference signal .* is empty"),
        ("stereo", "stereo", FS, r"shape \(48000, 2\); expected mono"),
        ("short", "short", FS, "need at least 600"),
    ],
)
def test_bad_input_raises_clear_error(clean, ref, deg, fs, pattern):
    nan = clean.copy()
    nan[100] = np.nan
    signals = {
        "clean": clean,
        "nan": nan,
        "empty": np.zeros(0),
        "stereo": np.stack([clean, clean], axis=1),
        "short": clean[:500],
    }
    with pytest.raises(MetricInputError, match=pattern):
        C.composite(signals[ref], signals[deg], fs, utt_id="u1")


def test_pesq_wb_rejects_other_rates(clean):
    with pytest.raises(MetricInputError, match="16 kHz"):
        C.pesq_wb(clean, clean, 8000)


def test_int16_input_is_scaled_like_soundfile(clean):
    pcm = np.round(clean * 32767).astype(np.int16)
    ours = C.composite(pcm, pcm.astype(np.float64) / 32768 * 0.9, FS)
    assert ours["segsnr"] == pytest.approx(20.0, abs=1e-6)  # deg = 0.9 ref
    assert ours["llr"] == pytest.approx(0.0, abs=1e-9)


def test_8khz_uses_order_10_and_narrowband_pesq():
    x = speech_like(3.0, fs=8000, seed=2)
    out = C.composite(x, add_noise(x, 10.0), 8000)
    assert C.lpc_order(8000) == 10 and C.frame_params(8000) == (240, 60)
    expected = pesq_package(8000, x, add_noise(x, 10.0), "nb")
    assert out["pesq"] == pytest.approx(expected, abs=1e-6)


# ---------------------------------------------------------------------------
# Real speech and real noise (Debian packages, cached by espnet_cffma.demo)
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_pairs():
    from speech_clips import real_speech_clips

    from espnet_cffma.demo.audio import load_audio
    from espnet_cffma.demo.sources import fetch_noises

    clips = real_speech_clips(3, 3.0, seed=11)
    noise_files = fetch_noises(sources=["minetest"])["minetest"]
    picks = ["env_sounds_water.1", "fire_fire.2", "default_furnace_active"]
    noises = [
        load_audio(next(p for p in noise_files if p.name.startswith(name)))
        for name in picks
    ]
    pairs = []
    for clip, noise, snr in zip(clips, noises, (0.0, 5.0, 10.0)):
        clip = clip.astype(np.float64)
        noise = np.resize(noise.astype(np.float64), clip.size)  # tile if short
        pairs.append((clip, add_noise(clip, snr, noise=noise)))
    return pairs


def test_matches_reference_implementation_on_real_speech(real_pairs):
    for clean_speech, noisy in real_pairs:
        ours = C.composite(clean_speech, noisy, FS)
        theirs = ref_composite(clean_speech, noisy, FS)
        for key in ("csig", "cbak", "covl"):
            assert ours[key] == pytest.approx(theirs[key], abs=0.02), key
        # Components agree far more tightly; LLR only to 1e-2 because frames of
        # digital silence (eps * window) make the Toeplitz systems ill-posed.
        assert ours["llr"] == pytest.approx(theirs["llr"], abs=1e-2)
        assert ours["wss"] == pytest.approx(theirs["wss"], rel=1e-9)
        assert ours["segsnr"] == pytest.approx(theirs["segsnr"], abs=1e-9)
        assert ours["pesq"] == pytest.approx(theirs["pesq"], abs=1e-6)
        assert 1.0 <= ours["csig"] <= 5.0 and ours["pesq"] < 3.0


def test_digital_silence_in_reference_is_flagged(caplog, clean):
    ref = clean.copy()
    ref[: FS // 2] = 0.0  # 0.5 s of exact zeros: ~16 % of the frames
    deg = add_noise(clean, 10.0)
    with caplog.at_level(logging.WARNING):
        silent = C.composite(ref, deg, FS, utt_id="utt_zeros")
    assert "utt_zeros" in caplog.text and "digital silence" in caplog.text
    floor = ref + 1e-5 * np.random.default_rng(0).standard_normal(ref.size)
    # The eps convention makes those frames' LLR huge (~25): LLR rises a lot.
    assert silent["llr"] > C.composite(floor, deg, FS)["llr"] + 1.0
