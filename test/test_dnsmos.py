"""DNSMOS through speechmos: scores in range, noise lowers BAK, scoring layout."""

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("speechmos")
pytest.importorskip("onnxruntime")

from espnet_cffma.metrics import dnsmos  # noqa: E402

FS = 16000
# speechmos repeats a clip until it lasts 9.01 s and scores 9.01 s windows
# with a 1 s hop: 1.15 s -> 9.2 s, one window (keeps the test fast).
CLIP_S = 1.15


def speech_like(seconds, rng):
    """A voiced, syllable-modulated harmonic signal (no real speech in tests)."""
    t = np.arange(int(seconds * FS)) / FS
    f0 = 120 + 20 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / FS
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
    return 0.1 * voiced * envelope + 1e-4 * rng.standard_normal(t.size)


def test_dnsmos_scores_and_noise_lowers_background_score(tmp_path):
    rng = np.random.default_rng(0)
    clean = speech_like(CLIP_S, rng)
    noisy = clean + 0.05 * rng.standard_normal(clean.size)
    scorer = dnsmos.DNSMOSScorer()
    clean_scores = scorer(clean, FS)
    noisy_scores = scorer(noisy, FS)
    assert set(clean_scores) == set(dnsmos.DNSMOS_METRICS)
    for scores in (clean_scores, noisy_scores):
        assert all(1.0 <= v <= 5.0 for v in scores.values()), scores
    assert noisy_scores["DNSMOS_BAK"] < clean_scores["DNSMOS_BAK"] - 0.5
    # Another rate is resampled, not refused.
    resampled = scorer(clean[::2], 8000)
    assert abs(resampled["DNSMOS_BAK"] - clean_scores["DNSMOS_BAK"]) < 1.0


def test_dnsmos_cli_writes_espnet_scoring_layout(tmp_path, capsys):
    rng = np.random.default_rng(1)
    lines = []
    for utt in ("u1", "u2"):
        path = tmp_path / f"{utt}.wav"
        sf.write(path, speech_like(CLIP_S, rng), FS)
        lines.append(f"{utt} {path}\n")
    (tmp_path / "wav.scp").write_text("".join(lines))
    out = tmp_path / "scoring"
    assert (
        dnsmos.main(["--wav_scp", str(tmp_path / "wav.scp"), "--output_dir", str(out)])
        == 0
    )
    for name in dnsmos.DNSMOS_METRICS:
        rows = (out / f"{name}_spk1").read_text().splitlines()
        assert [r.split()[0] for r in rows] == ["u1", "u2"]
    assert "DNSMOS_OVRL" in (out / "result.txt").read_text()
    (tmp_path / "bad.scp").write_text(f"u1 {tmp_path}/missing.wav\n")
    assert (
        dnsmos.main(["--wav_scp", str(tmp_path / "bad.scp"), "--output_dir", str(out)])
        == 1
    )
    assert "missing.wav" in capsys.readouterr().err
