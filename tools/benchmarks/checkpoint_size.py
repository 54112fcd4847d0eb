"""Checkpoint size of bss_cffma with a WavLM-Large-sized upstream, per mode.

Builds a random-weight WavLM checkpoint with WavLM Large's sizes (24 layers,
1024-d, 16 heads, CNN 512, FFN 4096), the paper-sized separator on top, and
saves ``model.state_dict()`` (what ESPnet writes to ``*.pth``) for the
frozen, PF and EF modes. "Before" is the whole state dict with every upstream
weight, as checkpoints were written before frozen weights were left out.

Usage::

    python tools/benchmarks/checkpoint_size.py [--workdir /tmp/ckpt_bench]
"""

import argparse
import os
import tempfile
from pathlib import Path

import torch

from espnet_cffma.ssl.checkpoints import build_random_checkpoint
from espnet_cffma.systems.bss_cffma.separator import BSSCFFMASeparator

LARGE = dict(num_layers=24, dim=1024, heads=16, conv_dim=512, ffn_dim=4096)


def saved_mb(state: dict, path: Path) -> float:
    """Size in MiB of ``state`` saved with ``torch.save``."""
    torch.save(state, path)
    size = path.stat().st_size / 2**20
    path.unlink()
    return size


def main() -> None:
    """Prints before/after checkpoint sizes for frozen, PF and EF."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="ckpt_bench_"))
    workdir.mkdir(parents=True, exist_ok=True)
    ssl = build_random_checkpoint("wavlm", workdir / "wavlm_large_random.pt", **LARGE)
    ssl_mb = os.path.getsize(ssl) / 2**20
    print(f"SSL file (WavLM-Large-sized, random): {ssl_mb:.0f} MiB")
    print(f"{'mode':8s} {'before MiB':>11s} {'after MiB':>10s} {'ratio':>6s}")
    for mode in ("frozen", "pf", "ef"):
        model = BSSCFFMASeparator(
            ssl_upstream="wavlm_local", ssl_path_or_url=str(ssl), ssl_finetune=mode
        )
        after = model.state_dict()
        before = dict(after)
        before.pop("ssl.ssl_fingerprint")
        before.update(
            {f"ssl.upstream.{k}": v for k, v in model.ssl.upstream.state_dict().items()}
        )
        b = saved_mb(before, workdir / "before.pth")
        a = saved_mb(after, workdir / "after.pth")
        print(f"{mode:8s} {b:11.1f} {a:10.1f} {a / b:6.3f}")
        del model, before, after


if __name__ == "__main__":
    main()
