"""Convolutions over time on ``[B, T, C]`` features with padded frames masked."""

import torch

from espnet_cffma.layers.padding import zero_padding


class TimeConv(torch.nn.Module):
    """``Conv1d`` over time on ``[B, T, C]`` with "same" zero padding.

    Padded frames are zeroed first so that an utterance's border frames see the
    same zeros as in its solo run.
    """

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int, dilation: int = 1):
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(
                f"Convolution kernel sizes must be odd and positive, got {kernel_size}"
            )
        if dilation < 1:
            raise ValueError(f"Convolution dilations must be >= 1, got {dilation}")
        self.conv = torch.nn.Conv1d(
            in_dim,
            out_dim,
            kernel_size,
            dilation=dilation,
            padding=dilation * (kernel_size - 1) // 2,
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[B, T, C_in]`` -> ``[B, T, C_out]``."""
        return self.conv(zero_padding(x, mask).transpose(1, 2)).transpose(1, 2)
