"""Normalisations that leave padded frames out of their statistics."""

import torch


class MaskedGlobalLayerNorm(torch.nn.Module):
    """Global layer norm: statistics over time and channels of valid frames only.

    Args:
        channels: feature size ``C``.
        eps: variance floor.
    """

    def __init__(self, channels: int, eps: float = 1e-8):
        super().__init__()
        self.gamma = torch.nn.Parameter(torch.ones(channels))
        self.beta = torch.nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Normalises ``x`` ``[B, T, C]`` with valid-frame ``mask`` ``[B, T]``."""
        weight = mask.unsqueeze(-1).to(x.dtype)
        count = (weight.sum(dim=(1, 2)) * x.size(-1)).clamp(min=1)
        mean = (x * weight).sum(dim=(1, 2)) / count
        centred = (x - mean[:, None, None]) * weight
        var = centred.pow(2).sum(dim=(1, 2)) / count
        normed = (x - mean[:, None, None]) / torch.sqrt(var[:, None, None] + self.eps)
        return normed * self.gamma + self.beta
