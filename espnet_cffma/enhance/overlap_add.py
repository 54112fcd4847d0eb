"""Chunked processing of a stream with a cross-fade that sums to one.

Consecutive chunks of ``chunk`` samples start ``hop = chunk - overlap`` apart.
Over each overlap the earlier chunk's output fades out with ``cos^2`` and the
later one fades in with ``sin^2`` (a Hann-shaped cross-fade: the two weights
sum to exactly one), elsewhere each output sample comes from one chunk with
weight one. For a model whose output is local, every sample farther than its
receptive field from a chunk edge is therefore identical to whole-signal
processing, and the samples near edges blend smoothly (no seams).

Memory is bounded by one chunk plus the incoming block, whatever the stream
length.
"""

from collections.abc import Callable, Iterator

import numpy as np


def crossfade(overlap: int) -> tuple[np.ndarray, np.ndarray]:
    """Fade-in and fade-out weights ``[overlap]``; they sum to one sample-wise."""
    phase = (np.arange(overlap, dtype=np.float64) + 0.5) / overlap
    fade_in = np.sin(0.5 * np.pi * phase) ** 2
    return fade_in.astype(np.float32), (1.0 - fade_in).astype(np.float32)


class OverlapAdd:
    """Runs ``process`` on overlapping chunks of a block stream ``[N, C]``.

    Feed blocks with :meth:`push` and collect what it yields, then call
    :meth:`finish`; the concatenated outputs are exactly as long as the input.
    Chunk starts fall on multiples of ``hop`` from the stream start, so a model
    with a frame grid (STFT hop, SSL stride) dividing ``hop`` sees the same
    frames as in a whole-signal run.

    Args:
        process: maps a chunk ``[n, C]`` to an output ``[n, C]``; ``n <= chunk``.
        chunk: chunk length in samples.
        overlap: overlap in samples, ``0 < overlap <= chunk // 2``.
    """

    def __init__(
        self, process: Callable[[np.ndarray], np.ndarray], chunk: int, overlap: int
    ):
        if not 0 < overlap <= chunk // 2:
            raise ValueError(
                f"overlap must be in (0, chunk/2]: chunk={chunk}, overlap={overlap}"
            )
        self.process = process
        self.chunk = chunk
        self.overlap = overlap
        self.hop = chunk - overlap
        self.fade_in, self.fade_out = crossfade(overlap)
        self._blocks: list[np.ndarray] = []
        self._buffered = 0
        self._pending: np.ndarray | None = None  # faded tail of the last chunk
        self.chunks_done = 0

    def push(self, block: np.ndarray) -> Iterator[np.ndarray]:
        """Adds ``block`` ``[N, C]``; yields output that is final."""
        if len(block):
            self._blocks.append(block)
            self._buffered += len(block)
        # Strictly more than a chunk: only then is this chunk surely not the last,
        # so the last chunk is never a sliver made only of overlap.
        while self._buffered > self.chunk:
            buffer = self._take()
            yield self._run(buffer[: self.chunk], last=False)
            self._keep(buffer[self.hop :])

    def finish(self) -> Iterator[np.ndarray]:
        """Processes what is left as the last chunk; yields the final output."""
        if self._buffered:
            yield self._run(self._take(), last=True)
        self._blocks, self._buffered = [], 0

    def _take(self) -> np.ndarray:
        if len(self._blocks) > 1:
            self._blocks = [np.concatenate(self._blocks)]
        return self._blocks[0]

    def _keep(self, rest: np.ndarray) -> None:
        self._blocks = [rest]
        self._buffered = len(rest)

    def _run(self, x: np.ndarray, last: bool) -> np.ndarray:
        y = np.array(self.process(x), dtype=np.float32, copy=True)
        if y.shape != x.shape:
            raise RuntimeError(f"chunk output shape {y.shape} != input {x.shape}")
        if self._pending is not None:
            head = y[: self.overlap]
            head *= self.fade_in[:, None]
            head += self._pending
        self.chunks_done += 1
        if last:
            self._pending = None
            return y
        self._pending = y[self.hop : self.chunk] * self.fade_out[:, None]
        return y[: self.hop]
