"""Normalisations: masked (padding-aware) and causal (frame-wise, cumulative)."""

import torch

CAUSAL_NORMS = ("frame", "cumulative")


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


class _CausalGroupNorm(torch.nn.Module):
    """Shared parts of the causal norms on ``[B, C, F, T]``.

    Channels are split into ``groups`` (2: real and imaginary parts of a complex
    map, normalised separately); each group is normalised over its channels and
    frequencies, with a per-channel gain and bias.
    """

    def __init__(self, channels: int, groups: int = 1, eps: float = 1e-8):
        super().__init__()
        if channels % groups:
            raise ValueError(f"{channels} channels do not split into {groups} groups")
        self.groups = groups
        self.eps = eps
        self.gamma = torch.nn.Parameter(torch.ones(channels, 1, 1))
        self.beta = torch.nn.Parameter(torch.zeros(channels, 1, 1))
        self.state_key = "norm"

    def _grouped(self, x: torch.Tensor) -> torch.Tensor:
        b, c, f, t = x.shape
        return x.reshape(b, self.groups, c // self.groups, f, t)

    def _affine(self, normed: torch.Tensor, shape: torch.Size) -> torch.Tensor:
        return normed.reshape(shape) * self.gamma + self.beta


class FrameGroupNorm(_CausalGroupNorm):
    """Per-frame group norm: statistics over (channels, frequency) of each frame.

    Stateless, so trivially causal and streamable. Args as
    :class:`_CausalGroupNorm`.
    """

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, C, F, T]`` -> same shape (``state`` unused)."""
        g = self._grouped(x)
        mean = g.mean(dim=(2, 3), keepdim=True)
        var = (g - mean).pow(2).mean(dim=(2, 3), keepdim=True)
        return self._affine((g - mean) / torch.sqrt(var + self.eps), x.shape)


class CumulativeGroupNorm(_CausalGroupNorm):
    """Cumulative group norm: statistics over (channels, frequency, frames <= t).

    The causal counterpart of a GroupNorm over the whole utterance. The running
    sums are kept in float64 (a long stream would otherwise lose precision) and
    are the streaming state: ``(sum, sum of squares, count)`` per group.
    """

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, C, F, T]`` -> same shape."""
        g = self._grouped(x)
        per_frame = g.shape[2] * g.shape[3]
        g64 = g.double()
        total = g64.sum(dim=(2, 3)).cumsum(dim=-1)  # [B, G, T]
        total_sq = g64.pow(2).sum(dim=(2, 3)).cumsum(dim=-1)
        count = per_frame * torch.arange(
            1, x.size(-1) + 1, device=x.device, dtype=torch.float64
        )
        if state is not None:
            past = state.get(self.state_key)
            if past is not None:
                total = total + past[0].unsqueeze(-1)
                total_sq = total_sq + past[1].unsqueeze(-1)
                count = count + past[2]
            state[self.state_key] = (total[..., -1], total_sq[..., -1], count[-1])
        mean = total / count
        var = (total_sq / count - mean.pow(2)).clamp(min=0)
        mean = mean.to(x.dtype)[:, :, None, None, :]
        std = torch.sqrt(var.to(x.dtype) + self.eps)[:, :, None, None, :]
        return self._affine((g - mean) / std, x.shape)


def causal_norm(kind: str, channels: int, groups: int = 1) -> torch.nn.Module:
    """Builds a causal norm: ``frame`` or ``cumulative``."""
    if kind == "frame":
        return FrameGroupNorm(channels, groups)
    if kind == "cumulative":
        return CumulativeGroupNorm(channels, groups)
    raise ValueError(f"norm must be one of {CAUSAL_NORMS}, got '{kind}'")
