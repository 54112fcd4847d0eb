"""Selective channel-time attention (SCTA), the third attention of an RHMA block."""

from collections.abc import Sequence

import torch

from espnet_cffma.layers.conv import TimeConv
from espnet_cffma.layers.padding import masked_max, masked_mean


class SelectiveChannelAttention(torch.nn.Module):
    """Re-weights channels from max- and average-pooled statistics over time.

    ``out = 0.25 x s(mlp(max)) + 0.25 x s(mlp(avg)) + 0.5 x s(mlp(max) + mlp(avg))``
    with ``s`` the sigmoid and one MLP ``C -> C / r -> C`` shared by both pools.

    Args:
        channels: feature size ``C``.
        reduction: MLP bottleneck ratio ``r``.
    """

    def __init__(self, channels: int, reduction: int = 2):
        super().__init__()
        if reduction < 1 or channels % reduction:
            raise ValueError(
                f"SCTA channel reduction {reduction} must divide the attention "
                f"dimension {channels}"
            )
        self.mlp = torch.nn.Sequential(
            torch.nn.Linear(channels, channels // reduction),
            torch.nn.ReLU(),
            torch.nn.Linear(channels // reduction, channels),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[B, T, C]`` -> ``[B, T, C]``; pooling uses valid frames ``[B, T]`` only."""
        from_max = self.mlp(masked_max(x, mask)).unsqueeze(1)
        from_avg = self.mlp(masked_mean(x, mask)).unsqueeze(1)
        weight = (
            0.25 * torch.sigmoid(from_max)
            + 0.25 * torch.sigmoid(from_avg)
            + 0.5 * torch.sigmoid(from_max + from_avg)
        )
        return x * weight


class SelectiveTimeAttention(torch.nn.Module):
    """Re-weights frames from channel-pooled statistics.

    ``out = 0.25 s(c_s(max)) x + 0.25 s(c_s(avg)) x + 0.5 s(c_j([avg, max])) x``
    with ``c_s`` a 1 -> 1 convolution shared by both pools and ``c_j`` a
    2 -> 1 convolution on both jointly.

    Args:
        joint_kernel_size: kernel of ``c_j`` (paper: 5).
        single_kernel_size: kernel of ``c_s`` (paper: 3).
    """

    def __init__(self, joint_kernel_size: int = 5, single_kernel_size: int = 3):
        super().__init__()
        self.joint = TimeConv(in_dim=2, out_dim=1, kernel_size=joint_kernel_size)
        self.single = TimeConv(in_dim=1, out_dim=1, kernel_size=single_kernel_size)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[B, T, C]`` -> ``[B, T, C]``."""
        avg = x.mean(dim=-1, keepdim=True)
        peak = x.amax(dim=-1, keepdim=True)
        weight = (
            0.25 * torch.sigmoid(self.single(peak, mask))
            + 0.25 * torch.sigmoid(self.single(avg, mask))
            + 0.5 * torch.sigmoid(self.joint(torch.cat([avg, peak], dim=-1), mask))
        )
        return x * weight


class SCTA(torch.nn.Module):
    """Channel attention followed by time attention.

    Args:
        channels: feature size ``C``.
        reduction: channel-attention MLP bottleneck ratio.
        time_kernel_sizes: kernels of the joint and the shared time convolutions.
    """

    def __init__(
        self,
        channels: int,
        reduction: int = 2,
        time_kernel_sizes: Sequence[int] = (5, 3),
    ):
        super().__init__()
        if len(time_kernel_sizes) != 2:
            raise ValueError(
                "SCTA needs two time kernel sizes (joint, shared), got "
                f"{list(time_kernel_sizes)}"
            )
        self.channel = SelectiveChannelAttention(channels=channels, reduction=reduction)
        joint_kernel_size, single_kernel_size = time_kernel_sizes
        self.time = SelectiveTimeAttention(
            joint_kernel_size=joint_kernel_size, single_kernel_size=single_kernel_size
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[B, T, C]`` -> ``[B, T, C]``."""
        return self.time(self.channel(x, mask), mask)
