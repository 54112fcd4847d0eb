"""Frame-by-frame streaming of a causal model inside ``cffma-enhance``.

``cffma-enhance --streaming`` sends every file through a causal separator one
hop at a time (:class:`~espnet_cffma.systems.cnunet_tb.streaming.StreamingEnhancer`,
one per channel) instead of the overlapping chunks of
:class:`~espnet_cffma.enhance.overlap_add.OverlapAdd`. :class:`CausalStream`
has the same ``push``/``finish`` interface, so the engine reads, resamples,
checks and writes exactly as for chunked files. The output equals a
whole-file pass of the same model; memory is the model's state, whatever the
file's length.
"""

from collections.abc import Iterator

import numpy as np
import torch

from espnet_cffma.enhance.errors import ModelLoadError


def streaming_separator(model: torch.nn.Module) -> torch.nn.Module:
    """The separator of ``model`` if it can stream, else a clear error.

    Streaming needs a causal separator that works on waveforms itself (ESPnet
    ``encoder: same`` / ``decoder: same``) and no per-utterance normalisation.

    Raises:
        ModelLoadError: naming what stops the model from streaming.
    """
    from espnet2.enh.decoder.null_decoder import NullDecoder
    from espnet2.enh.encoder.null_encoder import NullEncoder

    from espnet_cffma.systems.cnunet_tb.separator import CNUNetTBSeparator

    separator = model.separator
    if not isinstance(separator, CNUNetTBSeparator):
        raise ModelLoadError(
            f"--streaming needs a causal cnunet_tb model; this one's separator is "
            f"{type(separator).__name__} (not causal: enhance it without --streaming)"
        )
    if separator.ssl is not None:
        raise ModelLoadError(
            "--streaming: this cnunet_tb has an SSL upstream (a stage-1 model), "
            "which is not causal; stream the stage-2 model trained from it"
        )
    if not isinstance(model.encoder, NullEncoder) or not isinstance(
        model.decoder, NullDecoder
    ):
        raise ModelLoadError(
            "--streaming needs 'encoder: same' and 'decoder: same' (the separator "
            "does its own causal STFT)"
        )
    if getattr(model, "normalize_variance", False) or getattr(
        model, "normalize_variance_per_ch", False
    ):
        raise ModelLoadError(
            "--streaming: the model normalises each utterance's variance, which "
            "needs the whole file; retrain without normalize_variance"
        )
    return separator


class CausalStream:
    """Streams ``[N, C]`` blocks through a causal separator, channel by channel.

    Args:
        separator: from :func:`streaming_separator`.
        channels: channels of the stream (each gets its own state).
        max_hops: hops per network call (same output; more amortise overhead).
    """

    def __init__(self, separator: torch.nn.Module, channels: int, max_hops: int = 8):
        from espnet_cffma.systems.cnunet_tb.streaming import StreamingEnhancer

        self.channels = [
            StreamingEnhancer(separator, max_hops=max_hops) for _ in range(channels)
        ]
        self.frames_done = 0

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency at the model's rate."""
        return self.channels[0].latency_samples

    def push(self, block: np.ndarray) -> Iterator[np.ndarray]:
        """Adds ``block`` ``[N, C]``; yields the output samples now final."""
        if len(block):
            yield from self._gather([s.process(col) for s, col in self._split(block)])

    def finish(self) -> Iterator[np.ndarray]:
        """Ends the stream; yields the rest, so output length equals input length."""
        yield from self._gather([s.flush() for s in self.channels])

    def _split(self, block: np.ndarray):
        if block.ndim != 2 or block.shape[1] != len(self.channels):
            raise ValueError(
                f"CausalStream expects [N, {len(self.channels)}] blocks, got "
                f"{block.shape}"
            )
        return zip(self.channels, np.ascontiguousarray(block.T))

    def _gather(self, outputs: list[np.ndarray]) -> Iterator[np.ndarray]:
        # Every channel is fed the same number of samples, so each returns as many.
        if len(outputs[0]):
            self.frames_done += len(outputs[0])
            yield np.stack(outputs, axis=1)
