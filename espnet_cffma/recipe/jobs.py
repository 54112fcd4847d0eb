"""Runs a shell command as one job or as an array of jobs, locally or on Slurm.

The stage script calls it the way Kaldi-style recipes call their ``run.pl``
(``cmd.sh`` picks the backend)::

    utils/run_jobs.sh [--backend local|slurm] [--gpu N] [--mem 8G] \
        [--num_threads N] [--max_jobs_run N] [--time MIN] [--partition P] \
        [JOB=1:N] LOG COMMAND...

With ``JOB=1:N`` the command runs N times; the word ``JOB`` in the log path and
in the command is replaced by the job index (1..N). Each job writes its output
to its own log file, framed by a header (the command, the start time) and a
footer (exit code, elapsed time). The runner exits 1 when any job failed and
names the failed logs.

The ``slurm`` backend submits a job array through ``submitit`` (its ``local``
and ``debug`` clusters run the same code path on one machine, for tests).
``espnet2.bin.launch`` (multi-GPU training) calls this runner as
``CMD --gpu N LOG COMMAND...``, which both backends accept.
"""

from __future__ import annotations

import datetime
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

_ARRAY_RE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+)(?::(\d+))?$")


@dataclass
class JobRequest:
    """What to run and with which resources.

    Attributes:
        command_words: The command as a list of words (joined by :func:`join_words`).
        log: Log file path; may contain the array variable.
        array_var: Name replaced by the job index (``JOB``), or None for one job.
        start: First job index.
        end: Last job index (inclusive).
        options: Resource options (``gpu``, ``mem``, ``num_threads``, ...).
    """

    command_words: list[str]
    log: str
    array_var: str | None = None
    start: int = 1
    end: int = 1
    options: dict = field(default_factory=dict)


_OPTION_NAMES = {
    "backend",
    "gpu",
    "mem",
    "num_threads",
    "max_jobs_run",
    "time",
    "partition",
    "cluster",
    "slurm_opt",
    "num_nodes",
    "name",
    "config",
}
_DEFAULTS = {
    "backend": "local",
    "gpu": "0",
    "mem": None,
    "num_threads": "1",
    "max_jobs_run": None,
    "time": None,
    "partition": None,
    "cluster": "slurm",
    "slurm_opt": [],
    "num_nodes": "1",
    "name": None,
    "config": None,
}


def parse_command_line(argv: list[str]) -> JobRequest:
    """Parses ``[--opt VALUE]... [VAR=A:B] LOG COMMAND...``.

    Options may use dashes or underscores (``--max-jobs-run`` = ``--max_jobs_run``).

    Raises:
        ValueError: Unknown option, missing log or command, or a bad array range.
    """
    options = {k: (list(v) if isinstance(v, list) else v) for k, v in _DEFAULTS.items()}
    i = 0
    while i < len(argv) and argv[i].startswith("--"):
        word = argv[i]
        if "=" in word:
            name, value = word[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(argv):
                raise ValueError(f"option {word} needs a value")
            name, value = word[2:], argv[i + 1]
            i += 2
        name = name.replace("-", "_")
        if name not in _OPTION_NAMES:
            raise ValueError(f"unknown option --{name}")
        if name == "slurm_opt":
            options[name].append(value)
        else:
            options[name] = value
    rest = argv[i:]
    request = JobRequest(command_words=[], log="", options=options)
    if rest:
        match = _ARRAY_RE.match(rest[0])
        if match:
            request.array_var = match.group(1)
            request.start = int(match.group(2))
            request.end = int(match.group(3) or match.group(2))
            if request.end < request.start:
                raise ValueError(f"empty job range {rest[0]}")
            rest = rest[1:]
    if len(rest) < 2:
        raise ValueError("usage: [options] [JOB=1:N] LOG COMMAND...")
    request.log = rest[0]
    request.command_words = rest[1:]
    if request.array_var is not None and request.array_var not in request.log:
        raise ValueError(
            f"the log path {request.log} must contain {request.array_var} "
            "so that the jobs of the array do not share one log"
        )
    return request


def join_words(words: list[str]) -> str:
    """Joins command words into one bash command line.

    Words without whitespace are kept as they are, so ``"|"``, ``">"`` or
    ``"a|b"`` keep their shell meaning; words with whitespace (or empty words)
    are quoted, so ``--opt "a b"`` stays one argument.
    """
    out = []
    for word in words:
        if word == "" or re.search(r"\s", word):
            out.append(shlex.quote(word))
        else:
            out.append(word)
    return " ".join(out)


def expand(text: str, var: str | None, index: int) -> str:
    """Replaces every occurrence of the array variable by ``index``."""
    return text if var is None else text.replace(var, str(index))


def _now() -> str:
    return (
        datetime.datetime.now().strftime("%a %b %d %H:%M:%S %Z %Y").replace("  ", " ")
    )


# Child process groups of the local backend, killed on Ctrl-C / SIGTERM.
_children: set[subprocess.Popen] = set()
_children_lock = threading.Lock()


# PR_SET_PDEATHSIG: the job's shell gets SIGTERM when the runner dies, even by
# SIGKILL, and its trap then ends the job's whole process group.
_PR_SET_PDEATHSIG = 1


def _die_with_runner() -> None:
    """``preexec_fn``: own session, and SIGTERM when the runner dies (Linux)."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:  # the runner died before prctl took effect
            os._exit(143)


def _job_shell(command: str) -> list[str]:
    """Bash argv running ``command``, ending its process group on a signal.

    The job runs in the background of a shell that leads the job's process
    group; SIGTERM / SIGHUP / SIGINT to that shell (from the runner, or from
    the kernel when the runner dies) kill the group, training included.
    """
    script = (
        "trap 'trap - TERM HUP INT; kill -TERM 0; exit 143' TERM HUP INT\n"
        f"( {command}\n) &\nwait $!"
    )
    return ["bash", "-c", script]


def run_one(command: str, log: str) -> int:
    """Runs ``command`` with bash, output into ``log`` with header and footer.

    Returns:
        The command's exit code.
    """
    log_path = Path(log)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    start = time.time()
    with open(log_path, "w", encoding="utf-8") as f:
        f.write(f"# {command}\n# Started at {_now()}\n#\n")
        f.flush()
        proc = subprocess.Popen(
            _job_shell(command),
            stdout=f,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own process group (killed as a whole), dying with the runner.
            preexec_fn=_die_with_runner,
        )
        with _children_lock:
            _children.add(proc)
        try:
            code = proc.wait()
        finally:
            with _children_lock:
                _children.discard(proc)
        elapsed = int(time.time() - start)
        f.write(f"# Accounting: time={elapsed} threads=1\n")
        f.write(f"# Ended (code {code}) at {_now()}, elapsed time {elapsed} seconds\n")
    return code


def _kill_children(signum, frame) -> None:
    with _children_lock:
        for proc in list(_children):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    sys.exit(128 + signum)


def run_local(request: JobRequest) -> list[int]:
    """Runs the jobs on this machine, at most ``max_jobs_run`` at a time.

    Returns:
        Exit codes in job order.
    """
    indices = list(range(request.start, request.end + 1))
    max_jobs = request.options.get("max_jobs_run")
    workers = max(1, int(max_jobs)) if max_jobs else len(indices)
    command = join_words(request.command_words)
    # A closed terminal or dropped SSH connection sends SIGHUP: stop the jobs
    # too (SIGKILL of the runner is covered by _die_with_runner).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _kill_children)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(
                run_one,
                expand(command, request.array_var, i),
                expand(request.log, request.array_var, i),
            )
            for i in indices
        ]
        return [f.result() for f in futures]


def _parse_mem_gb(mem: str | None) -> float | None:
    """``"8G"`` / ``"500M"`` / ``"8"`` (GB) -> GB."""
    if mem is None:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]?)B?", mem.strip().upper())
    if not match:
        raise ValueError(f"cannot read memory size {mem!r} (e.g. 8G, 500M)")
    scale = {"K": 1 / 1024**2, "M": 1 / 1024, "G": 1.0, "T": 1024.0, "": 1.0}
    return float(match.group(1)) * scale[match.group(2)]


def _parse_time_min(value: str | None) -> int | None:
    """Minutes from ``"90"``, ``"1:30:00"`` (h:m:s) or ``"2-00:00:00"`` (d-h:m:s)."""
    if value is None:
        return None
    days = 0
    if "-" in value:
        d, value = value.split("-", 1)
        days = int(d)
    parts = [int(p) for p in value.split(":")]
    if len(parts) == 1:
        minutes = parts[0]
    elif len(parts) == 2:  # h:m
        minutes = parts[0] * 60 + parts[1]
    else:
        minutes = parts[0] * 60 + parts[1] + (1 if parts[2] > 0 else 0)
    return days * 24 * 60 + minutes


def run_slurm(request: JobRequest) -> list[int]:
    """Submits the jobs as a Slurm job array through submitit and waits.

    Returns:
        Exit codes in job order.
    """
    import submitit

    opts = request.options
    if int(opts["num_nodes"]) > 1:
        raise ValueError(
            "multi-node jobs are not supported by this runner: use one node "
            "with several GPUs (--ngpu N)"
        )
    indices = list(range(request.start, request.end + 1))
    command = join_words(request.command_words)
    first_log = Path(expand(request.log, request.array_var, request.start))
    folder = first_log.parent / ".submitit" / "%j"
    executor = submitit.AutoExecutor(folder=folder, cluster=opts["cluster"])
    extra = {}
    for item in opts["slurm_opt"]:
        key, _, value = item.partition("=")
        extra[key.replace("-", "_")] = value
    params = {
        "name": opts["name"] or Path(request.log).stem.replace(".JOB", ""),
        "timeout_min": _parse_time_min(opts["time"]) or 24 * 60,
        "mem_gb": _parse_mem_gb(opts["mem"]),
        "cpus_per_task": int(opts["num_threads"]),
        "gpus_per_node": int(opts["gpu"]) or None,
        "slurm_partition": opts["partition"],
        "slurm_array_parallelism": int(opts["max_jobs_run"])
        if opts["max_jobs_run"]
        else None,
        "slurm_additional_parameters": extra or None,
    }
    executor.update_parameters(**{k: v for k, v in params.items() if v is not None})
    commands = [expand(command, request.array_var, i) for i in indices]
    logs = [expand(request.log, request.array_var, i) for i in indices]
    # By reference (module path), not by value: under ``python -m`` this module is
    # ``__main__``, which cloudpickle would serialise with its thread locks.
    from espnet_cffma.recipe.jobs import run_one as job_function

    jobs = executor.map_array(job_function, commands, logs)
    print(
        f"submitted {len(jobs)} job(s) ({jobs[0].job_id}...), logs: {request.log}",
        file=sys.stderr,
    )
    codes = []
    for job, log in zip(jobs, logs):
        try:
            codes.append(int(job.result()))
        except Exception as exc:  # the scheduler killed it, or it never ran
            print(f"job {job.job_id} for {log} failed: {exc}", file=sys.stderr)
            codes.append(1)
    return codes


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 1
    try:
        request = parse_command_line(argv)
    except ValueError as exc:
        print(f"run_jobs: {exc}", file=sys.stderr)
        return 1
    backend = request.options["backend"]
    if backend == "local":
        codes = run_local(request)
    elif backend == "slurm":
        codes = run_slurm(request)
    else:
        print(f"run_jobs: unknown backend {backend!r} (local, slurm)", file=sys.stderr)
        return 1
    failed = [i for i, c in zip(range(request.start, request.end + 1), codes) if c]
    if failed:
        logs = [expand(request.log, request.array_var, i) for i in failed]
        shown = ", ".join(logs[:5]) + (" ..." if len(logs) > 5 else "")
        print(
            f"run_jobs: {len(failed)} / {len(codes)} job(s) failed, see {shown}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
