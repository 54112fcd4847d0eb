"""Sample-rate conversion with soxr, whole-array and streaming: the one resampler.

Used by enhancement (``cffma-enhance``) and by the demo corpora. Both
functions use the same soxr filter, and soxr's streaming output equals its
whole-array output sample for sample, which keeps chunked and whole-file
enhancement comparable.
"""

import numpy as np
import soxr

QUALITY = "HQ"


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resamples ``x`` from ``rate_in`` to ``rate_out`` (band-limited, soxr HQ).

    Args:
        x: a signal ``[N]`` or ``[N, C]``.
        rate_in: its sampling rate.
        rate_out: the wanted rate.

    Returns:
        float32 ``[N * rate_out / rate_in]`` or ``[..., C]``, the input's shape
        otherwise (unchanged, as float32, when the rates are equal).
    """
    x = np.asarray(x, dtype=np.float32)
    if rate_in == rate_out:
        return x
    return np.ascontiguousarray(
        soxr.resample(x, rate_in, rate_out, quality=QUALITY), dtype=np.float32
    )


def fix_length(x: np.ndarray, frames: int) -> np.ndarray:
    """Trims or zero-pads ``x`` ``[N, C]`` to exactly ``frames`` rows.

    Resampling there and back can be off by a sample or so.
    """
    if len(x) >= frames:
        return x[:frames]
    pad = np.zeros((frames - len(x), x.shape[1]), dtype=x.dtype)
    return np.concatenate([x, pad])


class StreamResampler:
    """Resamples a signal that arrives in blocks ``[N, C]``.

    Args:
        rate_in: input rate.
        rate_out: output rate.
        channels: channel count of every block.
    """

    def __init__(self, rate_in: int, rate_out: int, channels: int):
        self._stream = (
            None
            if rate_in == rate_out
            else soxr.ResampleStream(
                rate_in, rate_out, channels, dtype="float32", quality=QUALITY
            )
        )
        self.channels = channels

    def process(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        """Converts the next block; ``last=True`` flushes the filter's tail."""
        if self._stream is None:
            return block
        block = np.ascontiguousarray(block, dtype=np.float32)
        return self._stream.resample_chunk(block, last=last).reshape(-1, self.channels)

    def flush(self) -> np.ndarray:
        """Returns the samples still held in the filter."""
        return self.process(np.zeros((0, self.channels), dtype=np.float32), last=True)
