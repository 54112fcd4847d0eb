"""ESPnet's own entry points, called as enh.sh calls them, with cffma-python."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from test_espnet_integration import FS, data_args, write_corpus

from espnet_cffma.bin.python_wrapper import rewrite
from espnet_cffma.ssl.checkpoints import build_random_checkpoint

REPO = Path(__file__).resolve().parents[1]


def test_rewrite_swaps_only_espnet_enh_modules():
    assert rewrite(["-m", "espnet2.bin.enh_train", "--a", "1"]) == [
        "-m", "espnet_cffma.bin.enh_train", "--a", "1"
    ]  # fmt: skip
    assert rewrite(["-m", "espnet2.bin.enh_inference"])[1] == (
        "espnet_cffma.bin.enh_inference"
    )
    for kept in (
        ["-m", "espnet2.bin.enh_scoring"],
        ["-m", "espnet2.bin.launch"],
        ["script.py", "-m", "espnet2.bin.enh_train"],
        ["-c", "pass"],
    ):
        assert rewrite(kept) == kept  # fmt: skip


def cffma_python(tmp_path) -> str:
    """The installed ``cffma-python``, or the same command as a shim."""
    installed = shutil.which("cffma-python")
    if installed:
        return installed
    shim = tmp_path / "bin" / "cffma-python"
    shim.parent.mkdir()
    shim.write_text(
        f'#!/bin/sh\nexec "{sys.executable}" -m espnet_cffma.bin.python_wrapper "$@"\n'
    )
    shim.chmod(0o755)
    return str(shim)


def enh_sh(python, module, *args, cwd):
    """``${python} -m <module> args...`` as enh.sh runs it."""
    env = dict(os.environ, CFFMA_PYTHON=python)
    result = subprocess.run(
        [python, "-m", module, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result


@pytest.mark.slow
def test_stock_espnet_modules_train_and_infer(tmp_path, tiny_separator_conf):
    python = cffma_python(tmp_path)
    lengths = write_corpus(tmp_path, np.random.default_rng(0))
    ssl = build_random_checkpoint("wavlm", tmp_path / "ssl.pt")
    config = yaml.safe_load(
        (REPO / "egs2/voicebank/conf/tuning/train_demo.yaml").read_text()
    )
    config["separator_conf"].update(
        ssl_path_or_url=str(ssl), ssl_finetune="pf", **tiny_separator_conf
    )
    config.update(max_epoch=1, batch_size=2, num_att_plot=0)
    assert config["criterions"][0]["name"] == "log1p_mask_l1"
    assert config["preprocessor"] == "random_crop_gain"
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    data = data_args(tmp_path, "train") + data_args(tmp_path, "valid")

    # enh.sh stage 5: statistics, stage 6: training through espnet2.bin.launch.
    enh_sh(
        python, "espnet2.bin.enh_train",
        "--collect_stats", "true",
        "--config", tmp_path / "train.yaml",
        *data,
        "--train_shape_file", tmp_path / "train_wav.scp",
        "--valid_shape_file", tmp_path / "valid_wav.scp",
        "--output_dir", tmp_path / "stats",
        cwd=tmp_path,
    )  # fmt: skip
    exp = tmp_path / "exp"
    enh_sh(
        python, "espnet2.bin.launch",
        "--cmd", REPO / "egs2/TEMPLATE/utils/run_jobs.sh",
        "--log", exp / "train.log",
        "--ngpu", 0,
        "--num_nodes", 1,
        "--init_file_prefix", exp / ".dist_init_",
        "--multiprocessing_distributed", "true",
        "--",
        python, "-m", "espnet2.bin.enh_train",
        "--config", tmp_path / "train.yaml",
        *data,
        "--train_shape_file", tmp_path / "stats/train/speech_mix_shape",
        "--valid_shape_file", tmp_path / "stats/valid/speech_mix_shape",
        "--output_dir", exp,
        cwd=tmp_path,
    )  # fmt: skip
    log = (exp / "train.log").read_text()
    assert "1epoch results" in log and "log1p_mask_l1=" in log
    assert (exp / "valid.loss.best.pth").is_file()

    # enh.sh stage 7: inference.
    out = tmp_path / "enhanced"
    enh_sh(
        python, "espnet2.bin.enh_inference",
        "--fs", FS,
        "--data_path_and_name_and_type", f"{tmp_path}/valid_wav.scp,speech_mix,sound",
        "--key_file", tmp_path / "valid_wav.scp",
        "--train_config", exp / "config.yaml",
        "--model_file", exp / "valid.loss.best.pth",
        "--output_dir", out,
        cwd=tmp_path,
    )  # fmt: skip
    scp = dict(line.split() for line in (out / "spk1.scp").read_text().splitlines())
    assert sorted(scp) == ["valid_00", "valid_01"]
    for utt, path in scp.items():
        audio, fs = sf.read(path)
        assert fs == FS and len(audio) == lengths[utt]
        assert np.isfinite(audio).all() and np.abs(audio).max() > 0
