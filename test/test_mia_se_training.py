"""End to end: MIA-SE's noisy-only (IDDP) mode through ESPnet's real trainer.

The training and validation dirs hold only wav.scp (noisy audio); the clean
recordings the noisy ones were made from are deleted before training (deleting
works where chmod 000 would not: tests may run as root).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

FS = 16000
CONF = Path(__file__).resolve().parent.parent / "egs2/voicebank/conf/tuning"


# One thread: on a loaded CPU, torch's thread pool makes these tiny models slower.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run(module, *args, cwd):
    result = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def write_noisy_only_corpus(root, rng):
    """Noisy utterances (harmonic 'speech' + noise) with no clean reference left."""
    wav = root / "wav"
    wav.mkdir()
    for split, count in (("train", 6), ("valid", 2)):
        (root / split).mkdir()
        lines = []
        for i in range(count):
            n = int(FS * rng.uniform(1.2, 1.9))  # >= one 1 s chunk
            t = np.arange(n) / FS
            clean = 0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t) * (1 + np.sin(6 * t))
            sf.write(wav / f"{split}{i}_clean.wav", clean, FS)
            clean_read, _ = sf.read(wav / f"{split}{i}_clean.wav")
            noisy = clean_read + 0.05 * rng.standard_normal(n)
            sf.write(wav / f"{split}{i}_noisy.wav", noisy, FS)
            lines.append(f"{split}{i} {wav}/{split}{i}_noisy.wav\n")
        (root / split / "wav.scp").write_text("".join(lines))
    # noise-only recordings of the same noise type
    pool = []
    for i in range(2):
        sf.write(wav / f"noise{i}.wav", 0.05 * rng.standard_normal(FS // 2), FS)
        pool.append(f"noise{i} {wav}/noise{i}.wav\n")
    (root / "noise_pool.scp").write_text("".join(pool))
    for clean in wav.glob("*_clean.wav"):
        clean.unlink()


def noisy_data_args(root):
    """ESPnet data options: the noisy lists only."""
    return [
        option
        for split in ("train", "valid")
        for option in (
            f"--{split}_data_path_and_name_and_type",
            f"{root}/{split}/wav.scp,speech_mix,sound",
        )
    ]


@pytest.mark.slow
def test_noisy_only_training_reads_no_clean_speech(tmp_path):
    write_noisy_only_corpus(tmp_path, np.random.default_rng(0))
    assert not list(tmp_path.rglob("spk1.scp")) and not list(tmp_path.rglob("*clean*"))
    data = noisy_data_args(tmp_path)
    common = [
        "--config", CONF / "train_mia_se_demo_iddp.yaml",
        "--enh_model_conf", f"noise_pool={tmp_path}/noise_pool.scp",
        *data,
    ]  # fmt: skip
    run(
        "espnet_cffma.bin.enh_train",
        "--collect_stats", "true", *common,
        "--train_shape_file", tmp_path / "train/wav.scp",
        "--valid_shape_file", tmp_path / "valid/wav.scp",
        "--output_dir", tmp_path / "stats",
        cwd=tmp_path,
    )  # fmt: skip
    exp = tmp_path / "exp"
    trained = run(
        "espnet_cffma.bin.enh_train", *common,
        "--max_epoch", 2,
        "--batch_size", 2,
        "--train_shape_file", tmp_path / "stats/train/speech_mix_shape",
        "--valid_shape_file", tmp_path / "stats/valid/speech_mix_shape",
        "--output_dir", exp,
        cwd=tmp_path,
    )  # fmt: skip
    saved = yaml.safe_load((exp / "config.yaml").read_text())
    assert saved["enh_model"] == "mia_se"
    assert saved["enh_model_conf"]["training_target"] == "iddp"
    assert (exp / "valid.loss.best.pth").is_file()
    assert "2epoch results" in trained.stderr and "mia_se=" in trained.stderr

    out = tmp_path / "enhanced"
    run(
        "espnet_cffma.bin.enh_inference",
        "--fs", FS,
        "--data_path_and_name_and_type", f"{tmp_path}/valid/wav.scp,speech_mix,sound",
        "--key_file", tmp_path / "valid/wav.scp",
        "--train_config", exp / "config.yaml",
        "--model_file", exp / "valid.loss.best.pth",
        "--output_dir", out,
        cwd=tmp_path,
    )  # fmt: skip
    scp = dict(line.split() for line in (out / "spk1.scp").read_text().splitlines())
    assert sorted(scp) == ["valid0", "valid1"]
    for path in scp.values():
        audio, fs = sf.read(path)
        assert fs == FS and np.isfinite(audio).all() and np.abs(audio).max() > 0


@pytest.mark.slow
def test_default_model_refuses_a_dir_without_spk1(tmp_path):
    write_noisy_only_corpus(tmp_path, np.random.default_rng(0))
    config = yaml.safe_load((CONF / "train_mia_se_demo_supervised.yaml").read_text())
    config.pop("enh_model")
    config.pop("enh_model_conf")
    config["criterions"][0]["name"] = "si_snr"
    config["criterions"][0]["conf"] = {}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "espnet_cffma.bin.enh_train",
         "--config", tmp_path / "c.yaml", *noisy_data_args(tmp_path),
         "--train_shape_file", tmp_path / "train/wav.scp",
         "--valid_shape_file", tmp_path / "valid/wav.scp",
         "--output_dir", tmp_path / "exp"],
        cwd=tmp_path, capture_output=True, text=True, env=ENV,
    )  # fmt: skip
    assert result.returncode != 0
    assert "no speech_ref1" in result.stderr
