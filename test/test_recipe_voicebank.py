"""The VoiceBank-DEMAND recipe end to end: ./run.sh --demo true, stages 1-7.

Runs the real recipe scripts on a minimal demo corpus (8 training and 4 test
utterances built from the Debian speech/noise cache, see test_demo_corpus.py),
one epoch of the tiny demo model, with every output directory under pytest's
temporary folder, then reruns stages to check they are safe to repeat.
"""

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from recipe_checks import METRIC_RANGES, recipe_env

from espnet_cffma.fileio import read_scp
from espnet_cffma.recipe.data_dir import validate

RECIPE = Path(__file__).resolve().parents[1] / "egs2" / "voicebank"
# Every test here runs the recipe's stages (Debian downloads, training).
pytestmark = pytest.mark.slow


def run_recipe(root, *args):
    cmd = [
        "./run.sh",
        "--demo", "true",
        "--demo_dir", root / "corpus",
        "--demo_n_train", "8",
        "--demo_n_test", "4",
        # Asterisk's voices alone: two training people, so that validation
        # (p287) and training (p226) get 4 utterances each.
        "--demo_voices", "asterisk",
        "--datadir", root / "data",
        "--dumpdir", root / "dump",
        "--expdir", root / "exp",
        "--enh_args", "--max_epoch 1",
        *args,
    ]  # fmt: skip
    res = subprocess.run(
        list(map(str, cmd)),
        cwd=RECIPE,
        env=recipe_env(),
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    return res.stdout + res.stderr  # stage output goes to stdout (through tee)


def parse_results(text):
    """{set: {system: {metric: value}}} from the RESULTS.md tables."""
    tables = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        title = block.splitlines()[0]
        match = re.match(r"enh_train_demo: (\w+) \((\d+) utterances\)", title)
        if not match:
            continue
        rows = [line for line in block.splitlines() if line.startswith("|")]
        header = rows[0].strip("|").split("|")
        table = {}
        for row in rows[2:]:
            cells = row.strip("|").split("|")
            table[cells[0]] = {h: float(c) for h, c in zip(header[1:], cells[1:])}
        tables[match.group(1)] = (int(match.group(2)), table)
    return tables


def keys(path):
    return [line.split()[0] for line in Path(path).read_text().splitlines()]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("vb_recipe")
    output = run_recipe(root, "--stage", "1", "--stop_stage", "7")
    return root, output


def test_data_dirs(demo_run):
    root, _ = demo_run
    counts = {
        name: validate(root / "data" / name) for name in ("train", "valid", "test")
    }
    assert counts == {"train": 4, "valid": 4, "test": 4}
    assert set(keys(root / "data" / "valid" / "utt2spk")) == {
        f"p287_00{i}" for i in range(1, 5)
    }
    assert {line.split()[1] for line in open(root / "data" / "test" / "utt2spk")} == {
        "p232",
        "p257",
    }
    for name in ("train", "valid", "test"):
        dump = root / "dump" / "raw" / name
        assert (dump / ".done").is_file()
        num = dict(line.split() for line in open(dump / "utt2num_samples"))
        for utt, path in read_scp(dump / "spk1.scp").items():
            info = sf.info(path)
            assert info.samplerate == 16000 and info.frames == int(num[utt])
            # 48 kHz corpus, resampled once: a third of the original length.
            src = read_scp(root / "data" / name / "spk1.scp")[utt]
            assert abs(info.frames - sf.info(src).frames / 3) <= 1


def test_enhanced_outputs(demo_run):
    root, _ = demo_run
    exp = root / "exp" / "enh_train_demo"
    assert (exp / "valid.loss.best.pth").exists() and (exp / "train.log").is_file()
    assert "1epoch results" in (exp / "train.log").read_text()
    for name in ("valid", "test"):
        noisy = read_scp(root / "dump" / "raw" / name / "wav.scp")
        enhanced = read_scp(exp / "enhanced_valid.loss.best" / name / "spk1.scp")
        assert sorted(enhanced) == sorted(noisy) and len(enhanced) == 4
        for utt, path in enhanced.items():
            y, fs = sf.read(path)
            assert fs == 16000 and y.ndim == 1
            assert len(y) == sf.info(noisy[utt]).frames
            assert np.all(np.isfinite(y)) and np.abs(y).max() > 1e-4


def test_results_md(demo_run):
    root, output = demo_run
    exp = root / "exp" / "enh_train_demo"
    text = (exp / "RESULTS.md").read_text()
    assert "RANDOM weights" in text and "--ssl_ckpt PATH" in text
    assert "- model: `" in text and "valid.loss.best.pth" in text
    assert "- pytorch version: `pytorch " in text and "- Git hash: `" in text
    tables = parse_results(text)
    assert set(tables) == {"valid", "test"}
    for name, (num, table) in tables.items():
        assert num == 4
        assert set(table) == {"noisy", "enhanced"}
        for system, values in table.items():
            assert set(values) == set(METRIC_RANGES), (name, system)
            for metric, value in values.items():
                lo, hi = METRIC_RANGES[metric]
                assert math.isfinite(value) and lo <= value <= hi, (
                    name,
                    system,
                    metric,
                )
    images = sorted((exp / "images" / "test").glob("*.png"))
    assert len(images) == 3
    assert "Successfully finished" in output
    times = (root / "exp" / "logs" / "stage_times.txt").read_text().split()
    assert times[0::2] == [f"stage{n}" for n in range(1, 8)]
    for n in range(1, 8):
        log = (root / "exp" / "logs" / f"stage{n}.log").read_text()
        assert f"# stage {n} finished" in log


def test_rerunning_stages_is_safe(demo_run):
    root, _ = demo_run
    # Changed settings redo stage 2 from scratch; unchanged stages are skipped.
    output = run_recipe(
        root, "--stage", "1", "--stop_stage", "2", "--min_wav_duration", "0.2"
    )
    assert "train: already formatted" not in output
    assert "test: already formatted" in output  # test sets are never filtered
    for name in ("train", "valid", "test"):
        for scp in ("wav.scp", "spk1.scp", "utt2spk", "utt2num_samples"):
            entries = keys(root / "dump" / "raw" / name / scp)
            assert len(entries) == len(set(entries)) == 4, (name, scp)
        assert validate(root / "data" / name) == 4
    before = (root / "exp" / "enh_train_demo" / "RESULTS.md").read_text()
    output = run_recipe(root, "--stage", "6", "--stop_stage", "7")
    assert output.count("already enhanced") == 2
    assert output.count("already scored") == 4
    after = (root / "exp" / "enh_train_demo" / "RESULTS.md").read_text()
    assert parse_results(after) == parse_results(before)
    enhanced = keys(root / "exp/enh_train_demo/enhanced_valid.loss.best/test/spk1.scp")
    assert len(enhanced) == len(set(enhanced)) == 4


def test_pack_stage_makes_an_archive_cffma_enhance_loads(demo_run, tmp_path):
    root, _ = demo_run
    # Stage 8 is opt-in: in range but skipped by default, run with --skip_pack false.
    output = run_recipe(root, "--stage", "8", "--stop_stage", "8")
    assert "Stage 8: pack skipped (--skip_pack true)" in output
    archive = root / "exp" / "enh_train_demo" / "packed" / "enh_train_demo.zip"
    assert not archive.exists()
    output = run_recipe(
        root, "--stage", "8", "--stop_stage", "8", "--skip_pack", "false"
    )
    assert archive.is_file() and f"Packed model: {archive}" in output
    noisy = sorted((root / "dump" / "raw" / "test").rglob("*.wav"))[0]
    result = subprocess.run(
        [sys.executable, "-m", "espnet_cffma.bin.enhance", "--model", str(archive),
         "--unpack_dir", str(tmp_path / "unpacked"), str(noisy), "-o",
         str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    enhanced = list((tmp_path / "out").rglob("*.wav"))
    assert len(enhanced) == 1
    assert sf.info(enhanced[0]).frames == sf.info(noisy).frames
