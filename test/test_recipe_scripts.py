"""The recipe scripts' own checks: local/data.sh, cffma.sh and run.sh options."""

import re
import subprocess

import numpy as np
import soundfile as sf
from recipe_checks import REPO, TEMPLATE, bash, recipe_env

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
    noise = (data / "test" / "noise1.scp").read_text().splitlines()
    assert [line.split()[0] for line in noise] == ["p232_001", "p232_002"]
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


def test_cffma_sh_stage_8_is_opt_in_and_skip_eval_leaves_it(tmp_path):
    required = ["--train_set", "a", "--valid_set", "b", "--test_sets", "c",
                "--enh_config", "conf/train.yaml", "--expdir", tmp_path]  # fmt: skip
    res = run_in_recipe("./cffma.sh", *required, "--stage", "6", "--stop_stage", "8",
                        "--skip_eval", "true")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "Stage 6: enhancement skipped (--skip_eval true)" in res.stderr
    assert "Stage 7: scoring skipped (--skip_eval true)" in res.stderr
    assert "Stage 8: pack skipped (--skip_pack true)" in res.stderr
    # --skip_eval does not reach stage 8: asked for, it runs (and finds no model).
    res = run_in_recipe("./cffma.sh", *required, "--stage", "6", "--stop_stage", "8",
                        "--skip_eval", "true", "--skip_pack", "false")  # fmt: skip
    assert res.returncode == 1 and "Stage 8: pack (log:" in res.stderr
    # (stage output goes to stdout, through tee)
    assert "valid.loss.best.pth: run stage 5 first" in res.stdout
    help_text = run_in_recipe("./cffma.sh", "--help").stderr
    for option, default, stages in (
        ("skip_data_prep", "false", "stages 1-2"),
        ("skip_train", "false", "stages 3-5"),
        ("skip_eval", "false", "stages 6-7"),
        ("skip_pack", "true", "stage 8"),
    ):
        assert re.search(
            rf"--{option} true\|false \[{default}\] +skip {stages} ", help_text
        ), option


RUN_OPTIONS = f"""
expdir=exp; enh_config=; flag=false; run_options="expdir enh_config flag"
. {TEMPLATE}/scripts/utils/run_options.sh "$@"
echo "demo=$demo flag=$flag expdir=$expdir config=$enh_config"
echo "data:$local_demo_opts"
echo "demo_args:${{cffma_demo_args[*]}}"
printf 'arg:%s\n' "${{cffma_args[@]}}"
"""


def test_run_options_are_read_in_one_place():
    res = bash(RUN_OPTIONS, "--stage", "3", "--enh_args", "--demo true",
               "--flag=true", "--demo", "true", "--demo_dir", "d x",
               "--expdir", "e", "--demo-size", "minimal")  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "demo=true flag=true expdir=e config=conf/tuning/train_demo.yaml"
    assert lines[1] == "data:--demo true --demo_dir d x --demo_size minimal"
    assert lines[2] == (
        "demo_args:--ssl_ckpt e/ssl/demo_wavlm_random.pt --ssl_random_init true "
        "--ngpu 0 --nj 2 --inference_nj 2"
    )
    # Other options reach cffma.sh in order; a value is never read as an option.
    assert lines[3:] == ["arg:--stage", "arg:3", "arg:--enh_args", "arg:--demo true"]
    plain = bash(RUN_OPTIONS, "--enh_config", "my.yaml").stdout.splitlines()
    assert plain[:3] == ["demo=false flag=false expdir=exp config=my.yaml", "data:",
                         "demo_args:"]  # fmt: skip


def test_run_options_reject_bad_values():
    for args, message in (
        (["--demo", "yes"], "--demo takes true or false, got 'yes'"),
        (["--flag", "1"], "option '--flag' takes true or false, got '1'"),
        (["--demo_dir", "x"], "the options --demo_dir x need --demo true"),
        (["--expdir"], "option '--expdir' needs a value"),
    ):
        res = bash(RUN_OPTIONS, *args)
        assert res.returncode == 1 and message in res.stderr, (args, res.stderr)


def test_run_sh_help_lists_its_options_and_cffma_sh_s():
    res = run_in_recipe("./run.sh", "--help")
    assert res.returncode == 0
    assert "BSS-CFFMA on VoiceBank-DEMAND" in res.stdout
    assert "--enh_config --expdir --local_data_opts" in res.stdout
    assert "--skip_pack true|false [true]" in res.stderr  # cffma.sh --help


def test_compare_sh_checks_its_configs(tmp_path):
    res = run_in_recipe("local/compare.sh", "--expdir", tmp_path)
    assert res.returncode == 1 and "give --configs" in res.stderr
    res = run_in_recipe("local/compare.sh", "--expdir", tmp_path, "--configs", "a.yaml")
    assert res.returncode == 1 and "'a.yaml' is not NAME=YAML" in res.stderr
    res = run_in_recipe(
        "local/compare.sh", "--expdir", tmp_path, "--configs", "a=conf/nope.yaml"
    )
    assert (
        res.returncode == 1 and "config conf/nope.yaml (for a) not found" in res.stderr
    )
    same = "a=conf/train.yaml a=conf/tuning/train_demo.yaml"
    res = run_in_recipe("local/compare.sh", "--expdir", tmp_path, "--configs", same)
    assert res.returncode == 1 and "name a given twice" in res.stderr
    res = run_in_recipe(
        "local/compare.sh", "--configs", "a=conf/train.yaml", "--enh_tag", "x"
    )
    assert res.returncode == 1 and "--enh_tag is set per config" in res.stderr


def test_run_mia_se_sh_checks_the_demo_size(tmp_path):
    # checked before any stage runs (--demo_size large picks the
    # conf/tuning/train_mia_se_demo_large_*.yaml configs)
    res = run_in_recipe(
        "local/run_mia_se.sh", "--demo", "true", "--demo_size", "huge",
        "--datadir", tmp_path / "data", "--expdir", tmp_path / "exp",
    )  # fmt: skip
    assert res.returncode == 1
    assert "--demo_size takes tiny, small or large, got 'huge'" in res.stderr
