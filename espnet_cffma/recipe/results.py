"""Stage 7 bookkeeping: merge per-job score files, write ``RESULTS.md``.

``merge`` gathers the per-utterance score files (``PESQ_WB_spk1``,
``CSIG_spk1`` ... written by ``espnet2.bin.enh_scoring`` and
``espnet_cffma.metrics.scoring`` into ``<logdir>/output.<n>``) into one
directory, sorted and without duplicates, and summarises them
(``result.json``, see :func:`espnet_cffma.metrics.scoring.summarize`).

``write`` makes an ESPnet-style ``RESULTS.md``: environment (date, versions, git
hash), the config and model used, an optional note, and one table per scored
set with the noisy input and the enhanced output side by side. It also writes
the same numbers to ``results.json`` beside it.

Usage::

    python -m espnet_cffma.recipe.results merge --logdir DIR/logdir --nj 4 \
        --output_dir DIR
    python -m espnet_cffma.recipe.results write --exp_dir exp/enh_x \
        --config exp/enh_x/config.yaml --model exp/enh_x/valid.loss.best.pth \
        --set test exp/scores_noisy/test exp/enh_x/enhanced/test/scoring \
        --output exp/enh_x/RESULTS.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
from pathlib import Path

from espnet_cffma.fileio import write_lines_atomic, write_text_atomic

# Columns of the tables: (score file name without _spk1, header, decimals).
COLUMNS = (
    ("PESQ_WB", "PESQ-WB", 2),
    ("CSIG", "CSIG", 2),
    ("CBAK", "CBAK", 2),
    ("COVL", "COVL", 2),
    ("STOI", "STOI (%)", 2),
    ("ESTOI", "ESTOI (%)", 2),
    ("SI_SNR", "SI-SNR (dB)", 2),
    ("SDR", "SDR (dB)", 2),
    ("DNSMOS_SIG", "DNSMOS SIG", 2),
    ("DNSMOS_BAK", "DNSMOS BAK", 2),
    ("DNSMOS_OVRL", "DNSMOS OVRL", 2),
    ("DNSMOS_P808", "DNSMOS P.808", 2),
)


class ResultsError(RuntimeError):
    """Missing or inconsistent score files."""


def merge_scores(logdir: str | Path, nj: int, output_dir: str | Path) -> dict:
    """Concatenates ``<logdir>/output.<1..nj>/*_spk*`` into ``output_dir``.

    Returns:
        The summary of :func:`espnet_cffma.metrics.scoring.summarize`.

    Raises:
        ResultsError: A job directory is missing, or an utterance was scored twice.
    """
    from espnet_cffma.metrics.scoring import summarize

    logdir, output_dir = Path(logdir), Path(output_dir)
    job_dirs = [logdir / f"output.{n}" for n in range(1, nj + 1)]
    missing = [str(d) for d in job_dirs if not d.is_dir()]
    if missing:
        raise ResultsError(f"scoring job outputs missing: {missing}")
    names = sorted({p.name for d in job_dirs for p in d.glob("*_spk[0-9]*")})
    if not names:
        raise ResultsError(f"no score files in {logdir}/output.*")
    for name in names:
        lines: dict[str, str] = {}
        for d in job_dirs:
            path = d / name
            if not path.is_file():
                continue
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                key = line.split(maxsplit=1)[0]
                if key in lines and lines[key] != line:
                    raise ResultsError(
                        f"{key} scored twice with different values in {name}"
                    )
                lines[key] = line
        write_lines_atomic(output_dir / name, [lines[k] for k in sorted(lines)])
    return summarize(output_dir)


def _run(cmd: list[str], cwd: Path) -> str:
    try:
        out = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=20, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def environment() -> list[tuple[str, str]]:
    """(label, value) lines describing the software that produced the results."""
    import importlib.metadata as md

    def version(pkg: str) -> str:
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return "not installed"

    repo = Path(__file__).resolve().parents[2]
    git_hash = _run(["git", "describe", "--always", "--dirty", "--abbrev=12"], repo)
    commit_date = _run(["git", "log", "-1", "--format=%cd"], repo)
    env = [
        (
            "date",
            datetime.datetime.now().astimezone().strftime("%a %b %d %H:%M:%S %Z %Y"),
        ),
        ("python version", f"{platform.python_version()} ({sys.executable})"),
        ("espnet version", f"espnet {version('espnet')}"),
        ("pytorch version", f"pytorch {version('torch')}"),
        ("espnet_cffma version", f"espnet_cffma {version('espnet_cffma')}"),
        ("Git hash", git_hash or "unknown (not a git checkout)"),
    ]
    if commit_date:
        env.append(("Commit date", commit_date))
    return env


def environment_section(generator: str) -> list[str]:
    """Markdown lines opening a RESULTS.md: a generator comment and the environment.

    Args:
        generator: what wrote the file, named in the leading HTML comment.
    """
    lines = [f"<!-- Generated by {generator} -->", "# RESULTS", "## Environments"]
    for label, value in environment():
        # ESPnet nests the commit date under the git hash.
        indent = "  " if label == "Commit date" else ""
        lines.append(f"{indent}- {label}: `{value}`")
    return lines


def _read_summary(score_dir: Path) -> dict:
    path = score_dir / "result.json"
    if not path.is_file():
        raise ResultsError(f"{path} is missing: run the scoring of stage 7 first")
    data = json.loads(path.read_text(encoding="utf-8"))
    return {"means": data.get("means", {}), "counts": data.get("counts", {})}


def _fmt(value, decimals: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{decimals}f}"


def write_results(
    exp_dir: str | Path,
    config: str | Path,
    model: str | Path,
    sets: list[tuple[str, str, str]],
    output: str | Path,
    note: str = "",
    resolved_config: str | Path | None = None,
) -> dict:
    """Writes ``RESULTS.md`` and ``results.json`` (same folder).

    Args:
        exp_dir: Experiment directory (named in the headings).
        config: Training config used.
        model: Model file used for enhancement.
        sets: (set name, noisy score dir, enhanced score dir) per scored set.
        output: Path of ``RESULTS.md``.
        note: Text shown as a note under the environment.
        resolved_config: The complete config ESPnet saved for the run
            (``<exp>/config.yaml``), named beside ``config``.

    Returns:
        ``{set: {"noisy": means, "enhanced": means, "num_utts": n}}``.
    """
    exp_dir, model, output = Path(exp_dir), Path(model), Path(output)
    lines = environment_section("espnet_cffma.recipe.results (stage 7 of cffma.sh)")
    target = f" -> `{os.readlink(model)}`" if model.is_symlink() else ""
    lines += [
        f"- config: `{config}`"
        + (f" (as run: `{resolved_config}`)" if resolved_config else ""),
        f"- model: `{model}`{target}",
        "- metrics: PESQ-WB (P.862.2), STOI/ESTOI (%), SI-SNR and SDR (dB) from "
        "`espnet2.bin.enh_scoring`; CSIG/CBAK/COVL (Loizou's composite.m "
        "coefficients) from `espnet_cffma.metrics`; DNSMOS P.835 SIG/BAK/OVRL "
        "and P.808 (non-intrusive, `speechmos`); means over utterances",
    ]
    if note.strip():
        lines += ["", f"> **Note:** {note.strip()}"]
    table_data = {}
    for name, noisy_dir, enh_dir in sets:
        noisy = _read_summary(Path(noisy_dir))
        enh = _read_summary(Path(enh_dir))
        num = max(enh["counts"].values(), default=0)
        table_data[name] = {
            "noisy": noisy["means"],
            "enhanced": enh["means"],
            "num_utts": num,
        }
        lines += [
            "",
            f"## {exp_dir.name}: {name} ({num} utterances)",
            "",
            "|system|" + "|".join(h for _, h, _ in COLUMNS) + "|",
            "|---" * (len(COLUMNS) + 1) + "|",
        ]
        for label, summary in (("noisy", noisy), ("enhanced", enh)):
            cells = [_fmt(summary["means"].get(key), d) for key, _, d in COLUMNS]
            lines.append(f"|{label}|" + "|".join(cells) + "|")
        short = [
            f"{label} {h}: {summary['counts'].get(key, 0)} of {num}"
            for label, summary in (("noisy", noisy), ("enhanced", enh))
            for key, h, _ in COLUMNS
            if summary["counts"].get(key, 0) < num
        ]
        if short:
            lines += [
                "",
                "Scored on fewer utterances (no speech found): " + "; ".join(short),
            ]
    write_lines_atomic(output, lines)
    payload = {"exp_dir": str(exp_dir), "model": str(model), "sets": table_data}
    write_text_atomic(
        output.with_name("results.json"), json.dumps(payload, indent=2) + "\n"
    )
    return table_data


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(description="Merge scores and write RESULTS.md.")
    sub = p.add_subparsers(dest="command", required=True)
    m = sub.add_parser("merge", help="merge per-job score files")
    m.add_argument("--logdir", required=True)
    m.add_argument("--nj", type=int, required=True)
    m.add_argument("--output_dir", required=True)
    w = sub.add_parser("write", help="write RESULTS.md")
    w.add_argument("--exp_dir", required=True)
    w.add_argument("--config", required=True, help="training config given")
    w.add_argument("--resolved_config", default=None, help="<exp>/config.yaml")
    w.add_argument("--model", required=True)
    w.add_argument("--note", default="")
    w.add_argument(
        "--set",
        nargs=3,
        action="append",
        required=True,
        metavar=("NAME", "NOISY_SCORES", "ENHANCED_SCORES"),
    )
    w.add_argument("--output", required=True)
    return p


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = get_parser().parse_args(argv)
    try:
        if args.command == "merge":
            summary = merge_scores(args.logdir, args.nj, args.output_dir)
            print(f"results: merged {len(summary)} score files into {args.output_dir}")
        else:
            write_results(
                args.exp_dir,
                args.config,
                args.model,
                [tuple(s) for s in args.set],
                args.output,
                args.note,
                args.resolved_config,
            )
            print(f"results: wrote {args.output}")
    except ResultsError as exc:
        print(f"results: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
