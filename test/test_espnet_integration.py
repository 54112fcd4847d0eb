"""ESPnet's trainer and inference run bss_cffma through the plugin's entry points."""

import subprocess
import sys

import numpy as np
import soundfile as sf
import yaml

from espnet_cffma.ssl.checkpoints import build_random_checkpoint

FS = 16000


def write_corpus(root, rng):
    """Noisy/clean pairs of 0.8-1.2 s as Kaldi-style scp files."""
    (root / "wav").mkdir()
    lengths = {}
    for split, count in (("train", 6), ("valid", 2)):
        with (
            open(root / f"{split}_wav.scp", "w") as noisy_scp,
            open(root / f"{split}_spk1.scp", "w") as clean_scp,
        ):
            for i in range(count):
                n = int(FS * rng.uniform(0.8, 1.2))
                t = np.arange(n) / FS
                clean = 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t)
                noisy = clean + 0.05 * rng.standard_normal(n)
                utt = f"{split}_{i:02d}"
                sf.write(root / "wav" / f"{utt}_clean.wav", clean, FS)
                sf.write(root / "wav" / f"{utt}_noisy.wav", noisy, FS)
                noisy_scp.write(f"{utt} {root}/wav/{utt}_noisy.wav\n")
                clean_scp.write(f"{utt} {root}/wav/{utt}_clean.wav\n")
                lengths[utt] = n
    return lengths


def run(module, *args, cwd):
    result = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def data_args(root, prefix="train"):
    return [
        f"--{prefix}_data_path_and_name_and_type",
        f"{root}/{prefix}_wav.scp,speech_mix,sound",
        f"--{prefix}_data_path_and_name_and_type",
        f"{root}/{prefix}_spk1.scp,speech_ref1,sound",
    ]


def test_train_one_epoch_then_enhance(tmp_path, tiny_separator_conf):
    lengths = write_corpus(tmp_path, np.random.default_rng(0))
    ssl = build_random_checkpoint("wavlm", tmp_path / "ssl.pt")
    config = {
        "encoder": "same",
        "decoder": "same",
        "separator": "bss_cffma",
        "separator_conf": {
            "ssl_upstream": "wavlm_local",
            "ssl_path_or_url": str(ssl),
            **tiny_separator_conf,
        },
        "criterions": [
            {
                "name": "log1p_l1",
                "conf": {},
                "wrapper": "fixed_order",
                "wrapper_conf": {"weight": 1.0},
            }
        ],
        "init": "xavier_uniform",
        "optim": "adam_ssl",
        "optim_conf": {"lr": 1e-3, "ssl_lr": 1e-4},
        "max_epoch": 1,
        "batch_type": "folded",
        "batch_size": 2,
        "num_workers": 0,
        "num_att_plot": 0,
        "use_tensorboard": False,
        "best_model_criterion": [["valid", "loss", "min"]],
    }
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    data = data_args(tmp_path, "train") + data_args(tmp_path, "valid")

    run(
        "espnet_cffma.bin.enh_train",
        "--collect_stats", "true",
        "--config", tmp_path / "train.yaml",
        *data,
        "--train_shape_file", tmp_path / "train_wav.scp",
        "--valid_shape_file", tmp_path / "valid_wav.scp",
        "--output_dir", tmp_path / "stats",
        cwd=tmp_path,
    )  # fmt: skip
    shapes = (tmp_path / "stats/train/speech_mix_shape").read_text().split("\n")
    assert len([s for s in shapes if s]) == 6

    exp = tmp_path / "exp"
    trained = run(
        "espnet_cffma.bin.enh_train",
        "--config", tmp_path / "train.yaml",
        *data,
        "--train_shape_file", tmp_path / "stats/train/speech_mix_shape",
        "--valid_shape_file", tmp_path / "stats/valid/speech_mix_shape",
        "--fold_length", 80000,
        "--output_dir", exp,
        cwd=tmp_path,
    )  # fmt: skip
    saved = yaml.safe_load((exp / "config.yaml").read_text())
    assert saved["separator"] == "bss_cffma"
    assert saved["separator_conf"]["ssl_path_or_url"] == str(ssl)
    assert (exp / "valid.loss.best.pth").is_file()
    assert "1epoch results" in trained.stderr and "log1p_l1=" in trained.stderr

    out = tmp_path / "enhanced"
    run(
        "espnet_cffma.bin.enh_inference",
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
        assert fs == FS
        assert audio.ndim == 1 and len(audio) == lengths[utt]
        assert np.isfinite(audio).all() and np.abs(audio).max() > 0


def test_plain_espnet_entry_point_does_not_know_the_plugin(tmp_path):
    # Why the plugin ships its own entry points: ESPnet's parser rejects the name.
    result = subprocess.run(
        [sys.executable, "-m", "espnet2.bin.enh_train", "--separator", "bss_cffma"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "invalid choice: 'bss_cffma'" in result.stderr
