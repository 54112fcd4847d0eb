"""local/run_mia_se.sh --demo true end to end (VoiceBank recipe, tiny, CPU).

Checks that the IDDP experiment trains from dirs without any reference list
and that the summary has the noisy input and the three trained methods.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

RECIPE = Path(__file__).resolve().parents[1] / "egs2" / "voicebank"


@pytest.mark.slow
def test_run_mia_se_demo(tmp_path):
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["CFFMA_SKIP_INSTALL"] = "1"
    env["OMP_NUM_THREADS"] = "1"
    cmd = [
        "local/run_mia_se.sh",
        "--demo", "true",
        "--demo_dir", tmp_path / "corpus",
        "--demo_n_train", "8",
        "--demo_n_test", "4",
        "--datadir", tmp_path / "data",
        "--dumpdir", tmp_path / "dump",
        "--expdir", tmp_path / "exp",
        "--enh_args", "--max_epoch 1",
    ]  # fmt: skip
    res = subprocess.run(
        list(map(str, cmd)), cwd=RECIPE, env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    for dset in ("train_noisy_only", "valid_noisy_only"):
        assert not list((tmp_path / "data" / dset).glob("spk*.scp"))
        assert not list((tmp_path / "dump/raw" / dset).glob("spk*.scp"))
    config = yaml.safe_load((tmp_path / "exp/enh_iddp/config.yaml").read_text())
    names = [entry[1] for entry in config["train_data_path_and_name_and_type"]]
    assert names == ["speech_mix"]
    assert config["enh_model_conf"]["training_target"] == "iddp"
    results = (tmp_path / "exp/RESULTS.md").read_text()
    for method in ("iddp", "supervised", "noise2noise"):
        assert f"|{method}|test|enhanced|4|" in results
        assert f"|{method}|test|unprocessed (noisy)|4|" in results
