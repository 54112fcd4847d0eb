"""Recipe machinery: option parsing, job runner, audio formatting, data dirs,
SSL check, results tables, pictures, configs, and local/data.sh errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from espnet_cffma.recipe import (
    data_dir,
    format_audio,
    jobs,
    results,
    spectrogram,
    ssl_check,
)
from espnet_cffma.recipe.format_audio import FormatError

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "egs2" / "TEMPLATE"
VOICEBANK = REPO / "egs2" / "voicebank"


def bash(script, *args, cwd=None, env=None):
    return subprocess.run(
        ["bash", "-c", script, "bash", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


def recipe_env():
    """Environment for running recipe scripts with this interpreter, no install."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    env["CFFMA_SKIP_INSTALL"] = "1"
    return env


# ---------------------------------------------------------------- parse_options


PARSE = f"""
stage=1; use_gpu=false; name="a b"; help_message="usage: test"
. {TEMPLATE}/utils/parse_options.sh
echo "stage=$stage use_gpu=$use_gpu name=$name rest=$*"
"""


def test_parse_options_sets_values_and_leaves_positionals():
    out = bash(PARSE, "--stage", "3", "--use-gpu", "true", "--name", "x y", "p1", "p2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "stage=3 use_gpu=true name=x y rest=p1 p2"
    out = bash(PARSE, "--stage=7", "--", "--not-an-option")
    assert out.stdout.strip() == "stage=7 use_gpu=false name=a b rest=--not-an-option"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--stgae", "3"], "unknown option '--stgae'"),
        (["--use_gpu", "yes"], "takes true or false, got 'yes'"),
        (["--stage"], "option '--stage' needs a value"),
        (["--bad.name", "1"], "invalid option"),
    ],
)
def test_parse_options_rejects_bad_options(args, message):
    out = bash(PARSE, *args)
    assert out.returncode == 1
    assert message in out.stderr
    assert "stage=" not in out.stdout


def test_parse_options_help():
    out = bash(PARSE, "--help")
    assert out.returncode == 0 and "usage: test" in out.stderr


# ---------------------------------------------------------------- shell helpers


LIB = f". {TEMPLATE}/scripts/utils/lib.sh\n"


def test_write_sorted_is_atomic_and_deduplicates(tmp_path):
    out = tmp_path / "d" / "wav.scp"
    script = LIB + 'printf "b 2\\na 1\\nb 2\\n" | write_sorted "$1"; cat "$1"'
    for _ in range(2):  # rerunning gives the same file
        res = bash(script, out)
        assert res.returncode == 0, res.stderr
        assert res.stdout == "a 1\nb 2\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["wav.scp"]  # no tmp left
    dup = bash(LIB + 'printf "a 1\\na 2\\n" > "$1"; check_unique_keys "$1"', out)
    assert dup.returncode == 1 and "appear more than once: a" in dup.stderr


def test_split_scp_covers_input_in_order(tmp_path):
    scp = tmp_path / "in.scp"
    scp.write_text("".join(f"u{i:02d} x\n" for i in range(10)))
    res = bash(LIB + 'split_scp "$1" 3 "$2"/keys', scp, tmp_path)
    assert res.returncode == 0, res.stderr
    pieces = [(tmp_path / f"keys.{n}.scp").read_text() for n in (1, 2, 3)]
    assert all(pieces) and "".join(pieces) == scp.read_text()
    res = bash(LIB + 'split_scp "$1" 11 "$2"/keys', scp, tmp_path)
    assert res.returncode == 1 and "cannot split" in res.stderr


def test_done_markers_compare_signatures(tmp_path):
    script = LIB + (
        'is_done "$1" sig1 && echo before; mark_done "$1" sig1; '
        'is_done "$1" sig1 && echo same; is_done "$1" sig2 || echo changed'
    )
    res = bash(script, tmp_path / "step")
    assert res.stdout.split() == ["same", "changed"]


# ---------------------------------------------------------------- job runner


def test_parse_job_command_line():
    req = jobs.parse_command_line(
        ["--max-jobs-run", "2", "--gpu", "1", "JOB=1:4", "log/x.JOB.log", "echo", "JOB"]
    )
    assert (req.array_var, req.start, req.end) == ("JOB", 1, 4)
    assert req.options["max_jobs_run"] == "2" and req.options["gpu"] == "1"
    assert req.log == "log/x.JOB.log" and req.command_words == ["echo", "JOB"]
    single = jobs.parse_command_line(["--gpu", "2", "train.log", "python", "-m", "x"])
    assert single.array_var is None and single.log == "train.log"
    with pytest.raises(ValueError, match="unknown option"):
        jobs.parse_command_line(["--bogus", "1", "log", "cmd"])
    with pytest.raises(ValueError, match="must contain JOB"):
        jobs.parse_command_line(["JOB=1:2", "same.log", "cmd"])
    with pytest.raises(ValueError, match="usage"):
        jobs.parse_command_line(["JOB=1:2", "x.JOB.log"])


def test_join_words_quotes_only_words_with_spaces():
    assert (
        jobs.join_words(["echo", "a b", "|", "tr", "a", "A"]) == "echo 'a b' | tr a A"
    )
    assert jobs.join_words(["--conf", "{a: 1}", ""]) == "--conf '{a: 1}' ''"


def test_local_jobs_write_logs_and_report_failures(tmp_path, capsys):
    code = jobs.main(
        [
            "JOB=1:3",
            f"{tmp_path}/ok.JOB.log",
            "echo",
            "hello world",
            "JOB",
            "|",
            "tr",
            "a-z",
            "A-Z",
        ]
    )
    assert code == 0
    log = (tmp_path / "ok.2.log").read_text()
    assert "HELLO WORLD 2" in log
    assert log.startswith("# echo 'hello world' 2 | tr a-z A-Z")
    assert "# Ended (code 0)" in log
    code = jobs.main(
        [
            "--max_jobs_run",
            "1",
            "JOB=1:3",
            f"{tmp_path}/f.JOB.log",
            "exit",
            "$((JOB-2))",
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "2 / 3 job(s) failed" in err and f"{tmp_path}/f.1.log" in err
    assert "# Ended (code 0)" in (tmp_path / "f.2.log").read_text()


def test_submitit_backend_runs_job_arrays(tmp_path):
    # submitit's "local" cluster runs the same submission code path as Slurm.
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "espnet_cffma.recipe.jobs",
            "--backend",
            "slurm",
            "--cluster",
            "local",
            "--mem",
            "1G",
            "--time",
            "0:10:00",
            "JOB=1:2",
            f"{tmp_path}/s.JOB.log",
            "echo",
            "job JOB",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert "job 2" in (tmp_path / "s.2.log").read_text()
    assert jobs._parse_time_min("1-01:30:00") == 24 * 60 + 90
    assert jobs._parse_mem_gb("512M") == 0.5


# ---------------------------------------------------------------- format_audio


def write_data_dir(root, signals, fs, refs=True):
    """Kaldi data dir from {utt: noisy} (clean = 0.5 * noisy)."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    wav, spk1, u2s = [], [], []
    for utt, x in sorted(signals.items()):
        sf.write(root / "src" / f"{utt}_n.wav", x, fs, subtype="FLOAT")
        sf.write(root / "src" / f"{utt}_c.wav", 0.5 * x, fs, subtype="FLOAT")
        wav.append(f"{utt} {root}/src/{utt}_n.wav\n")
        spk1.append(f"{utt} {root}/src/{utt}_c.wav\n")
        u2s.append(f"{utt} {utt.split('_')[0]}\n")
    data = root / "data"
    data.mkdir(exist_ok=True)
    (data / "wav.scp").write_text("".join(wav))
    if refs:
        (data / "spk1.scp").write_text("".join(spk1))
    (data / "utt2spk").write_text("".join(u2s))
    return data


def test_format_resamples_once_with_high_quality(tmp_path):
    fs_in, n = 48000, 48000 + 7
    t = np.arange(n) / fs_in
    tone = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    data = write_data_dir(tmp_path, {"s1_a": tone, "s1_b": tone[:24000]}, fs_in)
    counts = format_audio.format_data_dir(
        data, tmp_path / "out", fs=16000, scps=["wav.scp", "spk1.scp"], nj=2
    )
    assert counts["kept"] == 2
    out = tmp_path / "out"
    x, fs = sf.read(out / "audio" / "wav" / "s1_a.wav", dtype="float64")
    assert fs == 16000
    assert len(x) == round(n / 3)
    assert (out / "utt2num_samples").read_text() == f"s1_a {len(x)}\ns1_b 8000\n"
    # Compare with the ideal 16 kHz tone away from the edges: one good resampling
    # step (plus 16-bit rounding) leaves the error near -90 dB.
    ideal = 0.5 * np.sin(2 * np.pi * 1000.0 * np.arange(len(x)) / 16000)
    mid = slice(800, len(x) - 800)
    err_db = 10 * np.log10(
        np.mean((x[mid] - ideal[mid]) ** 2) / np.mean(ideal[mid] ** 2)
    )
    assert err_db < -70
    assert sf.info(out / "audio" / "wav" / "s1_a.wav").subtype == "PCM_16"
    for name in ("wav.scp", "spk1.scp"):
        lines = (out / name).read_text().splitlines()
        assert [line.split()[0] for line in lines] == ["s1_a", "s1_b"]
    assert (out / "spk2utt").read_text() == "s1 s1_a s1_b\n"


def test_format_copies_audio_already_at_target_rate(tmp_path):
    rng = np.random.default_rng(0)
    x = np.round(rng.uniform(-0.5, 0.5, 16000) * 32767) / 32768
    data = write_data_dir(tmp_path, {"s_a": x}, 16000)
    format_audio.format_data_dir(data, tmp_path / "out", fs=16000)
    y, fs = sf.read(tmp_path / "out" / "audio" / "wav" / "s_a.wav", dtype="float64")
    assert fs == 16000 and np.array_equal(x, y)


def make_bad_corpus(tmp_path):
    good = 0.1 * np.ones(16000)
    data = write_data_dir(tmp_path, {"a_ok": good, "b_nan": good, "c_st": good}, 16000)
    sf.write(
        tmp_path / "src" / "b_nan_n.wav", np.full(16000, np.nan), 16000, subtype="FLOAT"
    )
    sf.write(tmp_path / "src" / "c_st_c.wav", np.zeros((16000, 2)), 16000)
    sf.write(tmp_path / "src" / "d_empty_n.wav", np.zeros(0), 16000)
    sf.write(tmp_path / "src" / "d_empty_c.wav", np.zeros(0), 16000)
    sf.write(tmp_path / "src" / "e_len_n.wav", good, 16000)
    sf.write(tmp_path / "src" / "e_len_c.wav", good[:8000], 16000)
    with open(data / "wav.scp", "a") as f:
        f.write(
            f"d_empty {tmp_path}/src/d_empty_n.wav\ne_len {tmp_path}/src/e_len_n.wav\n"
        )
        f.write(f"f_gone {tmp_path}/src/nothing.wav\n")
    with open(data / "spk1.scp", "a") as f:
        f.write(
            f"d_empty {tmp_path}/src/d_empty_c.wav\ne_len {tmp_path}/src/e_len_c.wav\n"
        )
        f.write(f"f_gone {tmp_path}/src/c_st_c.wav\n")
    with open(data / "utt2spk", "a") as f:
        f.write("d_empty d\ne_len e\nf_gone f\n")
    return data


def test_format_reports_bad_files_by_name(tmp_path):
    data = make_bad_corpus(tmp_path)
    with pytest.raises(FormatError) as err:
        format_audio.format_data_dir(data, tmp_path / "out", scps=["spk1.scp"])
    msg = str(err.value)
    assert "5 utterance(s)" in msg and "--skip_bad true" in msg
    assert "b_nan_n.wav\tcontains NaN or Inf samples" in msg
    assert "c_st_c.wav\tmulti-channel (2 channels)" in msg
    assert "d_empty_n.wav\tempty (0 samples)" in msg
    assert "e_len_c.wav\tlength mismatch" in msg
    assert "nothing.wav\tfile does not exist" in msg
    assert not (tmp_path / "out" / "wav.scp").exists()  # nothing half-written
    bad = (tmp_path / "out" / "bad_files.txt").read_text().splitlines()
    assert len(bad) == 7  # one line per bad file: d_empty and f_gone have two
    assert len({line.split("\t")[0] for line in bad}) == 5
    counts = format_audio.format_data_dir(
        data, tmp_path / "out", scps=["spk1.scp"], skip_bad=True
    )
    assert counts["kept"] == 1 and counts["bad"] == 5
    assert (tmp_path / "out" / "wav.scp").read_text().split()[0] == "a_ok"


def test_format_cli_exit_code_and_duration_filter(tmp_path, capsys):
    sig = {"s_short": np.ones(800) * 0.1, "s_mid": np.ones(16000) * 0.1}
    sig["s_long"] = np.ones(48000) * 0.1
    data = write_data_dir(tmp_path, sig, 16000)
    args = ["--in_dir", str(data), "--out_dir", str(tmp_path / "out")]
    code = format_audio.main(
        args
        + [
            "--scps",
            "wav.scp",
            "spk1.scp",
            "--min_duration",
            "0.1",
            "--max_duration",
            "2",
        ]
    )
    assert code == 0
    assert "kept 1, too long 1, too short 1" in capsys.readouterr().out
    assert (tmp_path / "out" / "wav.scp").read_text().split()[0] == "s_mid"
    filtered = (tmp_path / "out" / "filtered_utts.txt").read_text()
    assert "s_short\t0.050\ttoo short" in filtered
    # Rerun without filters: all kept, the stale report is gone, no duplicates.
    assert format_audio.main(args + ["--min_duration", "none"]) == 0
    keys = [
        line.split()[0]
        for line in (tmp_path / "out" / "wav.scp").read_text().splitlines()
    ]
    assert keys == ["s_long", "s_mid", "s_short"]
    assert not (tmp_path / "out" / "filtered_utts.txt").exists()
    (data / "utt2spk").write_text("s_mid s\n")
    assert format_audio.main(args) == 1
    assert (
        "utt2spk does not match wav.scp: 2 utterance(s) missing"
        in capsys.readouterr().err
    )


def test_read_scp_rejects_pipes_and_duplicates(tmp_path):
    scp = tmp_path / "wav.scp"
    scp.write_text("a sox x.wav -t wav - |\n")
    with pytest.raises(FormatError, match="pipes are not supported"):
        format_audio.read_scp(scp)
    scp.write_text("a x.wav\na y.wav\n")
    with pytest.raises(FormatError, match="wav.scp:2: duplicate utterance id a"):
        format_audio.read_scp(scp)


# ---------------------------------------------------------------- data dirs


def test_validate_data_dir(tmp_path):
    data = write_data_dir(tmp_path, {"s_a": np.ones(100), "s_b": np.ones(100)}, 16000)
    (data / "spk2utt").write_text("s s_a s_b\n")
    assert data_dir.validate(data) == 2
    (data / "spk2utt").write_text("s s_a\n")
    with pytest.raises(FormatError, match="spk2utt does not match utt2spk"):
        data_dir.validate(data)
    (data / "spk2utt").unlink()
    lines = (data / "spk1.scp").read_text().splitlines()
    (data / "spk1.scp").write_text("\n".join(reversed(lines)) + "\n")
    with pytest.raises(FormatError, match="spk1.scp is not sorted"):
        data_dir.validate(data)
    (data / "spk1.scp").write_text(lines[0] + "\n")
    with pytest.raises(FormatError, match="spk1.scp and wav.scp list different"):
        data_dir.validate(data)
    (data / "spk1.scp").write_text("\n".join(lines) + "\n")
    (tmp_path / "src" / "s_b_c.wav").unlink()
    with pytest.raises(FormatError, match="1 audio file"):
        data_dir.validate(data)
    assert data_dir.main(["validate", str(tmp_path / "none")]) == 1


# ---------------------------------------------------------------- SSL check


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


# ---------------------------------------------------------------- results, pictures


def write_scores(root, job, scores):
    d = root / f"output.{job}"
    d.mkdir(parents=True)
    for name, values in scores.items():
        (d / f"{name}_spk1").write_text(
            "".join(f"{k} {v}\n" for k, v in values.items())
        )


def fake_score_dir(root, offset):
    metrics = ["PESQ_WB", "CSIG", "CBAK", "COVL", "STOI", "ESTOI", "SI_SNR", "SDR"]
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
        in text
    )
    assert "|noisy|2.00|2.00|2.00|2.00|2.00|2.00|2.00|2.00|" in text
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


def test_spectrogram_pictures(tmp_path):
    rng = np.random.default_rng(0)
    scps = {}
    for name in ("noisy", "enhanced", "clean"):
        lines = []
        for i in range(5):
            path = tmp_path / f"{name}_{i}.wav"
            sf.write(path, 0.1 * rng.standard_normal(8000), 16000)
            lines.append(f"u{i} {path}\n")
        scps[name] = tmp_path / f"{name}.scp"
        scps[name].write_text("".join(lines))
    code = spectrogram.main(
        ["--noisy_scp", str(scps["noisy"]), "--enhanced_scp", str(scps["enhanced"]),
         "--clean_scp", str(scps["clean"]), "--num", "3",
         "--output_dir", str(tmp_path / "img")]
    )  # fmt: skip
    assert code == 0
    pngs = sorted(p.name for p in (tmp_path / "img").iterdir())
    assert pngs == ["u0.png", "u2.png", "u4.png"]
    assert (tmp_path / "img" / "u0.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FormatError, match="not in all three lists"):
        spectrogram.make_pictures(*scps.values(), tmp_path / "img", keys=["zz"])


# ---------------------------------------------------------------- configs


@pytest.mark.parametrize(
    "config",
    sorted((VOICEBANK / "conf" / "tuning").glob("*.yaml")),
    ids=lambda p: p.stem,
)
def test_recipe_configs_build(config, ssl_checkpoints):
    """Every config parses with ESPnet and builds (SSL swapped for a tiny local one)."""
    from espnet2.tasks.enh import EnhancementTask

    from espnet_cffma.registry import register_espnet_classes

    register_espnet_classes()
    raw = yaml.safe_load(config.read_text())
    assert raw["init"] == "xavier_normal" and raw["separator"] == "bss_cffma"
    assert raw["criterions"][0]["name"] == "log1p_mask_l1"
    assert raw["criterions"][0]["wrapper"] == "fixed_order_others"
    # One random 1.28 s crop per utterance per epoch, random gain U(1, 2.5).
    assert raw["iterator_type"] == "sequence"
    assert raw["preprocessor"] == "random_crop_gain"
    assert raw["preprocessor_conf"] == {"crop_length": 20480, "gain_range": [1, 2.5]}
    if config.stem != "train_demo":
        assert raw["batch_size"] == 16 and raw["optim_conf"]["lr"] == 1e-4
        # BSSE-SE's 100 epochs of ceil(11572 / 16) updates.
        assert raw["max_epoch"] * raw["num_iters_per_epoch"] == 100 * 724
    ckpt = ssl_checkpoints[("wavlm", "layer_norm")]
    parser = EnhancementTask.get_parser()
    args = parser.parse_args(
        ["--config", str(config), "--output_dir", "unused",
         "--separator_conf", "ssl_upstream=wavlm_local",
         "--separator_conf", f"ssl_path_or_url={ckpt}"]
    )  # fmt: skip
    model = EnhancementTask.build_model(args)
    assert type(model.separator).__name__ == "BSSCFFMASeparator"
    assert model.separator.ssl.finetune == raw["separator_conf"]["ssl_finetune"]
    optim = EnhancementTask.build_optimizers(args, model)[0]
    assert optim.param_groups[0]["lr"] == raw["optim_conf"]["lr"]
    preprocess = EnhancementTask.build_preprocess_fn(args, train=True)
    assert type(preprocess).__name__ == "RandomCropGainPreprocessor"


def test_default_config_is_wavlm_large_pf():
    link = VOICEBANK / "conf" / "train.yaml"
    assert link.is_symlink()
    assert os.readlink(link) == "tuning/train_bss_cffma_wavlm_large_pf.yaml"


# ---------------------------------------------------------------- data.sh, cffma.sh


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
