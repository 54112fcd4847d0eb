r"""Streaming enhancement with a (stage-2) CNUNet-TB model, bounded memory.

:class:`StreamingEnhancer` takes blocks of any size, runs the separator's
``forward_streaming`` one hop at a time and returns the finished output
samples, aligned with the input (sample ``n`` of the output enhances sample
``n`` of the input). Output sample ``n`` is returned as soon as input sample
``n + win_length - 1`` has been given, i.e. one window (32 ms) of algorithmic
latency: ``win - hop`` samples of overlap-add look-back plus the hop being
collected. Memory stays constant whatever the input length: the state is the
last samples, the convolution caches and the running norm statistics.

Command line (a trained experiment folder with ``config.yaml`` and a
checkpoint)::

    python -m espnet_cffma.systems.cnunet_tb.streaming \\
        --model exp/enh_cnunet_tb_stage2 noisy.wav enhanced.wav
"""

import argparse
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from espnet_cffma.systems.cnunet_tb.separator import CNUNetTBSeparator

CHECKPOINT_PREFERENCE = (
    "valid.loss.best.pth",
    "valid.loss.ave.pth",
    "latest.pth",
)


def find_model_files(model: str | Path) -> tuple[Path, Path]:
    """``config.yaml`` and the checkpoint of an experiment folder.

    Prefers ``valid.loss.best.pth``, then any other ``*best.pth``/``*ave*.pth``.

    Raises:
        FileNotFoundError: naming the folder and what is missing.
    """
    folder = Path(model)
    config = folder / "config.yaml"
    if not config.is_file():
        raise FileNotFoundError(f"--model {folder}: no config.yaml in that folder")
    for name in CHECKPOINT_PREFERENCE:
        if (folder / name).is_file():
            return config, folder / name
    candidates = sorted(folder.glob("*best*.pth")) + sorted(folder.glob("*ave*.pth"))
    if not candidates:
        raise FileNotFoundError(
            f"--model {folder}: no checkpoint (valid.loss.best.pth, *.pth) found"
        )
    return config, candidates[0]


def load_separator(
    model: str | Path, model_file: str | Path | None = None
) -> CNUNetTBSeparator:
    """Builds a trained ``cnunet_tb`` separator from its experiment folder.

    A stage-2 model needs no SSL checkpoint (it has no upstream) and its
    teacher is never loaded at inference.
    """
    from espnet2.tasks.enh import EnhancementTask

    from espnet_cffma.registry import register_espnet_classes

    register_espnet_classes()
    config, default_file = find_model_files(model)
    enh_model, _ = EnhancementTask.build_model_from_file(
        config, model_file or default_file, device="cpu"
    )
    separator = enh_model.separator
    if not isinstance(separator, CNUNetTBSeparator):
        raise ValueError(
            f"--model {model}: separator is {type(separator).__name__}, "
            "streaming needs a cnunet_tb model"
        )
    if separator.ssl is not None:
        raise ValueError(
            f"--model {model}: a stage-1 cnunet_tb (with an SSL upstream) is not "
            "causal and cannot stream; use the stage-2 model"
        )
    return separator.eval()


class StreamingEnhancer:
    """Enhances a stream of sample blocks with one window of latency.

    Args:
        separator: a ``cnunet_tb`` separator without SSL (stage 2 / CNUNet-TB).
        max_hops: most hops processed in one network call when a block holds
            several (one call per hop gives the lowest latency; a few per call
            amortise the per-call overhead). Results are the same either way.
    """

    def __init__(self, separator: CNUNetTBSeparator, max_hops: int = 1):
        if separator.ssl is not None:
            raise ValueError(
                "StreamingEnhancer needs a causal cnunet_tb without SSL upstream"
            )
        if max_hops < 1:
            raise ValueError(f"max_hops must be >= 1, got {max_hops}")
        self.separator = separator.eval()
        self.max_hops = max_hops
        self.hop = separator.stft.hop_length
        self.lookback = separator.stft.lookback
        self.device = next(separator.parameters()).device
        self.reset()

    @property
    def latency_samples(self) -> int:
        """Input samples that arrive between an input sample and its output."""
        return self.separator.latency_samples

    def reset(self) -> None:
        """Starts a new stream."""
        self._state = None
        self._pending = np.zeros(0, dtype=np.float32)
        self._to_skip = self.lookback  # start-up samples before input sample 0
        self._seen = 0
        self._emitted = 0

    @torch.inference_mode()
    def _run_hops(self, samples: np.ndarray) -> np.ndarray:
        out = np.zeros(0, np.float32)
        # At most max_hops frames per network call: bounded memory for any block.
        step = self.max_hops * self.hop
        outputs = []
        for start in range(0, len(samples), step):
            block = torch.from_numpy(samples[start : start + step]).unsqueeze(0)
            (chunk,), self._state, _ = self.separator.forward_streaming(
                block.to(self.device), self._state
            )
            outputs.append(chunk[0].float().cpu().numpy())
        if outputs:
            out = np.concatenate(outputs)
        skip = min(self._to_skip, len(out))
        self._to_skip -= skip
        return out[skip:]

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feeds input samples ``[n]``; returns the output samples now final."""
        block = np.asarray(block, dtype=np.float32)
        if block.ndim != 1:
            raise ValueError(
                f"StreamingEnhancer takes mono sample blocks [n], got {block.shape}"
            )
        self._seen += len(block)
        data = np.concatenate([self._pending, block])
        usable = len(data) - len(data) % self.hop
        self._pending = data[usable:]
        out = self._run_hops(data[:usable])
        self._emitted += len(out)
        return out

    def flush(self) -> np.ndarray:
        """Ends the stream: returns the remaining output samples (zeros fed in)."""
        missing = self._seen - self._emitted
        if missing <= 0:
            return np.zeros(0, np.float32)
        # every fed sample gives one output sample once the start-up is skipped
        hops = -(-(missing + self._to_skip) // self.hop)
        tail = np.zeros(hops * self.hop, dtype=np.float32)
        tail[: len(self._pending)] = self._pending
        self._pending = np.zeros(0, dtype=np.float32)
        out = self._run_hops(tail)[:missing]
        self._emitted += len(out)
        return out

    def stream(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Enhances an iterator of blocks, yielding output blocks as they finish."""
        self.reset()
        for block in blocks:
            out = self.process(block)
            if len(out):
                yield out
        out = self.flush()
        if len(out):
            yield out

    def enhance_file(
        self, in_path: str | Path, out_path: str | Path, block_size: int = 4096
    ) -> int:
        """Enhances a sound file block by block; returns the samples written.

        Raises:
            ValueError: naming the file when its rate or channels do not fit.
        """
        import soundfile as sf

        info = sf.info(str(in_path))
        fs = self.separator.fs
        if info.samplerate != fs:
            raise ValueError(
                f"{in_path}: sampled at {info.samplerate} Hz, the model at {fs} Hz: "
                "resample it first"
            )
        if info.channels != 1:
            raise ValueError(
                f"{in_path}: {info.channels} channels, the model takes mono audio"
            )
        written = 0
        with sf.SoundFile(
            str(out_path), "w", samplerate=fs, channels=1, subtype="FLOAT"
        ) as out:
            blocks = sf.blocks(str(in_path), blocksize=block_size, dtype="float32")
            for chunk in self.stream(blocks):
                out.write(chunk)
                written += len(chunk)
        return written


def main(argv=None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description="Streaming enhancement with a stage-2 cnunet_tb model "
        "(one window of latency, constant memory)."
    )
    parser.add_argument("--model", required=True, help="experiment folder")
    parser.add_argument("--model_file", default=None, help="checkpoint (.pth)")
    parser.add_argument("--block_size", type=int, default=4096)
    parser.add_argument("--num_threads", type=int, default=1)
    parser.add_argument(
        "--max_hops", type=int, default=1, help="hops per network call (same output)"
    )
    parser.add_argument("input", help="noisy wav (model's rate, mono)")
    parser.add_argument("output", help="enhanced wav to write")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.num_threads)
    try:
        enhancer = StreamingEnhancer(
            load_separator(args.model, args.model_file), args.max_hops
        )
        n = enhancer.enhance_file(args.input, args.output, args.block_size)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"error: {err}")
    print(f"wrote {n} samples to {args.output}")


if __name__ == "__main__":
    main()
