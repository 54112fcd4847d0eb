"""Stage 3, espnet_cffma.recipe.ssl_check: the SSL upstream loads, or says why."""

from pathlib import Path

import pytest
import yaml

from espnet_cffma.recipe import ssl_check


def test_ssl_settings_and_override(tmp_path):
    config = tmp_path / "train.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "separator": "bss_cffma",
                "separator_conf": {"ssl_upstream": "wavlm_large"},
            }
        )
    )
    assert ssl_check.read_ssl_settings(config) == ("wavlm_large", None)
    up, path = ssl_check.resolve("wavlm_large", None, "ckpt/WavLM-Large.pt")
    assert up == "wavlm_local" and path == str(Path("ckpt/WavLM-Large.pt").absolute())
    assert (
        ssl_check.resolve("wav2vec2_large_ll60k", None, "x.pt")[0] == "wav2vec2_local"
    )
    assert ssl_check.resolve("hubert_local", "a.pt", "b.pt")[0] == "hubert_local"
    with pytest.raises(ssl_check.SSLCheckError, match="no local-checkpoint loader"):
        ssl_check.family_of("apc")
    assert ssl_check.override_args("wavlm_local", "/p.pt") == [
        "--separator_conf",
        "ssl_upstream=wavlm_local",
        "--separator_conf",
        "ssl_path_or_url=/p.pt",
    ]
    plain = tmp_path / "tcn.yaml"
    plain.write_text("separator: tcn\n")
    assert ssl_check.read_ssl_settings(plain) == (None, None)
    assert ssl_check.main(["--config", str(plain)]) == 0


def test_ssl_check_errors_say_what_to_do(tmp_path, monkeypatch, capsys):
    config = tmp_path / "train.yaml"
    config.write_text("separator_conf:\n  ssl_upstream: wavlm_local\n")
    code = ssl_check.main(
        ["--config", str(config), "--ssl_ckpt", str(tmp_path / "no.pt")]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "SSL checkpoint not found" in err and "--ssl_ckpt /path/to" in err
    # A hub preset that cannot be fetched (no internet): clear advice, no traceback.
    import espnet_cffma.ssl.loading as upstream

    def offline(name, path, conf):
        raise RuntimeError("Could not load S3PRL upstream 'wavlm_large': URLError")

    monkeypatch.setattr(upstream, "load_s3prl_upstream", offline)
    with pytest.raises(ssl_check.SSLCheckError) as err:
        ssl_check.check_upstream("wavlm_large", None)
    assert "could not fetch upstream 'wavlm_large'" in str(err.value)
    assert "--ssl_ckpt /path/to/checkpoint.pt" in str(err.value)
    assert "'wavlm_local'" in str(err.value)


def test_ssl_check_builds_and_loads_random_checkpoint(tmp_path, capsys):
    config = tmp_path / "train.yaml"
    config.write_text("separator_conf:\n  ssl_upstream: wavlm_base_plus\n")
    ckpt = tmp_path / "ssl" / "random.pt"
    args = ["--config", str(config), "--ssl_ckpt", str(ckpt), "--build_random", "true"]
    assert ssl_check.main(args) == 0
    out = capsys.readouterr().out
    assert "RANDOM-WEIGHT wavlm checkpoint" in out
    assert "OK, upstream 'wavlm_local'" in out and "3 hidden states of size 64" in out
    assert ckpt.is_file()
    assert (
        ssl_check.main(
            ["--config", str(config), "--ssl_ckpt", str(ckpt), "--print_args"]
        )
        == 0
    )
    assert f"ssl_path_or_url={ckpt}" in capsys.readouterr().out
