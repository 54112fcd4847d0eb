"""Parameters and CPU forward time of bss_cffma beside ESPnet's TF-GridNetV2.

Both models are measured in the same run, on the same input, so the ratio is
meaningful even where absolute times are not. The SSL upstream is a
random-weight model with the architecture of WavLM Large (24 layers, 1024-d)
or Base (12 layers, 768-d); its weights do not change the time.

    tools/venv/bin/python tools/benchmarks/separator_speed.py [--seconds 2] \
        [--ssl large|base] [--threads 2] [--repeats 2]

"Without SSL" is the full forward minus the SSL front-end measured alone.
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
from espnet2.enh.separator.tfgridnetv2_separator import TFGridNetV2

from espnet_cffma.ssl.checkpoints import build_random_checkpoint
from espnet_cffma.systems.bss_cffma.separator import BSSCFFMASeparator

SSL_SIZES = {
    "large": dict(num_layers=24, dim=1024, heads=16, conv_dim=512, ffn_dim=4096),
    "base": dict(num_layers=12, dim=768, heads=12, conv_dim=512, ffn_dim=3072),
}
# TF-GridNetV2 widened to roughly the parameter count of bss_cffma without SSL.
TFGRIDNET = dict(
    n_srcs=1, n_fft=256, stride=128, n_layers=6, lstm_hidden_units=256, emb_dim=128
)


def count(module: torch.nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in module.parameters())


def seconds_per_call(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls, after one warm-up call."""
    with torch.inference_mode():
        fn()  # warm-up
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    """Builds both models, times them and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--ssl", choices=sorted(SSL_SIZES), default="large")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = build_random_checkpoint(
            "wavlm", Path(tmp) / "wavlm.pt", **SSL_SIZES[args.ssl]
        )
        cffma = BSSCFFMASeparator(ssl_upstream="wavlm_local", ssl_path_or_url=str(ckpt))
    gridnet = TFGridNetV2(0, **TFGRIDNET)
    cffma.eval()
    gridnet.eval()

    n = int(16000 * args.seconds)
    wav = torch.randn(1, n) * 0.1
    lengths = torch.tensor([n])
    t_full = seconds_per_call(lambda: cffma(wav, lengths), args.repeats)
    t_ssl = seconds_per_call(lambda: cffma.ssl(wav, lengths), args.repeats)
    t_grid = seconds_per_call(lambda: gridnet(wav, lengths), args.repeats)

    p_ssl = count(cffma.ssl.upstream)
    p_cffma = count(cffma) - p_ssl
    rows = [
        ("bss_cffma without SSL", p_cffma, t_full - t_ssl),
        (f"bss_cffma with SSL (WavLM {args.ssl})", p_cffma + p_ssl, t_full),
        ("  of which the SSL front-end", p_ssl, t_ssl),
        ("tfgridnetv2 (ESPnet)", count(gridnet), t_grid),
    ]
    print(
        f"CPU forward, batch 1, {args.seconds:g} s input, {args.threads} threads, "
        f"best of {args.repeats}"
    )
    header = f"{'model':40s} {'params (M)':>10s} {'s per s audio':>14s}"
    print(f"{header} {'time / tfgridnetv2':>19s}")
    for name, params, seconds in rows:
        per_second = seconds / args.seconds
        print(
            f"{name:40s} {params / 1e6:10.2f} {per_second:14.3f} "
            f"{seconds / t_grid:19.3g}"
        )


if __name__ == "__main__":
    main()
