"""Stage 2: resample a Kaldi-style data dir once to the model rate, check it, filter it.

Reads ``<in_dir>/wav.scp`` and the reference lists named with ``--scps``
(``spk1.scp``, ``noise1.scp``, ``dereverb1.scp`` ...), and writes to
``<out_dir>``:

- ``audio/<name>/<utt>.wav``: each file resampled with soxr (very high quality)
  straight from its original rate to ``--fs``, in one step (a file already at
  ``--fs`` is copied sample for sample);
- the same ``*.scp`` names pointing at those files, ``utt2spk``, ``spk2utt``,
  ``utt2num_samples`` (length at ``--fs``);
- ``bad_files.txt`` (utterance, file, problem) and ``filtered_utts.txt``
  (utterance, duration, reason) when there is anything to report.

Multi-channel, empty, unreadable, NaN/Inf files and length mismatches between
the lists of one utterance are reported by name; the run fails on them unless
``--skip_bad true`` drops those utterances. Utterances outside
``[--min_duration, --max_duration]`` seconds (of the ``wav.scp`` file) are
dropped. Every output is written atomically (temporary file, then rename).

Usage::

    python -m espnet_cffma.recipe.format_audio --in_dir data/train \
        --out_dir dump/raw/train --fs 16000 --scps wav.scp spk1.scp --nj 4
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from espnet2.utils.types import str2bool
from tqdm import tqdm

from espnet_cffma.fileio import (
    ScpFormatError,
    atomic_path,
    read_scp,
    write_lines_atomic,
)

log = logging.getLogger("format_audio")

# soxr's best quality: the one resampling step should not add audible artefacts.
RESAMPLE_QUALITY = "VHQ"


class FormatError(RuntimeError):
    """Bad input lists (not bad audio, which is collected and reported)."""


@dataclass
class UttResult:
    """Outcome for one utterance.

    Attributes:
        utt: Utterance id.
        status: ``ok``, ``filtered`` or ``bad``.
        num_samples: Length at the target rate (``ok``).
        outputs: scp name -> written file (``ok``).
        problems: (scp name, source file, problem) for ``bad``.
        reason: Why it was filtered (``filtered``).
        duration: Duration in seconds of the ``wav.scp`` file.
        clipped: scp names whose resampled signal exceeded full scale.
    """

    utt: str
    status: str
    num_samples: int = 0
    outputs: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    reason: str = ""
    duration: float = 0.0
    clipped: list = field(default_factory=list)


def _read_checked(path: str) -> tuple[np.ndarray | None, int, str]:
    """Reads a mono file as float64; returns (signal, rate, problem or "")."""
    try:
        info = sf.info(path)
    except Exception as exc:  # soundfile raises several types for unreadable files
        if not os.path.exists(path):
            return None, 0, "file does not exist"
        return None, 0, f"cannot read audio ({exc})"
    if info.channels != 1:
        return (
            None,
            info.samplerate,
            (
                f"multi-channel ({info.channels} channels): "
                "single-channel audio expected"
            ),
        )
    if info.frames == 0:
        return None, info.samplerate, "empty (0 samples)"
    try:
        x, rate = sf.read(path, dtype="float64", always_2d=False)
    except Exception as exc:
        return None, info.samplerate, f"cannot read audio ({exc})"
    if not np.all(np.isfinite(x)):
        return None, rate, "contains NaN or Inf samples"
    return x, rate, ""


def _write_wav_atomic(path: Path, x: np.ndarray, fs: int, subtype: str) -> None:
    with atomic_path(path) as tmp:
        sf.write(tmp, x, fs, subtype=subtype, format="WAV")


@dataclass
class _Job:
    """Settings shared by all utterances (sent once to each worker)."""

    out_dir: Path
    fs: int
    subtype: str
    min_duration: float | None
    max_duration: float | None


def process_utterance(job: _Job, utt: str, sources: dict[str, str]) -> UttResult:
    """Checks, filters, resamples and writes one utterance's files.

    Args:
        job: Shared settings.
        utt: Utterance id.
        sources: scp name (``wav``, ``spk1`` ...) -> source file; ``wav`` first.

    Returns:
        What happened, for the summary and the output lists.
    """
    # Duration filter from the header only: no decoding for dropped utterances.
    main = sources["wav"]
    try:
        info = sf.info(main)
        duration = info.frames / info.samplerate
    except Exception:
        duration = -1.0  # unreadable: reported below by _read_checked
    if duration >= 0:
        if job.min_duration is not None and duration < job.min_duration:
            return UttResult(utt, "filtered", reason="too short", duration=duration)
        if job.max_duration is not None and duration > job.max_duration:
            return UttResult(utt, "filtered", reason="too long", duration=duration)

    signals = {}
    problems = []
    for name, path in sources.items():
        x, rate, problem = _read_checked(path)
        if problem:
            problems.append((name, path, problem))
        else:
            signals[name] = (x, rate)
    if problems:
        return UttResult(utt, "bad", problems=problems, duration=duration)

    lengths = {name: len(x) * job.fs / rate for name, (x, rate) in signals.items()}
    ref_len = lengths["wav"]
    for name, length in lengths.items():
        # Files of one utterance must align sample for sample (training crops them
        # together); allow only the rounding of a rate conversion.
        if abs(length - ref_len) >= 1.0:
            problems.append(
                (
                    name,
                    sources[name],
                    f"length mismatch: {length / job.fs:.4f} s vs "
                    f"{ref_len / job.fs:.4f} s in wav.scp ({sources['wav']})",
                )
            )
    if problems:
        return UttResult(utt, "bad", problems=problems, duration=duration)

    result = UttResult(utt, "ok", duration=duration)
    n_out = None
    for name, (x, rate) in signals.items():
        if rate != job.fs:
            x = soxr.resample(x, rate, job.fs, quality=RESAMPLE_QUALITY)
        if n_out is None:
            n_out = len(x)
        elif len(x) != n_out:  # off-by-one after resampling different rates
            x = x[:n_out] if len(x) > n_out else np.pad(x, (0, n_out - len(x)))
        if job.subtype.startswith("PCM") and np.max(np.abs(x)) > 1.0:
            result.clipped.append(name)
            x = np.clip(x, -1.0, 1.0)
        out = job.out_dir / "audio" / name / f"{utt}.wav"
        _write_wav_atomic(out, x, job.fs, job.subtype)
        result.outputs[name] = str(out)
    result.num_samples = int(n_out)
    return result


_worker_job: _Job | None = None


def _init_worker(job: _Job) -> None:
    global _worker_job
    _worker_job = job


def _work(item: tuple[str, dict[str, str]]) -> UttResult:
    utt, sources = item
    return process_utterance(_worker_job, utt, sources)


def _read_lists(in_dir: Path, scps: list[str]) -> tuple[dict, dict[str, str]]:
    """Reads the audio lists and ``utt2spk`` and checks they name the same utterances.

    Returns:
        (list name without ``.scp`` -> {utt: file}, with ``wav`` first; utt2spk).

    Raises:
        FormatError: A list is missing, empty or names other utterances.
        ScpFormatError: A list is malformed (names the file and line).
    """
    lists = {}
    for scp in scps:
        path = in_dir / scp
        if not path.is_file():
            raise FormatError(f"{path} is missing")
        lists[scp[: -len(".scp")]] = read_scp(path)
    utt2spk_path = in_dir / "utt2spk"
    if not utt2spk_path.is_file():
        raise FormatError(f"{utt2spk_path} is missing")
    utt2spk = read_scp(utt2spk_path)
    if not lists["wav"]:
        raise FormatError(f"{in_dir / 'wav.scp'} is empty")
    for name, entries in list(lists.items()) + [("utt2spk", utt2spk)]:
        missing = [k for k in sorted(lists["wav"]) if k not in entries]
        extra = [k for k in entries if k not in lists["wav"]]
        if missing or extra:
            raise FormatError(
                f"{in_dir}: {name} does not match wav.scp: "
                f"{len(missing)} utterance(s) missing (e.g. {missing[:3]}), "
                f"{len(extra)} extra (e.g. {extra[:3]})"
            )
    return lists, utt2spk


def _process_all(job: _Job, items: list, nj: int, desc: str) -> list[UttResult]:
    """Runs :func:`process_utterance` over ``(utt, sources)`` items, ``nj`` at once.

    Returns:
        The results, sorted by utterance id.
    """
    results: list[UttResult] = []
    progress = tqdm(total=len(items), desc=desc, unit="utt")
    if nj <= 1:
        _init_worker(job)
        for item in items:
            results.append(_work(item))
            progress.update()
    else:
        ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ctx.Pool(nj, initializer=_init_worker, initargs=(job,)) as pool:
            for res in pool.imap_unordered(_work, items, chunksize=8):
                results.append(res)
                progress.update()
    progress.close()
    return sorted(results, key=lambda r: r.utt)


@dataclass
class _Report:
    """What happened to the utterances of a data dir.

    Attributes:
        counts: ``kept``, ``too short``, ``too long``, ``bad``, ``clipped``.
        bad: ``utt, list, file, problem`` lines (``bad_files.txt``).
        filtered: ``utt, duration, reason`` lines (``filtered_utts.txt``).
        clipped: ``utt lists`` lines (``clipped_utts.txt``).
    """

    counts: dict = field(default_factory=lambda: defaultdict(int))
    bad: list = field(default_factory=list)
    filtered: list = field(default_factory=list)
    clipped: list = field(default_factory=list)


def _report(results: list[UttResult]) -> _Report:
    report = _Report()
    for r in results:
        if r.status == "ok":
            report.counts["kept"] += 1
            if r.clipped:
                report.clipped.append(f"{r.utt} {','.join(r.clipped)}")
        elif r.status == "filtered":
            report.counts[r.reason] += 1
            report.filtered.append(f"{r.utt}\t{r.duration:.3f}\t{r.reason}")
        else:
            report.counts["bad"] += 1
            for name, path, problem in r.problems:
                report.bad.append(f"{r.utt}\t{name}.scp\t{path}\t{problem}")
    report.counts["clipped"] = len(report.clipped)
    return report


def _write_report_files(out_dir: Path, report: _Report) -> None:
    """Writes the non-empty report files; removes stale ones of an earlier run."""
    for fname, lines in (
        ("bad_files.txt", report.bad),
        ("filtered_utts.txt", report.filtered),
        ("clipped_utts.txt", report.clipped),
    ):
        if lines:
            write_lines_atomic(out_dir / fname, lines)
        elif (out_dir / fname).exists():
            (out_dir / fname).unlink()


def _check_bad_audio(
    in_dir: Path, out_dir: Path, report: _Report, skip_bad: bool
) -> None:
    """Fails on bad audio (unless ``skip_bad``); warns about clipped files."""
    if report.bad:
        shown = "\n  ".join(report.bad[:20])
        more = f"\n  ... ({len(report.bad) - 20} more)" if len(report.bad) > 20 else ""
        msg = (
            f"{report.counts['bad']} utterance(s) of {in_dir} have bad audio "
            f"(full list: {out_dir / 'bad_files.txt'}):\n  {shown}{more}"
        )
        if not skip_bad:
            raise FormatError(
                msg + "\nFix or remove these files, or drop them with --skip_bad true "
                "(cffma.sh: --skip_bad_audio true)."
            )
        log.warning("%s\nDropped (--skip_bad true).", msg)
    if report.clipped:
        log.warning(
            "%d utterance(s) exceeded full scale after resampling and were clipped "
            "(list: %s)",
            len(report.clipped),
            out_dir / "clipped_utts.txt",
        )


def _write_lists(
    out_dir: Path, kept: list[UttResult], names: list[str], utt2spk: dict[str, str]
) -> None:
    """Writes the formatted data dir's lists for the kept utterances."""
    for name in names:
        write_lines_atomic(
            out_dir / f"{name}.scp", [f"{r.utt} {r.outputs[name]}" for r in kept]
        )
    write_lines_atomic(
        out_dir / "utt2num_samples", [f"{r.utt} {r.num_samples}" for r in kept]
    )
    write_lines_atomic(out_dir / "utt2spk", [f"{r.utt} {utt2spk[r.utt]}" for r in kept])
    spk2utt = defaultdict(list)
    for r in kept:
        spk2utt[utt2spk[r.utt]].append(r.utt)
    write_lines_atomic(
        out_dir / "spk2utt", [f"{s} {' '.join(u)}" for s, u in sorted(spk2utt.items())]
    )


def format_data_dir(
    in_dir: str | Path,
    out_dir: str | Path,
    fs: int = 16000,
    scps: list[str] | None = None,
    nj: int = 1,
    min_duration: float | None = None,
    max_duration: float | None = None,
    skip_bad: bool = False,
    subtype: str = "PCM_16",
) -> dict[str, int]:
    """Formats one data dir (see the module docstring).

    Args:
        in_dir: Kaldi-style data dir with ``wav.scp`` and ``utt2spk``.
        out_dir: Output dir (created).
        fs: Target sampling rate in Hz.
        scps: scp files to format; ``wav.scp`` is always included first.
        nj: Worker processes.
        min_duration: Drop utterances shorter than this (seconds), or None.
        max_duration: Drop utterances longer than this (seconds), or None.
        skip_bad: Drop utterances with bad files instead of failing.
        subtype: Output sample format (``PCM_16``, ``PCM_24``, ``FLOAT``).

    Returns:
        Counts: ``kept``, ``too short``, ``too long``, ``bad``, ``clipped``.

    Raises:
        FormatError: Missing or inconsistent lists, no utterance left, or bad
            files (unless ``skip_bad``); the message names them.
        ScpFormatError: A malformed list (the message names the file and line).
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    names = ["wav.scp"] + [s for s in (scps or []) if s != "wav.scp"]
    lists, utt2spk = _read_lists(in_dir, names)
    for name in lists:
        (out_dir / "audio" / name).mkdir(parents=True, exist_ok=True)
    items = [
        (u, {name: lists[name][u] for name in lists}) for u in sorted(lists["wav"])
    ]
    job = _Job(out_dir, fs, subtype, min_duration, max_duration)
    results = _process_all(job, items, nj, desc=f"format {in_dir.name}")
    report = _report(results)
    _write_report_files(out_dir, report)
    _check_bad_audio(in_dir, out_dir, report, skip_bad)
    kept = [r for r in results if r.status == "ok"]
    if not kept:
        raise FormatError(
            f"no utterance of {in_dir} is left after filtering "
            f"({dict(report.counts)}; durations must be within "
            f"[{min_duration}, {max_duration}] s)"
        )
    _write_lists(out_dir, kept, list(lists), utt2spk)
    return dict(report.counts)


def _optional_float(value: str) -> float | None:
    return None if value.lower() in ("", "none", "null") else float(value)


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description="Resample, check and filter a Kaldi-style data dir.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--in_dir", required=True, help="data dir with wav.scp, utt2spk")
    p.add_argument("--out_dir", required=True)
    p.add_argument("--fs", type=int, default=16000, help="target rate (Hz)")
    p.add_argument("--scps", nargs="+", default=["wav.scp"], help="scp files to format")
    p.add_argument("--nj", type=int, default=1, help="parallel worker processes")
    p.add_argument("--min_duration", type=_optional_float, default=None)
    p.add_argument("--max_duration", type=_optional_float, default=None)
    p.add_argument("--skip_bad", type=str2bool, default=False)
    p.add_argument("--subtype", default="PCM_16", help="PCM_16, PCM_24 or FLOAT")
    return p


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        counts = format_data_dir(
            args.in_dir,
            args.out_dir,
            fs=args.fs,
            scps=args.scps,
            nj=args.nj,
            min_duration=args.min_duration,
            max_duration=args.max_duration,
            skip_bad=args.skip_bad,
            subtype=args.subtype,
        )
    except (FormatError, ScpFormatError) as exc:
        print(f"format_audio: error: {exc}", file=sys.stderr)
        return 1
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v)
    print(f"format_audio: {args.in_dir} -> {args.out_dir}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
