"""Data dirs for MIA-SE's comparison: noisy-only, a noise pool, Noise2Noise.

Subcommands::

    # a copy of a data dir without any reference list (no spk1.scp)
    python -m espnet_cffma.recipe.mia_se_data noisy_only --src data/train \
        --dst data/train_noisy_only
    # noise-only recordings as 16-bit WAVs at --fs + noise_pool.scp; from a
    # folder, or (--demo) from the training share of the demo's noise sources
    python -m espnet_cffma.recipe.mia_se_data noise_pool --out data/noise_pool \
        (--noise_dir DIR | --demo [--cache_dir DIR]) --fs 16000
    # Noise2Noise baseline: spk1.scp points at a second noisy copy of the clean
    # speech (new pool noise at an SNR drawn from --snrs); wav.scp unchanged
    python -m espnet_cffma.recipe.mia_se_data noise2noise --src data/train \
        --dst data/train_n2n --noise_pool data/noise_pool/noise_pool.scp

``noisy_only`` reads no audio; ``noise2noise`` reads the clean speech (that
baseline needs it to synthesise the second copy).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from espnet_cffma.fileio import read_scp, write_lines_atomic

# Lists a data dir may hold besides references; copied as they are.
PLAIN_LISTS = ("wav.scp", "utt2spk", "spk2utt", "utt2category", "utt2fs", "segments")
# Same split as espnet_cffma.demo.voicebank, so the test noises stay held out.
DEMO_NOISE_SPLIT = {"train": 0.75, "test": 0.25}


def noisy_only(src: Path, dst: Path) -> None:
    """Copies ``src``'s noisy list and speaker maps to ``dst``, no references."""
    if not (src / "wav.scp").is_file():
        raise FileNotFoundError(f"{src}/wav.scp is missing")
    dst.mkdir(parents=True, exist_ok=True)
    for stale in dst.glob("*.scp"):
        stale.unlink()
    for name in PLAIN_LISTS:
        if (src / name).is_file():
            shutil.copyfile(src / name, dst / name)


def noise_pool(
    out: Path, fs: int, noise_dir: Path | None, demo: bool, cache_dir: Path | None
) -> Path:
    """Writes the pool's WAVs and ``noise_pool.scp``; returns the scp path."""
    from espnet_cffma.demo import sources
    from espnet_cffma.demo.audio import load_audio

    if (noise_dir is None) == (not demo):
        raise ValueError("noise_pool: give exactly one of --noise_dir DIR or --demo")
    if demo:
        noises = sources.fetch_noises(cache_dir)
        noises = sources.split_noise_files(noises, DEMO_NOISE_SPLIT)["train"]
    else:
        noises = sources.noise_from_dir(noise_dir)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    lines = []
    for source, files in sorted(noises.items()):
        for path in files:
            audio = load_audio(path, sr=fs)
            if not np.any(audio):
                continue
            key = f"{source}_{path.stem}".replace(" ", "_")
            wav = (out / "wav" / f"{key}.wav").absolute()
            sf.write(wav, audio, fs, subtype="PCM_16")
            lines.append(f"{key} {wav}")
    if not lines:
        raise ValueError(f"noise_pool: no audible noise recordings for {out}")
    scp = out / "noise_pool.scp"
    write_lines_atomic(scp, sorted(lines))
    return scp


def noise2noise(
    src: Path, dst: Path, pool_scp: Path, snrs: list[float], seed: int
) -> None:
    """Writes ``dst`` with ``src``'s wav.scp and a second noisy copy as spk1.scp."""
    from espnet_cffma.demo.signals import scale_noise_to_snr

    clean = read_scp(src / "spk1.scp")
    pool = {
        key: sf.read(path, dtype="float32")[0]
        for key, path in read_scp(pool_scp).items()
    }
    keys = sorted(pool)
    rng = np.random.default_rng(seed)
    noisy_only(src, dst)
    (dst / "wav").mkdir(exist_ok=True)
    lines = []
    for utt, path in clean.items():
        speech, rate = sf.read(path, dtype="float32")
        noise = pool[keys[rng.integers(len(keys))]]
        if noise.size < speech.size:
            noise = np.tile(noise, -(-speech.size // noise.size))
        start = rng.integers(noise.size - speech.size + 1)
        noise = noise[start : start + speech.size]
        copy = speech + scale_noise_to_snr(speech, noise, float(rng.choice(snrs)))
        peak = np.abs(copy).max()
        if peak > 0.99:  # keep PCM_16 from clipping; the SNR is unchanged
            copy *= 0.99 / peak
        wav = (dst / "wav" / f"{utt}.wav").absolute()
        sf.write(wav, copy, rate, subtype="PCM_16")
        lines.append(f"{utt} {wav}")
    write_lines_atomic(dst / "spk1.scp", lines)


def get_parser() -> argparse.ArgumentParser:
    """Command-line parser."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("noisy_only")
    p.add_argument("--src", type=Path, required=True)
    p.add_argument("--dst", type=Path, required=True)
    p = sub.add_parser("noise_pool")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--fs", type=int, default=16000)
    p.add_argument("--noise_dir", type=Path, default=None)
    p.add_argument("--demo", action="store_true")
    p.add_argument("--cache_dir", type=Path, default=None)
    p = sub.add_parser("noise2noise")
    p.add_argument("--src", type=Path, required=True)
    p.add_argument("--dst", type=Path, required=True)
    p.add_argument("--noise_pool", type=Path, required=True)
    p.add_argument("--snrs", type=float, nargs="+", default=[0.0, 5.0, 10.0, 15.0])
    p.add_argument("--seed", type=int, default=0)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = get_parser().parse_args(argv)
    try:
        if args.command == "noisy_only":
            noisy_only(args.src, args.dst)
        elif args.command == "noise_pool":
            print(
                noise_pool(args.out, args.fs, args.noise_dir, args.demo, args.cache_dir)
            )
        else:
            noise2noise(args.src, args.dst, args.noise_pool, args.snrs, args.seed)
    except (OSError, ValueError) as error:
        print(f"mia_se_data {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
