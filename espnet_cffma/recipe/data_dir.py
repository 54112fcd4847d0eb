"""Checks a Kaldi-style data dir as the recipes write it (end of stage 1).

A valid dir has ``wav.scp`` and ``utt2spk``, optionally ``spk<n>.scp``,
``noise<n>.scp``, ``dereverb<n>.scp`` and ``spk2utt``; every list is sorted in
C order, has unique ids and the same ids as ``wav.scp``; ``spk2utt`` is the
inverse of ``utt2spk``; every listed audio file exists.

Usage::

    python -m espnet_cffma.recipe.data_dir validate data/train
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import defaultdict
from pathlib import Path

from espnet_cffma.fileio import ScpFormatError, read_scp
from espnet_cffma.recipe.format_audio import FormatError

_AUDIO_LIST = re.compile(r"^(wav|spk\d+|noise\d+|dereverb\d+)\.scp$")


def _check_required(data_dir: Path) -> None:
    if not data_dir.is_dir():
        raise FormatError(f"data dir {data_dir} does not exist")
    for required in ("wav.scp", "utt2spk"):
        if not (data_dir / required).is_file():
            raise FormatError(f"{data_dir / required} is missing")


def _check_list(path: Path, reference: dict[str, str], check_files: bool) -> None:
    """One list: sorted, same utterances as ``wav.scp``, audio files present."""
    entries = read_scp(path)  # raises on duplicate ids, naming the line
    keys = list(entries)
    if keys != sorted(keys):
        raise FormatError(f"{path} is not sorted (use: LC_ALL=C sort -u)")
    if set(entries) != set(reference):
        missing = sorted(set(reference) - set(entries))[:3]
        extra = sorted(set(entries) - set(reference))[:3]
        raise FormatError(
            f"{path} and wav.scp list different utterances "
            f"(missing e.g. {missing}, extra e.g. {extra})"
        )
    if check_files and path.name != "utt2spk":
        absent = [v for v in entries.values() if not Path(v).is_file()]
        if absent:
            raise FormatError(
                f"{path}: {len(absent)} audio file(s) do not exist, e.g. {absent[0]}"
            )


def _check_spk2utt(data_dir: Path) -> None:
    """``spk2utt``, when present, is the inverse of ``utt2spk``."""
    path = data_dir / "spk2utt"
    if not path.is_file():
        return
    expected = defaultdict(set)
    for utt, spk in read_scp(data_dir / "utt2spk").items():
        expected[spk].add(utt)
    found = {spk: set(utts.split()) for spk, utts in read_scp(path).items()}
    if found != dict(expected):
        raise FormatError(f"{path} does not match utt2spk")


def validate(data_dir: str | Path, check_files: bool = True) -> int:
    """Validates a data dir.

    Args:
        data_dir: The directory.
        check_files: Also check that every audio file exists.

    Returns:
        The number of utterances.

    Raises:
        FormatError: The first problem found, naming the file.
        ScpFormatError: A malformed list (names the file and line).
    """
    data_dir = Path(data_dir)
    _check_required(data_dir)
    reference = read_scp(data_dir / "wav.scp")
    if not reference:
        raise FormatError(f"{data_dir / 'wav.scp'} is empty")
    lists = sorted(p for p in data_dir.iterdir() if _AUDIO_LIST.match(p.name))
    for path in [*lists, data_dir / "utt2spk"]:
        _check_list(path, reference, check_files)
    _check_spk2utt(data_dir)
    return len(reference)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    p = argparse.ArgumentParser(description="Validate a Kaldi-style data dir.")
    sub = p.add_subparsers(dest="command", required=True)
    v = sub.add_parser("validate")
    v.add_argument("data_dir")
    v.add_argument("--no_file_check", action="store_true")
    args = p.parse_args(argv)
    try:
        n = validate(args.data_dir, check_files=not args.no_file_check)
    except (FormatError, ScpFormatError) as exc:
        print(f"data_dir: error: {exc}", file=sys.stderr)
        return 1
    print(f"data_dir: {args.data_dir} OK ({n} utterances)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
