"""The recipe scripts' own checks: local/data.sh, cffma.sh and run.sh options."""

import subprocess

import numpy as np
import soundfile as sf
from recipe_checks import REPO, recipe_env

from espnet_cffma.recipe import data_dir

VOICEBANK = REPO / "egs2" / "voicebank"


def run_in_recipe(*args, env=None):
    return subprocess.run(
        list(map(str, args)),
        cwd=VOICEBANK,
        capture_output=True,
        text=True,
        env=env or recipe_env(),
    )


def make_vb_corpus(root, skip=()):
    spks = {"trainset_28spk": ["p226", "p230", "p287"], "testset": ["p232"]}
    for split, speakers in spks.items():
        for kind in ("clean", "noisy"):
            d = root / f"{kind}_{split}_wav"
            if d.name in skip:
                continue
            d.mkdir(parents=True)
            for s in speakers:
                for i in (1, 2):
                    sf.write(d / f"{s}_{i:03d}.wav", np.zeros(4800), 48000)


def test_data_sh_names_every_missing_folder(tmp_path):
    make_vb_corpus(tmp_path, skip=("clean_testset_wav", "noisy_trainset_28spk_wav"))
    res = run_in_recipe(
        "local/data.sh", "--datadir", tmp_path / "data", "--corpus_dir", tmp_path
    )
    assert res.returncode == 1
    assert f"{tmp_path}/clean_testset_wav" in res.stderr
    assert f"{tmp_path}/noisy_trainset_28spk_wav" in res.stderr
    assert (
        "clean_trainset_28spk_wav"
        not in res.stderr.split("missing")[1].split("Voice")[0]
    )
    assert "https://doi.org/10.7488/ds/2117" in res.stderr
    assert not (tmp_path / "data").exists()


def test_data_sh_splits_by_speaker(tmp_path):
    make_vb_corpus(tmp_path / "corpus")
    data = tmp_path / "data"
    for _ in range(2):  # a rerun rewrites the dirs, no duplicated entries
        res = run_in_recipe(
            "local/data.sh", "--datadir", data, "--corpus_dir", tmp_path / "corpus"
        )
        assert res.returncode == 0, res.stderr
    assert (data / "train" / "spk2utt").read_text() == "p230 p230_001 p230_002\n"
    assert (data / "valid" / "spk2utt").read_text() == (
        "p226 p226_001 p226_002\np287 p287_001 p287_002\n"
    )
    wav = (data / "test" / "wav.scp").read_text().splitlines()
    assert wav == [
        f"p232_00{i} {tmp_path}/corpus/noisy_testset_wav/p232_00{i}.wav" for i in (1, 2)
    ]
    assert (data / "test" / "spk1.scp").read_text().count("clean_testset_wav") == 2
    for name in ("train", "valid", "test"):
        assert data_dir.validate(data / name) == (2 if name != "valid" else 4)
    # A clean file without its noisy counterpart is named.
    (tmp_path / "corpus" / "noisy_testset_wav" / "p232_002.wav").unlink()
    res = run_in_recipe(
        "local/data.sh", "--datadir", data, "--corpus_dir", tmp_path / "corpus"
    )
    assert (
        res.returncode == 1
        and "without noisy counterpart (e.g. p232_002.wav" in res.stderr
    )


def test_data_sh_without_corpus_path_explains(tmp_path):
    env = recipe_env()
    env.pop("VOICEBANK", None)
    res = run_in_recipe("local/data.sh", "--datadir", tmp_path / "d", env=env)
    assert res.returncode == 1
    assert "VOICEBANK is not set" in res.stderr and "./run.sh --demo true" in res.stderr


def test_cffma_sh_checks_its_options(tmp_path):
    res = run_in_recipe("./cffma.sh", "--stage", "1", "--expdir", tmp_path)
    assert res.returncode == 1 and "--train_set is required" in res.stderr
    res = run_in_recipe("./run.sh", "--stgae", "1", "--expdir", tmp_path)
    assert res.returncode == 1 and "unknown option '--stgae'" in res.stderr
    res = run_in_recipe("./cffma.sh", "--help")
    assert res.returncode == 0 and "Stages: 1 data prep" in res.stderr
