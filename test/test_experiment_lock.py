"""One training per experiment folder; local jobs die with their runner."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from espnet_cffma.recipe.experiment_lock import (
    LOCK_NAME,
    ExperimentBusyError,
    acquire_experiment_lock,
)

HOLDER = textwrap.dedent(
    """
    import sys, time
    from espnet_cffma.recipe.experiment_lock import acquire_experiment_lock
    acquire_experiment_lock(sys.argv[1], "holder-training")
    print("locked", flush=True)
    time.sleep(600)  # killed by the test
    """
)

SLEEPER = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"  # noqa: E501


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_for(predicate, timeout=20.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def start_holder(exp):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(exp)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_second_training_is_refused_then_stale_lock_taken_over(tmp_path):
    exp = tmp_path / "exp"
    holder = start_holder(exp)
    try:
        with pytest.raises(ExperimentBusyError, match=f"pid {holder.pid}.*holder"):
            acquire_experiment_lock(exp, "second")
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone (SIGKILL): its lock file is stale and taken over.
    assert f"pid {holder.pid}" in (exp / LOCK_NAME).read_text()
    acquire_experiment_lock(exp, "third")
    assert f"pid {os.getpid()}" in (exp / LOCK_NAME).read_text()


def test_enh_train_refuses_a_running_experiment(tmp_path):
    exp = tmp_path / "exp"
    holder = start_holder(exp)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "espnet_cffma.bin.enh_train", "--output_dir", exp],
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode != 0
    assert "already running" in result.stderr and f"pid {holder.pid}" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGKILL, signal.SIGTERM])
def test_local_jobs_die_with_the_runner(tmp_path, signum):
    pid_file = tmp_path / "job.pid"
    runner = subprocess.Popen(
        [sys.executable, "-m", "espnet_cffma.recipe.jobs", str(tmp_path / "job.log"),
         sys.executable, "-c", SLEEPER, str(pid_file)],
        start_new_session=True,
    )  # fmt: skip
    try:
        assert wait_for(lambda: pid_file.is_file() and pid_file.read_text())
        job_pid = int(pid_file.read_text())
        assert alive(job_pid)
        os.kill(runner.pid, signum)
        runner.wait(timeout=20)
        assert wait_for(lambda: not alive(job_pid)), "the job outlived its runner"
    finally:
        if runner.poll() is None:
            runner.kill()
