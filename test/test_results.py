"""Stage 7, espnet_cffma.recipe.results: merged score files and RESULTS.md."""

import json

import pytest

from espnet_cffma.recipe import results


def write_scores(root, job, scores):
    d = root / f"output.{job}"
    d.mkdir(parents=True)
    for name, values in scores.items():
        (d / f"{name}_spk1").write_text(
            "".join(f"{k} {v}\n" for k, v in values.items())
        )


def fake_score_dir(root, offset):
    metrics = ["PESQ_WB", "CSIG", "CBAK", "COVL", "STOI", "ESTOI", "SI_SNR", "SDR"]
    metrics += ["DNSMOS_SIG", "DNSMOS_BAK", "DNSMOS_OVRL", "DNSMOS_P808"]
    write_scores(
        root / "logdir",
        1,
        {m: {"u1": 1.0 + offset, "u2": 2.0 + offset} for m in metrics},
    )
    write_scores(root / "logdir", 2, {m: {"u3": 3.0 + offset} for m in metrics})
    results.merge_scores(root / "logdir", 2, root)
    return root


def test_merge_scores_and_write_results(tmp_path):
    noisy = fake_score_dir(tmp_path / "noisy", 0.0)
    enh = fake_score_dir(tmp_path / "enh", 1.0)
    assert (noisy / "STOI_spk1").read_text() == "u1 1.0\nu2 2.0\nu3 3.0\n"
    assert json.loads((noisy / "result.json").read_text())["means"]["PESQ_WB"] == 2.0
    exp = tmp_path / "exp" / "enh_demo"
    exp.mkdir(parents=True)
    (exp / "3epoch.pth").write_bytes(b"")
    (exp / "valid.loss.best.pth").symlink_to("3epoch.pth")
    out = exp / "RESULTS.md"
    code = results.main(
        ["write", "--exp_dir", str(exp), "--config", "conf/x.yaml", "--model",
         str(exp / "valid.loss.best.pth"), "--note", "Random SSL weights.",
         "--set", "test", str(noisy), str(enh), "--output", str(out)]
    )  # fmt: skip
    assert code == 0
    text = out.read_text()
    assert (
        "|system|PESQ-WB|CSIG|CBAK|COVL|STOI (%)|ESTOI (%)|SI-SNR (dB)|SDR (dB)|"
        "DNSMOS SIG|DNSMOS BAK|DNSMOS OVRL|DNSMOS P.808|" in text
    )
    assert "|noisy|" + "2.00|" * 12 in text
    assert "|enhanced|3.00|" in text
    assert "## enh_demo: test (3 utterances)" in text
    assert "> **Note:** Random SSL weights." in text
    assert "-> `3epoch.pth`" in text and "- espnet version: `espnet " in text
    assert (
        json.loads((exp / "results.json").read_text())["sets"]["test"]["enhanced"][
            "CSIG"
        ]
        == 3.0
    )


def test_merge_scores_rejects_conflicts(tmp_path):
    write_scores(tmp_path, 1, {"STOI": {"u1": 1.0}})
    write_scores(tmp_path, 2, {"STOI": {"u1": 2.0}})
    with pytest.raises(results.ResultsError, match="u1 scored twice"):
        results.merge_scores(tmp_path, 2, tmp_path / "out")
    with pytest.raises(results.ResultsError, match="outputs missing"):
        results.merge_scores(tmp_path, 3, tmp_path / "out")
