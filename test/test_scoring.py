"""Tests of espnet_cffma.metrics.scoring: per-pair metrics, scp scoring and the CLI."""

import json
import math

import fast_bss_eval
import numpy as np
import pytest
import soundfile
from pystoi import stoi as pystoi_stoi
from test_composite import add_noise, speech_like

from espnet_cffma.metrics import composite as C
from espnet_cffma.metrics import scoring as S
from espnet_cffma.metrics.validation import MetricInputError

FS = 16000


def test_score_pair_has_every_metric_and_matches_parts():
    ref = speech_like(2.0, seed=3)
    deg = add_noise(ref, 10.0, seed=4)
    out = S.score_pair(ref, deg, FS, utt_id="u")
    assert tuple(out) == S.METRIC_SETS["all"]
    comp = C.composite(ref, deg, FS)
    assert out["CSIG"] == comp["csig"] and out["PESQ_WB"] == comp["pesq"]
    assert out["STOI"] == pytest.approx(100 * pystoi_stoi(ref, deg, FS))
    assert out["ESTOI"] == pytest.approx(100 * pystoi_stoi(ref, deg, FS, True))
    # SI-SNR by hand: zero-mean, project the estimate on the reference.
    r, e = ref - ref.mean(), deg - deg.mean()
    target = (e @ r) / (r @ r) * r
    si_snr = 10 * math.log10(np.sum(target**2) / np.sum((e - target) ** 2))
    assert out["SI_SNR"] == pytest.approx(si_snr, abs=1e-6)
    fbe = fast_bss_eval.si_sdr(ref[None], deg[None], zero_mean=True)[0]
    assert out["SI_SNR"] == pytest.approx(fbe, abs=1e-6)  # what ESPnet calls
    # Added white noise at 10 dB: SDR/SI-SNR close to 10 (a filter absorbs a bit).
    assert 9.5 < out["SI_SNR"] < 10.5 and 9.5 < out["SDR"] < 10.6
    only = S.score_pair(ref, deg, FS, metrics="composite")
    assert tuple(only) == S.COMPOSITE_METRICS


def test_score_pair_rejects_unknown_metric():
    ref = speech_like(1.0, seed=3)
    with pytest.raises(ValueError, match="unknown metrics"):
        S.score_pair(ref, ref, FS, metrics=["PESQ_WB", "MOS"])


def _write_set(tmp_path, n=3, snr=10.0, fs=FS):
    refs, infs = [], []
    (tmp_path / "wav").mkdir(exist_ok=True)
    for i in range(n):
        x = speech_like(1.5 + 0.25 * i, fs=fs, seed=10 + i)
        y = add_noise(x, snr, seed=20 + i)
        for kind, sig, lines in (("ref", x, refs), ("inf", y, infs)):
            path = tmp_path / "wav" / f"{kind}_{i}.wav"
            soundfile.write(path, sig, fs, subtype="FLOAT")
            lines.append(f"utt{i} {path}\n")
    (tmp_path / "ref.scp").write_text("".join(refs))
    (tmp_path / "inf.scp").write_text("".join(infs[::-1]))  # order must not matter
    return tmp_path / "ref.scp", tmp_path / "inf.scp"


def _read_scores(path):
    return {k: float(v) for k, v in (line.split() for line in open(path))}


def test_cli_writes_espnet_style_files(tmp_path):
    ref_scp, inf_scp = _write_set(tmp_path)
    out = tmp_path / "score"
    summary = S.main(
        ["--ref_scp", str(ref_scp), "--inf_scp", str(inf_scp), "--output_dir", str(out)]
    )
    for name in S.METRIC_SETS["all"]:
        scores = _read_scores(out / f"{name}_spk1")
        assert list(scores) == ["utt0", "utt1", "utt2"]
        assert summary[name]["count"] == 3
        assert summary[name]["mean"] == pytest.approx(np.mean(list(scores.values())))
    x, _ = soundfile.read(tmp_path / "wav" / "ref_1.wav")
    y, _ = soundfile.read(tmp_path / "wav" / "inf_1.wav")
    assert _read_scores(out / "CSIG_spk1")["utt1"] == pytest.approx(
        C.composite(x, y, FS)["csig"], abs=1e-9
    )
    result = json.loads((out / "result.json").read_text())
    assert result["means"]["COVL"] == pytest.approx(summary["COVL"]["mean"], abs=1e-6)
    assert result["counts"]["PESQ_WB"] == 3
    assert "CBAK" in (out / "result.txt").read_text()


@pytest.mark.slow  # spawns worker processes (numpy, pesq imports in each)
def test_parallel_scoring_equals_serial(tmp_path):
    ref_scp, inf_scp = _write_set(tmp_path)
    (tmp_path / "keys").write_text("utt2\nutt0\n")
    rows1, means1 = S.score_scp(ref_scp, inf_scp, tmp_path / "keys", nj=1)
    rows2, means2 = S.score_scp(ref_scp, inf_scp, tmp_path / "keys", nj=2)
    assert [r["utt_id"] for r in rows2] == ["utt2", "utt0"]
    for r1, r2 in zip(rows1, rows2):
        assert r1.keys() == r2.keys()
        assert r1["utt_id"] == r2["utt_id"]
        for name in S.METRIC_SETS["all"]:
            assert r1[name] == pytest.approx(r2[name], rel=1e-9), name
    assert means1 == pytest.approx(means2, rel=1e-9)


def test_scp_errors_name_the_problem(tmp_path):
    ref_scp, inf_scp = _write_set(tmp_path)
    (tmp_path / "short.scp").write_text(inf_scp.read_text().splitlines()[0] + "\n")
    with pytest.raises(MetricInputError, match=r"2 of 3 utterance ids missing .*short"):
        S.score_scp(ref_scp, tmp_path / "short.scp")
    # Mismatched sampling rates for one utterance.
    x = speech_like(1.5, fs=8000, seed=10)
    soundfile.write(tmp_path / "wav" / "inf_0.wav", x, 8000)
    with pytest.raises(MetricInputError, match=r"utt0.*rates differ: 16000 Hz .* 8000"):
        S.score_scp(ref_scp, inf_scp)
    # Length mismatch: error by default, trimmed on request.
    x, _ = soundfile.read(tmp_path / "wav" / "ref_0.wav")
    soundfile.write(tmp_path / "wav" / "inf_0.wav", x[:-80], FS, subtype="FLOAT")
    with pytest.raises(MetricInputError, match=r"utt0.*-80 samples.*inf_0\.wav"):
        S.score_scp(ref_scp, inf_scp)
    rows, _ = S.score_scp(ref_scp, inf_scp, length_mismatch="trim", metrics="composite")
    assert rows[0]["CSIG"] == 5.0
    # Missing audio file and malformed scp line.
    (tmp_path / "wav" / "inf_1.wav").unlink()
    with pytest.raises(MetricInputError, match=r"utt1.*inf_1\.wav\): audio file not"):
        S.score_scp(ref_scp, inf_scp, length_mismatch="trim")
    (tmp_path / "bad.scp").write_text("utt0\n")
    with pytest.raises(MetricInputError, match=r"bad\.scp:1: expected '<key> <value>'"):
        S.score_scp(tmp_path / "bad.scp", inf_scp)


def test_cli_exits_with_message_on_bad_input(tmp_path, capsys):
    ref_scp, _ = _write_set(tmp_path, n=1)
    with pytest.raises(SystemExit, match="none.scp: list file not found"):
        S.main(
            ["--ref_scp", str(ref_scp), "--inf_scp", str(tmp_path / "none.scp")]
            + ["--output_dir", str(tmp_path / "o")]
        )


@pytest.mark.parametrize("fs, pesq", [(16000, "PESQ_WB"), (8000, "PESQ_NB")])
def test_stage7_scores_pesq_once_with_espnet_values(tmp_path, fs, pesq):
    """Stage 7: ESPnet's scorer without PESQ, then ours adds PESQ + composite.

    The PESQ_WB file ours writes holds the very values of ESPnet's
    ``--use_pesq true`` (computed once, for the table and the composite).
    """
    from espnet2.bin.enh_scoring import main as espnet_scoring

    ref_scp, inf_scp = _write_set(tmp_path, n=2, fs=fs)
    out, espnet_pesq = tmp_path / "score", tmp_path / "espnet_pesq"
    common = ["--key_file", str(ref_scp), "--ref_scp", str(ref_scp)]
    common += ["--inf_scp", str(inf_scp)]
    espnet_scoring(common + ["--output_dir", str(out), "--use_pesq", "false"])
    assert not (out / f"{pesq}_spk1").exists()
    summary = S.main(
        ["--ref_scp", str(ref_scp), "--inf_scp", str(inf_scp)]
        + ["--output_dir", str(out), "--metrics", "pesq_composite"]
    )
    for name in (pesq, "STOI", "ESTOI", "SI_SNR", "SDR", "CSIG", "CBAK", "COVL"):
        assert summary[name]["count"] == 2, name
    assert summary["SIR"]["count"] == 0  # ESPnet's single-source SIR is inf
    assert "wav" not in summary  # ESPnet's wav_spk1 holds paths, not scores
    # ESPnet's own PESQ, as the recipe computed it before: the same numbers.
    espnet_scoring(common + ["--output_dir", str(espnet_pesq), "--use_pesq", "true"])
    espnet = _read_scores(espnet_pesq / f"{pesq}_spk1")
    assert _read_scores(out / f"{pesq}_spk1") == pytest.approx(espnet, rel=1e-12)
    # ESPnet's other numbers (float32 reads) agree with this module's definitions.
    ours, _ = S.score_scp(ref_scp, inf_scp)
    for name, tol in ((pesq, 1e-3), ("STOI", 1e-3), ("ESTOI", 1e-3)) + (
        ("SI_SNR", 1e-3),
        ("SDR", 1e-2),
    ):
        espnet = _read_scores(out / f"{name}_spk1")
        for row in ours:
            assert espnet[row["utt_id"]] == pytest.approx(row[name], abs=tol), name


def test_degenerate_signals_give_defined_values(caplog):
    ref = speech_like(1.0, seed=5)
    assert S.si_snr(ref, ref) == math.inf
    assert S.sdr(ref, ref) > 100
    assert math.isnan(S.si_snr(ref, np.zeros_like(ref), utt_id="z1"))
    assert math.isnan(S.sdr(ref, np.zeros_like(ref), utt_id="z2"))
    assert "z1" in caplog.text and "z2" in caplog.text


def test_multichannel_file_needs_a_channel(tmp_path):
    ref_scp, inf_scp = _write_set(tmp_path, n=1)
    x, _ = soundfile.read(tmp_path / "wav" / "inf_0.wav")
    soundfile.write(tmp_path / "wav" / "inf_0.wav", np.stack([x, 0.5 * x], 1), FS)
    with pytest.raises(MetricInputError, match="2 channels; pass ref_channel"):
        S.score_scp(ref_scp, inf_scp, metrics=["SI_SNR"])
    rows, _ = S.score_scp(ref_scp, inf_scp, metrics=["SI_SNR"], ref_channel=0)
    assert 9.5 < rows[0]["SI_SNR"] < 10.5
