"""The WHAMR! recipe: data prep of the three tasks, its errors, the summary
table, and ./run.sh --demo true for one task through stages 1-7.

The corpus is the minimal WHAMR!-style demo (12/4/4 mixtures built from the
Debian speech/noise cache, see test_demo_corpus.py); the end-to-end run trains
the tiny demo model for one epoch with every output under pytest's temporary
folder. Tests that need the corpus are marked ``slow``.
"""

import json
import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from recipe_checks import METRIC_RANGES, recipe_env

from espnet_cffma.demo.rooms import direct_path_lag
from espnet_cffma.demo.whamr import build_whamr_demo
from espnet_cffma.fileio import read_scp
from espnet_cffma.recipe.data_dir import validate
from espnet_cffma.recipe.results import ResultsError
from espnet_cffma.recipe.results_summary import Entry, write_summary

RECIPE = Path(__file__).resolve().parents[1] / "egs2" / "whamr"
SPLITS = {"tr": 12, "cv": 4, "tt": 4}
# task -> (input folder, {extra list: folder})
TASKS = {
    "denoise": ("mix_single_anechoic", {"noise1.scp": "noise"}),
    "dereverb": ("s1_reverb", {"dereverb1.scp": "s1_anechoic"}),
    "joint": (
        "mix_single_reverb",
        {"noise1.scp": "noise", "dereverb1.scp": "s1_anechoic"},
    ),
}
ONE_MS = 16  # samples at 16 kHz
LSB = 1 / 32768  # one step of 16-bit audio


def run(cmd, env=None):
    return subprocess.run(
        list(map(str, cmd)),
        cwd=RECIPE,
        env=env or recipe_env(),
        capture_output=True,
        text=True,
    )


def data_sh(corpus, datadir, task, *args, env=None):
    cmd = ["local/data.sh", "--corpus_dir", corpus, "--datadir", datadir]
    return run([*cmd, "--task", task, *args], env=env)


def read(path):
    return sf.read(path, dtype="float64")[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    # Same sizes, voices and seed as ./run.sh --demo_size tiny: run.sh reuses it.
    return build_whamr_demo(
        tmp_path_factory.mktemp("whamr") / "corpus",
        n_tr=12,
        n_cv=4,
        n_tt=4,
        seed=0,
        voices="many",
    )


@pytest.fixture(scope="module")
def prepared(corpus, tmp_path_factory):
    datadir = tmp_path_factory.mktemp("whamr_data")
    for task in TASKS:
        res = data_sh(corpus, datadir, task)
        assert res.returncode == 0, res.stderr
    return datadir


# ---------------------------------------------------------------- data prep


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TASKS))
def test_data_dirs_pair_the_right_folders(corpus, prepared, task):
    input_kind, extra = TASKS[task]
    for split, count in SPLITS.items():
        d = prepared / f"{task}_min_{split}"
        assert validate(d) == count
        lists = {p.name for p in d.iterdir()}
        assert lists == {"wav.scp", "spk1.scp", "utt2spk", "spk2utt", *extra}
        folder = Path(corpus).resolve() / "wav16k" / "min" / split
        names = sorted(p.stem for p in (folder / input_kind).glob("*.wav"))
        expected = {"wav.scp": input_kind, "spk1.scp": "s1_anechoic", **extra}
        for scp, kind in expected.items():
            entries = read_scp(d / scp)
            assert sorted(entries) == names, (split, scp)
            for utt, path in entries.items():
                assert Path(path).resolve() == folder / kind / f"{utt}.wav", scp
        utt2spk = read_scp(d / "utt2spk")
        assert all(spk == utt[:3] for utt, spk in utt2spk.items())


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TASKS))
def test_inputs_are_target_plus_what_the_task_removes(corpus, prepared, task):
    """denoise: input = s1_anechoic + noise; dereverb: input = s1_reverb;
    joint: input = s1_reverb + noise (to 16-bit rounding)."""
    for split in SPLITS:
        d = prepared / f"{task}_min_{split}"
        wav, target = read_scp(d / "wav.scp"), read_scp(d / "spk1.scp")
        for utt, path in wav.items():
            x = read(path)
            reverb = read(Path(path).parents[1] / "s1_reverb" / f"{utt}.wav")
            if task == "denoise":
                residual = x - read(target[utt]) - read(read_scp(d / "noise1.scp")[utt])
            elif task == "dereverb":
                residual = x - reverb
            else:
                residual = x - reverb - read(read_scp(d / "noise1.scp")[utt])
            assert np.abs(residual).max() <= 3 * LSB, (split, utt)
            assert len(x) == len(read(target[utt]))


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(TASKS))
def test_target_aligned_with_input_direct_path(prepared, task):
    for split in SPLITS:
        d = prepared / f"{task}_min_{split}"
        wav, target = read_scp(d / "wav.scp"), read_scp(d / "spk1.scp")
        for utt in wav:
            s, x = read(target[utt]), read(wav[utt])
            lag = direct_path_lag(s, x, max_lag=800)
            assert abs(lag) <= ONE_MS, (split, utt, lag)
    # The check can fail: a target 2.5 ms late is found 40 samples off.
    s = read(target[utt])
    late = np.concatenate([np.zeros(40), s[:-40]])
    assert direct_path_lag(late, read(wav[utt]), max_lag=800) in (-41, -40, -39)


def _partial_tree(corpus, dest, skip=(), drop_file=None):
    """A copy of the corpus layout (folders symlinked) without ``skip`` folders."""
    src = Path(corpus) / "wav16k" / "min"
    for split_dir in src.iterdir():
        for kind_dir in split_dir.iterdir():
            rel = f"{split_dir.name}/{kind_dir.name}"
            if rel in skip:
                continue
            out = dest / "wav16k" / "min" / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            if rel == drop_file:
                shutil.copytree(kind_dir, out)
                sorted(out.glob("*.wav"))[0].unlink()
            else:
                out.symlink_to(kind_dir.resolve())
    return dest


@pytest.mark.slow
def test_missing_folders_are_all_named(corpus, tmp_path):
    tree = _partial_tree(
        corpus, tmp_path / "whamr", skip=("tt/mix_single_reverb", "cv/noise")
    )
    res = data_sh(tree, tmp_path / "data", "joint")
    assert res.returncode == 1
    for rel in ("tt/mix_single_reverb", "cv/noise"):
        assert f"{tree}/wav16k/min/{rel}" in res.stderr
    assert "missing WHAMR! folder(s) for the joint task" in res.stderr
    for hint in ("WSJ0", "LDC", "WHAM! noise", "create_wham_from_scratch", "--demo"):
        assert hint in res.stderr
    assert not (tmp_path / "data").exists()
    # denoise does not read mix_single_reverb but needs cv/noise: only that is named.
    res = data_sh(tree, tmp_path / "data", "denoise")
    assert res.returncode == 1
    assert "cv/noise" in res.stderr and "mix_single_reverb" not in res.stderr
    # dereverb needs neither: it works on the same tree.
    res = data_sh(tree, tmp_path / "data", "dereverb")
    assert res.returncode == 0, res.stderr


@pytest.mark.slow
def test_unpaired_files_and_bad_settings_are_reported(corpus, tmp_path):
    tree = _partial_tree(corpus, tmp_path / "whamr", drop_file="tr/s1_anechoic")
    res = data_sh(tree, tmp_path / "data", "dereverb")
    assert res.returncode == 1
    assert "do not hold the same files: 1 only in the first" in res.stderr
    assert f"{tree}/wav16k/min/tr/s1_reverb" in res.stderr

    res = run(["local/data.sh", "--task", "joint"], env=recipe_env(WHAMR=""))
    assert res.returncode == 1 and "WHAMR is not set" in res.stderr
    res = data_sh(corpus, tmp_path / "data", "separate")
    assert res.returncode == 1 and "choose denoise, dereverb or joint" in res.stderr
    res = data_sh(corpus, tmp_path / "data", "joint", "--min_or_max", "mid")
    assert res.returncode == 1 and "choose min or max" in res.stderr
    eight = tmp_path / "only8k"
    (eight / "wav8k" / "min").mkdir(parents=True)
    res = data_sh(eight, tmp_path / "data", "joint")
    assert res.returncode == 1 and "only the 8 kHz version" in res.stderr


def test_run_sh_rejects_bad_options():
    res = run(["./run.sh", "--tasks", "denoise separate"])
    assert res.returncode == 1 and "unknown task 'separate'" in res.stderr
    res = run(["./run.sh", "--enh_exp", "exp/x"])
    assert res.returncode == 1 and "--enh_exp is not supported" in res.stderr
    res = run(["./run.sh", "--min_or_max=mid"])
    assert res.returncode == 1 and "--min_or_max takes min or max" in res.stderr


# ---------------------------------------------------------------- summary table


def _results_json(path, sets):
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"exp_dir": str(path.parent), "model": "m.pth", "sets": sets}
    path.write_text(json.dumps(payload))
    return path


def test_summary_has_a_row_per_task_set_and_input(tmp_path):
    means = {"PESQ_WB": 1.5, "CSIG": 2.0, "STOI": 80.0, "SDR": None}
    a = _results_json(
        tmp_path / "a" / "results.json",
        {
            "denoise_min_cv": {"noisy": means, "enhanced": means, "num_utts": 4},
            "denoise_min_tt": {
                "noisy": means,
                "enhanced": {**means, "PESQ_WB": 2.25},
                "num_utts": 3,
            },
        },
    )
    b = _results_json(
        tmp_path / "b" / "results.json",
        {"joint_min_tt": {"noisy": means, "enhanced": means, "num_utts": 3}},
    )
    out = tmp_path / "RESULTS.md"
    summary = write_summary(
        [Entry("denoise", "mix_single_anechoic", a), Entry("joint", "mix_x", b)],
        out,
        title="WHAMR!",
        note="random weights",
    )
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert rows[0].startswith("|task|set|input|utts|PESQ-WB|CSIG|CBAK|COVL|STOI (%)")
    body = [r.strip("|").split("|") for r in rows[2:]]
    assert [r[:4] for r in body] == [
        ["denoise", "denoise_min_cv", "unprocessed (mix_single_anechoic)", "4"],
        ["denoise", "denoise_min_cv", "enhanced", "4"],
        ["denoise", "denoise_min_tt", "unprocessed (mix_single_anechoic)", "3"],
        ["denoise", "denoise_min_tt", "enhanced", "3"],
        ["joint", "joint_min_tt", "unprocessed (mix_x)", "3"],
        ["joint", "joint_min_tt", "enhanced", "3"],
    ]
    # PESQ-WB, CSIG, CBAK, COVL, STOI, ESTOI, SI-SNR, SDR, then the four DNSMOS.
    expected = ["2.25", "2.00", "n/a", "n/a", "80.00", "n/a", "n/a", "n/a"]
    assert body[3][4:] == expected + ["n/a"] * 4
    assert "> **Note:** random weights" in text and "## WHAMR!" in text
    assert summary["denoise"]["denoise_min_tt"]["enhanced"]["PESQ_WB"] == 2.25
    assert json.loads((tmp_path / "results.json").read_text()) == summary


def test_summary_errors_name_the_file(tmp_path):
    missing = tmp_path / "nope" / "results.json"
    with pytest.raises(ResultsError, match="nope/results.json is missing"):
        write_summary([Entry("joint", "x", missing)], tmp_path / "R.md")
    bad = tmp_path / "bad.json"
    bad.write_text('{"sets": {"tt": {"noisy": {}}}}')
    with pytest.raises(ResultsError, match="bad.json is not a stage-7 results.json"):
        write_summary([Entry("joint", "x", bad)], tmp_path / "R.md")
    assert not (tmp_path / "R.md").exists()


# ---------------------------------------------------------------- end to end


def parse_summary(text):
    """{(task, set, input): {metric: value}} from the summary table."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    header = rows[0].strip("|").split("|")
    table = {}
    for row in rows[2:]:
        cells = row.strip("|").split("|")
        table[tuple(cells[:3])] = {
            "utts": int(cells[3]),
            **{h: float(c) for h, c in zip(header[4:], cells[4:])},
        }
    return table


@pytest.fixture(scope="module")
def demo_run(corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("whamr_recipe")
    cmd = [
        "./run.sh",
        "--demo", "true",
        "--demo_size", "tiny",
        "--demo_dir", corpus,
        "--tasks", "joint",
        "--datadir", root / "data",
        "--dumpdir", root / "dump",
        "--expdir", root / "exp",
        "--enh_args", "--max_epoch 1",
        "--score_sets", "joint_min_tt",  # the valid set is scored the same way
    ]  # fmt: skip
    res = run(cmd)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return root, res.stdout + res.stderr


@pytest.mark.slow
def test_demo_run_data_and_enhanced_files(corpus, demo_run):
    root, output = demo_run
    assert "WHAMR! demo already complete" in output  # the fixture's corpus reused
    for split, count in SPLITS.items():
        name = f"joint_min_{split}"
        assert validate(root / "data" / name) == count
        dump = root / "dump" / "raw" / name
        assert {p.name for p in dump.glob("*.scp")} == {
            "wav.scp",
            "spk1.scp",
            "noise1.scp",
            "dereverb1.scp",
        }
    exp = root / "exp" / "joint" / "enh_train_demo"
    assert (exp / "valid.loss.best.pth").exists()
    assert "1epoch results" in (exp / "train.log").read_text()
    assert (root / "exp" / "ssl" / "demo_wavlm_random.pt").is_file()
    noisy = read_scp(root / "dump" / "raw" / "joint_min_tt" / "wav.scp")
    enhanced = read_scp(exp / "enhanced_valid.loss.best" / "joint_min_tt" / "spk1.scp")
    assert sorted(enhanced) == sorted(noisy) and len(enhanced) == SPLITS["tt"]
    for utt, path in enhanced.items():
        y, fs = sf.read(path)
        assert fs == 16000 and y.ndim == 1
        assert len(y) == sf.info(noisy[utt]).frames
        assert np.all(np.isfinite(y)) and np.abs(y).max() > 1e-4


@pytest.mark.slow
def test_demo_run_results(demo_run):
    root, _ = demo_run
    text = (root / "exp" / "RESULTS.md").read_text()
    assert "RANDOM weights" in text and "not on WHAMR!" in text
    assert "## WHAMR! (min, 16 kHz): joint" in text
    table = parse_summary(text)
    assert set(table) == {
        ("joint", "joint_min_tt", "unprocessed (mix_single_reverb)"),
        ("joint", "joint_min_tt", "enhanced"),
    }
    for key, values in table.items():
        assert values.pop("utts") == SPLITS["tt"]
        assert set(values) == set(METRIC_RANGES), key
        for metric, value in values.items():
            lo, hi = METRIC_RANGES[metric]
            assert math.isfinite(value) and lo <= value <= hi, (key, metric)
    # The summary repeats the task's own RESULTS.md numbers.
    own = (root / "exp" / "joint" / "enh_train_demo" / "RESULTS.md").read_text()
    enhanced_row = re.search(r"^\|enhanced\|(.*)\|$", own, flags=re.M).group(1)
    own_values = [float(v) for v in enhanced_row.split("|")]
    assert own_values == list(table[("joint", "joint_min_tt", "enhanced")].values())
