"""One results table over several experiments (e.g. the three WHAMR! tasks).

Stage 7 of ``cffma.sh`` writes ``RESULTS.md`` and ``results.json`` per
experiment (:mod:`espnet_cffma.recipe.results`). A recipe that trains several
experiments (WHAMR!'s denoise, dereverb and joint tasks) gathers their
``results.json`` into one ``RESULTS.md``: a row per experiment, scored set and
input (the unprocessed input beside the enhanced output), with the same metric
columns as the per-experiment files.

Usage::

    python -m espnet_cffma.recipe.results_summary --title "WHAMR! (min, 16 kHz)" \
        --entry denoise mix_single_anechoic exp/denoise/enh_x/results.json \
        --entry joint mix_single_reverb exp/joint/enh_x/results.json \
        [--note TEXT] --output exp/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from espnet_cffma.fileio import write_lines_atomic, write_text_atomic
from espnet_cffma.recipe.results import COLUMNS, ResultsError, environment_section


@dataclass(frozen=True)
class Entry:
    """One experiment of the summary.

    Attributes:
        name: Row label (e.g. the task).
        input_label: What the unprocessed input is (e.g. ``mix_single_reverb``).
        results_json: The experiment's ``results.json`` (stage 7).
    """

    name: str
    input_label: str
    results_json: Path


def _load(entry: Entry) -> dict:
    path = entry.results_json
    if not path.is_file():
        raise ResultsError(
            f"{path} is missing: run stage 7 of the {entry.name} experiment first"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        sets = data["sets"]
        for name, s in sets.items():
            if not {"noisy", "enhanced", "num_utts"} <= set(s):
                raise KeyError(f"sets/{name}")
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ResultsError(f"{path} is not a stage-7 results.json ({exc})") from exc
    return data


def _cell(value, decimals: int) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{decimals}f}"


def write_summary(
    entries: list[Entry], output: str | Path, title: str = "", note: str = ""
) -> dict:
    """Writes the combined ``RESULTS.md`` and a ``results.json`` beside it.

    Args:
        entries: The experiments, in table order.
        output: Path of the Markdown file.
        title: Heading of the table (e.g. the corpus).
        note: Text shown as a note above the table.

    Returns:
        ``{entry name: {set: {"input": means, "enhanced": means,
        "num_utts": n}}}``.

    Raises:
        ResultsError: An entry's ``results.json`` is missing or malformed.
    """
    if not entries:
        raise ResultsError("no experiments to summarise")
    output = Path(output)
    loaded = [(e, _load(e)) for e in entries]
    lines = environment_section("espnet_cffma.recipe.results_summary")
    lines.append(
        "- metrics: PESQ-WB (P.862.2), STOI/ESTOI (%), SI-SNR and SDR (dB) from "
        "`espnet2.bin.enh_scoring`; CSIG/CBAK/COVL (Loizou's composite.m "
        "coefficients) from `espnet_cffma.metrics`; means over utterances; every "
        "row is scored against the anechoic target (spk1.scp)"
    )
    if note.strip():
        lines += ["", f"> **Note:** {note.strip()}"]
    lines += [
        "",
        f"## {title}" if title else "## Results",
        "",
        "|task|set|input|utts|" + "|".join(h for _, h, _ in COLUMNS) + "|",
        "|---" * (len(COLUMNS) + 4) + "|",
    ]
    summary: dict = {}
    for entry, data in loaded:
        summary[entry.name] = {}
        for set_name, s in data["sets"].items():
            summary[entry.name][set_name] = {
                "input": s["noisy"],
                "enhanced": s["enhanced"],
                "num_utts": s["num_utts"],
            }
            for label, means in (
                (f"unprocessed ({entry.input_label})", s["noisy"]),
                ("enhanced", s["enhanced"]),
            ):
                cells = [_cell(means.get(key), d) for key, _, d in COLUMNS]
                lines.append(
                    f"|{entry.name}|{set_name}|{label}|{s['num_utts']}|"
                    + "|".join(cells)
                    + "|"
                )
    lines += ["", "Experiments (per-experiment RESULTS.md, scores and pictures):", ""]
    for entry, data in loaded:
        lines.append(
            f"- {entry.name}: `{data.get('exp_dir', entry.results_json.parent)}`, "
            f"model `{data.get('model', '?')}`"
        )
    write_lines_atomic(output, lines)
    write_text_atomic(
        output.with_name("results.json"), json.dumps(summary, indent=2) + "\n"
    )
    return summary


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description="Gather several experiments' results.json into one RESULTS.md."
    )
    p.add_argument(
        "--entry",
        nargs=3,
        action="append",
        required=True,
        metavar=("NAME", "INPUT_LABEL", "RESULTS_JSON"),
        help="an experiment: row label, what its unprocessed input is, results.json",
    )
    p.add_argument("--title", default="")
    p.add_argument("--note", default="")
    p.add_argument("--output", required=True)
    return p


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = get_parser().parse_args(argv)
    entries = [Entry(n, label, Path(p)) for n, label, p in args.entry]
    try:
        write_summary(entries, args.output, args.title, args.note)
    except ResultsError as exc:
        print(f"results_summary: error: {exc}", file=sys.stderr)
        return 1
    print(f"results_summary: wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
