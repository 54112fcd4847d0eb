"""Turning command-line inputs (files, folders, Kaldi lists) into jobs.

* an audio file ``x/name.ext`` -> ``OUT/name.ext``;
* a folder -> every audio file below it (by extension, recursively), written
  to the same relative path under ``OUT`` (files already under ``OUT`` are
  skipped, so ``OUT`` may sit inside the folder);
* a Kaldi list (``*.scp``: ``<key> <path>`` per line) -> ``OUT/<key>.ext``,
  plus ``OUT/<list name>`` listing the enhanced files under the same keys.

Problems found here (missing input, pipe commands in a list, two inputs with
the same output) become per-input errors; the other inputs still run.
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from espnet_cffma.enhance.errors import EnhanceError
from espnet_cffma.fileio import ScpFormatError, iter_scp, write_lines_atomic

logger = logging.getLogger(__name__)

# Extensions picked up from folders: libsndfile's formats plus common aliases.
AUDIO_EXTENSIONS = {f".{name.lower()}" for name in sf.available_formats()} | {
    ".aif",
    ".aifc",
    ".oga",
    ".opus",
    ".snd",
    ".wave",
}


@dataclass(frozen=True)
class Job:
    """One input file and where its enhanced version goes."""

    source: Path
    output: Path
    key: str | None = None  # the utterance key for Kaldi-list inputs
    list_output: Path | None = None  # the output list this key belongs to


@dataclass
class JobList:
    """Jobs, per-input errors, and the Kaldi lists to write at the end."""

    jobs: list[Job] = field(default_factory=list)
    errors: list[EnhanceError] = field(default_factory=list)
    lists: list[Path] = field(default_factory=list)


def collect_jobs(inputs: list[str | Path], output_dir: str | Path) -> JobList:
    """Expands inputs into jobs.

    Args:
        inputs: audio files, folders and ``.scp`` lists.
        output_dir: the output root.

    Returns:
        Jobs in input order, and errors for inputs that cannot run.
    """
    output_dir = Path(output_dir)
    result = JobList()
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            _add_folder(path, output_dir, result)
        elif path.suffix == ".scp" and path.is_file():
            _add_list(path, output_dir, result)
        else:
            # Files that are missing or not audio fail later, with the reason.
            result.jobs.append(Job(path, output_dir / path.name))
    _drop_conflicts(result)
    return result


def _add_folder(folder: Path, output_dir: Path, result: JobList) -> None:
    out_root = output_dir.resolve()
    found = 0
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        if out_root in path.resolve().parents:
            continue  # our own outputs, when OUT is inside the folder
        result.jobs.append(Job(path, output_dir / path.relative_to(folder)))
        found += 1
    if not found:
        result.errors.append(EnhanceError(str(folder), "folder holds no audio files"))


def _add_list(scp: Path, output_dir: Path, result: JobList) -> None:
    list_output = output_dir / scp.name
    result.lists.append(list_output)
    try:
        lines = list(iter_scp(scp, allow_pipes=False, allow_ark=False))
    except ScpFormatError as e:
        result.errors.append(EnhanceError(str(scp), str(e).split(": ", 1)[-1]))
        return
    for line in lines:
        where, key, value = line.where, line.key, line.value
        if line.error is not None:
            result.errors.append(EnhanceError(where, line.error))
            continue
        source = Path(value)
        if not source.is_absolute() and not source.exists():
            # Kaldi lists in a recipe are relative to the recipe dir, which is
            # usually the list's grandparent (data/<set>/wav.scp).
            for base in scp.resolve().parents:
                if (base / value).exists():
                    source = base / value
                    break
        if Path(key).is_absolute() or ".." in Path(key).parts:
            result.errors.append(EnhanceError(where, f"'{key}': unsafe key"))
            continue
        output = output_dir / f"{key}{source.suffix or '.wav'}"
        result.jobs.append(Job(source, output, key=key, list_output=list_output))


def _drop_conflicts(result: JobList) -> None:
    seen: dict[Path, Job] = {}
    kept = []
    for job in result.jobs:
        out = job.output.resolve()
        if out == job.source.resolve():
            result.errors.append(
                EnhanceError(str(job.source), "output would overwrite the input")
            )
        elif out in seen:
            result.errors.append(
                EnhanceError(
                    str(job.source),
                    f"same output {job.output} as {seen[out].source}; skipped",
                )
            )
        else:
            seen[out] = job
            kept.append(job)
    result.jobs = kept


def write_lists(result: JobList, succeeded: dict[Path, Path]) -> list[Path]:
    """Writes each Kaldi output list: ``<key> <enhanced path>`` for successes.

    Args:
        result: the job list.
        succeeded: source job output -> actual output file (its extension may
            have changed).

    Returns:
        The lists written (atomically).
    """
    for list_output in result.lists:
        write_lines_atomic(
            list_output,
            (
                f"{job.key} {succeeded[job.output].resolve()}"
                for job in result.jobs
                if job.list_output == list_output and job.output in succeeded
            ),
        )
    return list(result.lists)
