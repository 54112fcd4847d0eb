"""Helpers that keep padded frames from leaking into valid ones.

Every layer that mixes information across time (convolutions, pooling,
normalisation over time, attention) must see an utterance exactly as its solo
run would: padded frames zeroed (as a convolution's own zero padding) and left
out of statistics.
"""

import torch


def valid_frames(lengths: torch.Tensor, max_length: int) -> torch.Tensor:
    """Boolean mask of valid frames.

    Args:
        lengths: valid frames per utterance ``[B]``.
        max_length: padded length ``T``.

    Returns:
        ``[B, T]``, True on valid frames.
    """
    steps = torch.arange(max_length, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


def zero_padding(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Zeroes padded frames of ``x`` ``[B, T, C]`` given ``mask`` ``[B, T]``."""
    return x.masked_fill(~mask.unsqueeze(-1), 0.0)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over valid frames: ``[B, T, C]`` -> ``[B, C]``."""
    count = mask.sum(dim=1, keepdim=True).clamp(min=1).to(x.dtype)
    return zero_padding(x, mask).sum(dim=1) / count


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Maximum over valid frames: ``[B, T, C]`` -> ``[B, C]``."""
    return x.masked_fill(~mask.unsqueeze(-1), torch.finfo(x.dtype).min).amax(dim=1)
