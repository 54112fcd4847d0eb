"""Writing a demo corpus directory: atomically, once, with its provenance.

A corpus is built in a hidden sibling directory and renamed into place when
finished, so an interrupted build never leaves a half-written corpus where a
recipe would find it. A marker file records the build settings: asking for the
same corpus again is a no-op, asking for different settings in the same place
is an error (never a silent overwrite), except that a demo corpus written by
an older version of the builders (an older :data:`FORMAT`) is rebuilt in its
place: the marker proves it is ours, and its content is outdated.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from espnet_cffma.demo.sources import LICENSES

logger = logging.getLogger(__name__)

MARKER = ".demo_complete.json"
# Bumped whenever the builders write different audio for the same settings
# (2: many voices, LinCity-NG noise, SNR set at the written rate).
FORMAT = 2


# Size presets every builder offers: tiny (tests, seconds), small (the
# README's first command), large (hours of audio, CPU training). The names of
# the first releases are still accepted.
SIZE_NAMES = ("tiny", "small", "large")
SIZE_ALIASES = {"minimal": "tiny", "default": "small"}


def size_preset(size: str) -> str:
    """The preset a ``--size`` value names (``minimal`` -> ``tiny`` ...).

    Raises:
        ValueError: For an unknown name.
    """
    size = SIZE_ALIASES.get(size, size)
    if size not in SIZE_NAMES:
        raise ValueError(f"unknown demo size {size!r}; choose from {SIZE_NAMES}")
    return size


def add_size_arguments(
    parser: argparse.ArgumentParser, sizes: dict[str, tuple], columns: str
) -> None:
    """Adds a builder's ``--size`` and ``--voices`` options to ``parser``.

    Args:
        parser: The builder's command-line parser.
        sizes: Its presets (:data:`SIZE_NAMES` -> split sizes and voices).
        columns: What each preset's tuple holds, for the help text.
    """
    parser.add_argument(
        "--size",
        choices=[*sizes, *SIZE_ALIASES],
        default="small",
        help=f"preset sizes ({columns}): "
        + ", ".join(f"{k}={v}" for k, v in sizes.items())
        + "; minimal and default are the old names of tiny and small",
    )
    parser.add_argument(
        "--voices",
        choices=("many", "asterisk"),
        help="Debian speech: Asterisk's and KDE's voices (33 people) or "
        "Asterisk's four (default: the size preset's)",
    )


def corpus_params(
    corpus: str,
    sizes: dict[str, int],
    seed: int,
    speech_dir: str | os.PathLike | None,
    noise_dir: str | os.PathLike | None,
    test_speakers: list[str] | None,
) -> dict:
    """The build settings a corpus marker records (see :func:`corpus_is_complete`).

    Args:
        corpus: Corpus kind (``voicebank_demo``, ``whamr_demo``).
        sizes: Split size options, e.g. ``{"n_train": 200, "n_test": 40}``.
        seed: Random seed.
        speech_dir: The user's speech folder, or None.
        noise_dir: The user's noise folder, or None.
        test_speakers: Held-out source speakers, or None for the default.

    Returns:
        JSON-serialisable settings (folders made absolute).
    """

    def absolute(folder):
        return None if folder is None else str(Path(folder).absolute())

    return {
        "corpus": corpus,
        "format": FORMAT,
        **sizes,
        "seed": seed,
        "speech_dir": absolute(speech_dir),
        "noise_dir": absolute(noise_dir),
        "test_speakers": None if test_speakers is None else sorted(test_speakers),
    }


def corpus_is_complete(out_dir: str | os.PathLike, params: dict) -> bool:
    """Says whether ``out_dir`` already holds this very corpus.

    Args:
        out_dir: Corpus directory.
        params: Build settings (JSON-serialisable).

    Returns:
        True when the corpus exists with the same settings.

    Raises:
        FileExistsError: When ``out_dir`` holds something else (another demo
            build, or files that are not a demo corpus).
    """
    out = Path(out_dir)
    marker = out / MARKER
    if marker.exists():
        old = json.loads(marker.read_text())
        if old == json.loads(json.dumps(params)):
            return True
        if _outdated(old, params):
            logger.warning(
                "%s holds a %s corpus of an older format (%s): rebuilding it",
                out,
                old.get("corpus"),
                old.get("format"),
            )
            return False
        raise FileExistsError(
            f"{out} holds a demo corpus built with other settings ({old}); "
            f"remove it or choose another output directory for {params}"
        )
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(
            f"{out} exists and is not a finished demo corpus; refusing to "
            "overwrite it: remove it or choose another output directory"
        )
    return False


def _outdated(old: dict, params: dict) -> bool:
    """Whether a marker is that of the same corpus kind in an older format."""
    return old.get("corpus") == params.get("corpus") and old.get("format", 0) < (
        params.get("format", FORMAT)
    )


@contextlib.contextmanager
def building(out_dir: str | os.PathLike, params: dict) -> Iterator[Path]:
    """Context manager: yields a scratch directory that becomes ``out_dir``.

    On success the marker is written and the scratch directory renamed to
    ``out_dir``; on failure it is deleted. A lock keeps two processes from
    building the same corpus at once.

    Args:
        out_dir: Final corpus directory (must hold nothing else than an
            outdated demo corpus, which the new one replaces).
        params: Build settings stored in the marker.

    Yields:
        The scratch directory to write the corpus into.
    """
    from filelock import FileLock

    out = Path(out_dir).absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.building"
    old = out.parent / f".{out.name}.outdated"
    with FileLock(str(out.parent / f".{out.name}.lock")):
        if tmp.exists():
            shutil.rmtree(tmp)  # left by a killed build
        tmp.mkdir()
        try:
            yield tmp
            (tmp / MARKER).write_text(json.dumps(params, indent=1, sort_keys=True))
            if (out / MARKER).exists():
                # An outdated corpus (checked by corpus_is_complete): moved
                # aside first, so the new one replaces it in one rename.
                if old.exists():
                    shutil.rmtree(old)
                os.replace(out, old)
            elif out.exists():
                out.rmdir()  # empty (checked by corpus_is_complete)
            # A whole tree moves into place (fileio.atomic_path is for files).
            os.replace(tmp, out)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp)
            if old.exists():
                shutil.rmtree(old)


def write_wav(path: Path, audio: np.ndarray, sr: int) -> None:
    """Writes mono 16-bit PCM, refusing to clip.

    Args:
        path: Output file (parent created).
        audio: ``[T]`` float in [-1, 1].
        sr: Sample rate.
    """
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 1.0:
        raise ValueError(f"{path}: peak {peak:.3f} would clip in 16-bit PCM")
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr, subtype="PCM_16")


def sources_markdown(
    title: str,
    packages: dict[str, str],
    speakers: list[tuple[str, str, str]],
    notes: list[str],
) -> str:
    """Formats ``SOURCES.md``: where the audio came from and under which licence.

    Args:
        title: Corpus name.
        packages: Debian package (or folder) -> version/description.
        speakers: Rows ``(corpus speaker id, source speaker, split)``.
        notes: Free-form bullet points (generation conventions).

    Returns:
        Markdown text.
    """
    lines = [f"# {title}: sources", ""]
    lines += [
        "Generated by `espnet_cffma.demo`. Audio comes from the Debian packages or",
        "folders below; their licences apply to this corpus (CC-BY-SA parts: share",
        "alike and credit the speakers; GPL parts: keep the licence).",
        "",
        "| source | version | licence |",
        "| --- | --- | --- |",
    ]
    for pkg, version in sorted(packages.items()):
        lic = LICENSES.get(pkg, "see the folder's own terms")
        lines.append(f"| {pkg} | {version} | {lic} |")
    lines += ["", "| corpus speaker | source speaker | split |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in speakers]
    lines += ["", "## Conventions", ""] + [f"- {n}" for n in notes] + [""]
    return "\n".join(lines)
