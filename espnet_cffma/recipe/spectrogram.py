"""Spectrogram pictures of a few test utterances: noisy, enhanced, clean stacked.

One PNG per utterance, the three panels sharing time and frequency axes and one
dB colour scale (set by the clean signal), so differences show at a glance.
The utterances are spread evenly over the sorted ids, unless ``--keys`` names
them.

Usage::

    python -m espnet_cffma.recipe.spectrogram --noisy_scp dump/raw/test/wav.scp \
        --enhanced_scp exp/enh_x/enhanced/test/spk1.scp \
        --clean_scp dump/raw/test/spk1.scp --num 3 --output_dir exp/enh_x/images/test
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from espnet_cffma.fileio import ScpFormatError, atomic_path, read_scp
from espnet_cffma.recipe.format_audio import FormatError

DYNAMIC_RANGE_DB = 80.0


def log_spectrogram(x: np.ndarray, fs: int, n_fft: int = 512, hop: int = 128):
    """Power spectrogram in dB.

    Args:
        x: Waveform ``[T]``.
        fs: Sampling rate in Hz.
        n_fft: FFT size (Hann window of the same length).
        hop: Hop in samples.

    Returns:
        (spec ``[F, N]`` in dB, frame times ``[N]`` in s, frequencies ``[F]`` in Hz).
    """
    if len(x) < n_fft:
        x = np.pad(x, (0, n_fft - len(x)))
    window = np.hanning(n_fft)
    n_frames = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * window, axis=1)) ** 2
    spec_db = 10.0 * np.log10(spec.T + 1e-12)
    times = (np.arange(n_frames) * hop + n_fft / 2) / fs
    freqs = np.fft.rfftfreq(n_fft, 1.0 / fs)
    return spec_db, times, freqs


def pick_keys(keys: list[str], num: int) -> list[str]:
    """``num`` ids spread evenly over the sorted ids (all if fewer)."""
    keys = sorted(keys)
    if num >= len(keys):
        return keys
    idx = np.linspace(0, len(keys) - 1, num).round().astype(int)
    return [keys[i] for i in idx]


def plot_utterance(
    signals: list[tuple[str, np.ndarray]], fs: int, title: str, out: Path
) -> None:
    """Draws stacked spectrograms and saves them as a PNG (atomically).

    Args:
        signals: (label, waveform ``[T]``) per panel, top to bottom.
        fs: Sampling rate in Hz.
        title: Figure title.
        out: PNG path.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    specs = [(label, *log_spectrogram(x, fs)) for label, x in signals]
    vmax = max(s[1].max() for s in specs)
    fig, axes = plt.subplots(
        len(specs), 1, figsize=(10, 2.6 * len(specs)), sharex=True, squeeze=False
    )
    image = None
    for ax, (label, spec, times, freqs) in zip(axes[:, 0], specs):
        image = ax.pcolormesh(
            times,
            freqs / 1000.0,
            spec,
            shading="auto",
            cmap="magma",
            vmin=vmax - DYNAMIC_RANGE_DB,
            vmax=vmax,
        )
        ax.set_ylabel("kHz")
        ax.set_title(label, loc="left", fontsize=10)
    axes[-1, 0].set_xlabel("time (s)")
    fig.suptitle(title)
    fig.colorbar(image, ax=axes[:, 0].tolist(), label="dB", fraction=0.03, pad=0.01)
    try:
        with atomic_path(out) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)


def _read(path: str, name: str, key: str) -> tuple[np.ndarray, int]:
    try:
        x, fs = sf.read(path, dtype="float64", always_2d=False)
    except Exception as exc:
        raise FormatError(
            f"{name} audio of {key} cannot be read: {path} ({exc})"
        ) from exc
    if x.ndim != 1:
        raise FormatError(f"{name} audio of {key} is not single-channel: {path}")
    return x, fs


def make_pictures(
    noisy_scp: str,
    enhanced_scp: str,
    clean_scp: str,
    output_dir: str | Path,
    num: int = 3,
    keys: list[str] | None = None,
) -> list[Path]:
    """Writes ``<output_dir>/<utt>.png`` for the chosen utterances.

    Returns:
        The written paths.

    Raises:
        FormatError: Unknown ids, unreadable files or mismatched sampling rates.
    """
    lists = {
        "noisy": read_scp(noisy_scp),
        "enhanced": read_scp(enhanced_scp),
        "clean": read_scp(clean_scp),
    }
    common = set(lists["noisy"]) & set(lists["enhanced"]) & set(lists["clean"])
    if keys:
        unknown = [k for k in keys if k not in common]
        if unknown:
            raise FormatError(f"utterances not in all three lists: {unknown}")
        chosen = keys
    else:
        if not common:
            raise FormatError(
                f"no utterance id is common to {noisy_scp}, {enhanced_scp}, {clean_scp}"
            )
        chosen = pick_keys(list(common), num)
    written = []
    for key in chosen:
        signals, rates = [], set()
        for name in ("noisy", "enhanced", "clean"):
            x, fs = _read(lists[name][key], name, key)
            signals.append((name, x))
            rates.add(fs)
        if len(rates) != 1:
            raise FormatError(f"{key}: sampling rates differ between lists: {rates}")
        out = Path(output_dir) / f"{key}.png"
        plot_utterance(signals, rates.pop(), key, out)
        written.append(out)
    return written


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(description="Noisy/enhanced/clean spectrogram PNGs.")
    p.add_argument("--noisy_scp", required=True)
    p.add_argument("--enhanced_scp", required=True)
    p.add_argument("--clean_scp", required=True)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--num", type=int, default=3, help="number of utterances")
    p.add_argument("--keys", nargs="*", default=None, help="utterance ids to draw")
    return p


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = get_parser().parse_args(argv)
    try:
        written = make_pictures(
            args.noisy_scp,
            args.enhanced_scp,
            args.clean_scp,
            args.output_dir,
            args.num,
            args.keys,
        )
    except (FormatError, ScpFormatError) as exc:
        print(f"spectrogram: error: {exc}", file=sys.stderr)
        return 1
    print(f"spectrogram: wrote {len(written)} picture(s) to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
