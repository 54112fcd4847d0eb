"""Real-time factor and peak memory of cffma-enhance on long inputs (CPU).

Each input length runs in a fresh subprocess, so ``ru_maxrss`` (the peak
resident memory) belongs to that length alone. Memory should stay flat as
the length grows: long files are streamed in chunks.

    tools/venv/bin/python tools/benchmarks/enhance_long.py
    tools/venv/bin/python tools/benchmarks/enhance_long.py --model exp/<tag> \
        --seconds 10 60 600 --rate 48000 --channels 2

Without ``--model`` an untrained model is built from the recipe's demo
config (``egs2/voicebank/conf/tuning/train_demo.yaml``, a small real
bss_cffma on a random two-layer WavLM checkpoint); its speed says little about
a full-size configuration: pass a real experiment for that.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import yaml

DEMO_CONFIG = (
    Path(__file__).resolve().parents[2]
    / "egs2"
    / "voicebank"
    / "conf"
    / "tuning"
    / "train_demo.yaml"
)


def write_demo_experiment(exp_dir: Path, seed: int = 0) -> Path:
    """Writes ``config.yaml`` + a random ``valid.loss.best.pth`` for the demo config.

    The config is completed with ESPnet's defaults, as a training run's
    ``config.yaml`` is, and points at a random WavLM checkpoint.
    """
    import torch
    from espnet2.tasks.enh import EnhancementTask

    from espnet_cffma.enhance.runner import build_espnet_model
    from espnet_cffma.fileio import atomic_path, write_text_atomic
    from espnet_cffma.ssl.checkpoints import build_random_checkpoint

    config = yaml.safe_load(DEMO_CONFIG.read_text(encoding="utf-8"))
    ssl = build_random_checkpoint("wavlm", exp_dir / "ssl" / "wavlm_random.pt")
    config["separator_conf"]["ssl_path_or_url"] = str(ssl)
    config = {**vars(EnhancementTask.get_parser().parse_args([])), **config}
    write_text_atomic(exp_dir / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    torch.manual_seed(seed)
    model = build_espnet_model(config, exp_dir / "config.yaml")
    with atomic_path(exp_dir / "valid.loss.best.pth") as tmp:
        torch.save(model.state_dict(), tmp)
    return exp_dir


def write_input(path: Path, seconds: float, rate: int, channels: int) -> None:
    """Writes a noisy modulated tone block by block (never all in memory)."""
    rng = np.random.default_rng(0)
    block = rate * 10
    total = int(seconds * rate)
    with sf.SoundFile(
        path, "w", samplerate=rate, channels=channels, subtype="PCM_16"
    ) as f:
        for start in range(0, total, block):
            n = min(block, total - start)
            t = (start + np.arange(n)) / rate
            tone = 0.1 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * t))
            noise = 0.03 * rng.standard_normal((n, channels))
            f.write((tone[:, None] + noise).astype(np.float32))


def child(args: argparse.Namespace) -> None:
    """Loads the model, enhances one file, prints JSON measurements."""
    import logging

    import torch

    from espnet_cffma.enhance.engine import EnhanceOptions, Enhancer
    from espnet_cffma.enhance.inputs import collect_jobs
    from espnet_cffma.enhance.model_files import resolve_model_files
    from espnet_cffma.enhance.runner import ModelRunner

    logging.disable(logging.WARNING)
    torch.set_num_threads(args.num_threads)
    runner = ModelRunner.from_files(resolve_model_files(args.model))
    runner.max_batch_samples = int(args.batch_seconds * runner.fs)
    enhancer = Enhancer(runner, EnhanceOptions(chunk_seconds=args.chunk_seconds))
    runner.forward([np.zeros(runner.fs, np.float32)])  # warm-up
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    summary = enhancer.run(collect_jobs([args.input], args.output), progress=False)
    elapsed = time.perf_counter() - start
    if summary.failed:
        raise SystemExit(summary.report())
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"elapsed": elapsed, "rss_loaded_kb": rss_loaded, "rss_peak_kb": rss_peak}
        )
    )


def main() -> None:
    """Benchmarks each length in its own process and prints a table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="experiment dir or archive (default: tiny)")
    parser.add_argument("--seconds", type=float, nargs="+", default=[10, 60, 600])
    parser.add_argument("--rate", type=int, default=16000)
    parser.add_argument("--channels", type=int, default=1)
    parser.add_argument("--chunk_seconds", type=float, default=20.0)
    parser.add_argument("--batch_seconds", type=float, default=60.0)
    parser.add_argument("--num_threads", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    with tempfile.TemporaryDirectory(prefix="enhance_bench-") as tmp:
        tmp = Path(tmp)
        model = args.model
        if model is None:
            model = str(write_demo_experiment(tmp / "exp" / "demo"))
        print(
            f"model {model}; input {args.rate} Hz, {args.channels} ch; chunks "
            f"{args.chunk_seconds} s; {args.num_threads} torch thread(s)"
        )
        print(
            f"{'length':>8} {'time':>8} {'RTF':>7} {'RSS loaded':>11} {'RSS peak':>9}"
        )
        for seconds in args.seconds:
            wav = tmp / f"in_{seconds:g}s.wav"
            write_input(wav, seconds, args.rate, args.channels)
            command = [
                sys.executable,
                __file__,
                "--child",
                "--model",
                model,
                "--input",
                str(wav),
                "--output",
                str(tmp / "out"),
                "--chunk_seconds",
                str(args.chunk_seconds),
                "--batch_seconds",
                str(args.batch_seconds),
                "--num_threads",
                str(args.num_threads),
            ]
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode:
                sys.exit(f"benchmark of {seconds} s failed:\n{result.stderr[-3000:]}")
            m = json.loads(result.stdout.strip().splitlines()[-1])
            loaded, peak = m["rss_loaded_kb"] / 1024, m["rss_peak_kb"] / 1024
            print(
                f"{seconds:>7g}s {m['elapsed']:>7.1f}s {m['elapsed'] / seconds:>7.3f} "
                f"{loaded:>8.0f} MB {peak:>6.0f} MB"
            )
            wav.unlink()


if __name__ == "__main__":
    main()
