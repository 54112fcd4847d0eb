"""Stage 1: the noise reference of an additive corpus, noisy − clean, as ``noise1.scp``.

VoiceBank-DEMAND ships noisy and clean speech but not the noise; since its
mixtures are additive, the noise is their difference, sample for sample.
Progressive learning (``tfgridnet_pl``) and ESPnet's noise losses
(``--use_noise_ref true``) need it. For each utterance of ``<data_dir>/wav.scp``
and ``<data_dir>/spk1.scp`` this writes ``<audio_dir>/<utt>.wav`` (at the
corpus rate; stage 2 resamples it like the other lists, and resampling is
linear, so the difference commutes with it) and ``<data_dir>/noise1.scp``.
Files are 24-bit PCM when both inputs are 16-bit PCM (the difference of two
16-bit samples needs 17 bits: exact), 32-bit float otherwise. Every file and
the list are written atomically; existing files of the same content are
rewritten (the step is cheap next to stage 2).

Usage::

    python -m espnet_cffma.recipe.noise_reference --data_dir data/train \
        --audio_dir data/noise_audio/train
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from espnet_cffma.fileio import atomic_path, first_line, read_scp, write_lines_atomic


class NoiseReferenceError(ValueError):
    """A pair of noisy/clean files cannot give a noise reference."""


def noise_of_pair(noisy_path: str, clean_path: str) -> tuple[np.ndarray, int, str]:
    """Returns ``noisy - clean`` ``[N]`` (or ``[N, C]``), the rate and a subtype.

    Raises:
        NoiseReferenceError: unreadable file, or rates/lengths/channels differ.
    """
    try:
        noisy, fs_noisy = sf.read(noisy_path, dtype="float64", always_2d=True)
        clean, fs_clean = sf.read(clean_path, dtype="float64", always_2d=True)
        subtypes = {sf.info(noisy_path).subtype, sf.info(clean_path).subtype}
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise NoiseReferenceError(first_line(err)) from None
    if fs_noisy != fs_clean:
        raise NoiseReferenceError(
            f"sampling rates differ: {noisy_path} {fs_noisy} Hz, "
            f"{clean_path} {fs_clean} Hz"
        )
    if noisy.shape != clean.shape:
        raise NoiseReferenceError(
            f"shapes differ (samples, channels): {noisy_path} {noisy.shape}, "
            f"{clean_path} {clean.shape}"
        )
    noise = noisy - clean
    if noise.shape[1] == 1:
        noise = noise[:, 0]
    subtype = "PCM_24" if subtypes == {"PCM_16"} else "FLOAT"
    return noise, fs_noisy, subtype


def write_noise_reference(data_dir: Path, audio_dir: Path) -> int:
    """Writes ``<audio_dir>/<utt>.wav`` and ``<data_dir>/noise1.scp``.

    Returns:
        The number of utterances.

    Raises:
        NoiseReferenceError: the lists disagree or a pair is unusable (the
            message names the utterance and files).
    """
    noisy = read_scp(data_dir / "wav.scp")
    clean = read_scp(data_dir / "spk1.scp")
    if set(noisy) != set(clean):
        only = sorted(set(noisy) ^ set(clean))[:3]
        raise NoiseReferenceError(
            f"{data_dir}/wav.scp and {data_dir}/spk1.scp list different "
            f"utterances (e.g. {' '.join(only)})"
        )
    audio_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for utt, noisy_path in noisy.items():
        try:
            noise, fs, subtype = noise_of_pair(noisy_path, clean[utt])
        except NoiseReferenceError as err:
            raise NoiseReferenceError(f"utterance {utt}: {err}") from None
        out = audio_dir.resolve() / f"{utt}.wav"
        with atomic_path(out) as tmp:
            sf.write(tmp, noise, fs, subtype=subtype, format="WAV")
        lines.append(f"{utt} {out}")
    write_lines_atomic(data_dir / "noise1.scp", lines)
    return len(lines)


def main(argv: list[str] | None = None) -> int:
    """CLI; returns the exit code."""
    parser = argparse.ArgumentParser(
        description="Write noisy - clean as noise1.scp for an additive corpus."
    )
    parser.add_argument("--data_dir", type=Path, required=True)
    parser.add_argument("--audio_dir", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        count = write_noise_reference(args.data_dir, args.audio_dir)
    except (NoiseReferenceError, ValueError) as err:
        print(f"noise_reference: {err}", file=sys.stderr)
        return 1
    print(f"{args.data_dir}/noise1.scp: {count} utterances")
    return 0


if __name__ == "__main__":
    sys.exit(main())
