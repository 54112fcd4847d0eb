"""One training per experiment folder: a lock held by the running training.

The lock is an ``flock`` on ``<output_dir>/.training.lock``, so the kernel
releases it when the training process ends in any way (even SIGKILL): a lock
file left by a process that is gone is stale and simply taken over. The file
names the holder (pid, host, command) for the message a second start gets.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
from pathlib import Path

LOCK_NAME = ".training.lock"

_held: list = []  # open lock files of this process, kept until it exits


class ExperimentBusyError(RuntimeError):
    """Another process is training in the same experiment folder."""


def acquire_experiment_lock(output_dir: str | os.PathLike, command: str = "") -> Path:
    """Takes the training lock of ``output_dir`` for the rest of this process.

    Args:
        output_dir: the experiment folder (created if missing).
        command: what runs, recorded for the message of a refused second start.

    Returns:
        The lock file path.

    Raises:
        ExperimentBusyError: a living process holds the lock; the message names
            its pid, host and command.
    """
    path = Path(output_dir) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "an unknown process"
        handle.close()
        raise ExperimentBusyError(
            f"A training is already running in {Path(output_dir)} ({holder}). "
            "Wait for it or stop it (kill that pid) before starting another one "
            "there: two trainings would write the same checkpoints."
        ) from None
    handle.seek(0)
    previous = handle.read().strip()
    if previous:
        print(
            f"Taking over the stale training lock of {path} (its holder is gone: "
            f"{previous})",
            file=sys.stderr,
        )
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on {socket.gethostname()}: {command}\n")
    handle.flush()
    _held.append(handle)
    return path
