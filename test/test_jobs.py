"""espnet_cffma.recipe.jobs: the job runner behind cmd.sh (local and Slurm)."""

import subprocess
import sys

import pytest

from espnet_cffma.recipe import jobs


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
