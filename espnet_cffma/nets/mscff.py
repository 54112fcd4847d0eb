"""Multi-scale cross-domain feature fusion (MSCFF) of spectrogram and SSL features."""

from collections.abc import Sequence

import torch

from espnet_cffma.nets.padding import zero_padding


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


class MSCFF(torch.nn.Module):
    """Fuses spectrogram and SSL features with gates at three time scales.

    A shared linear layer maps both the raw cross-domain concatenation and the
    gated concatenation to ``fusion_dim``; three sigmoid gates (spectrogram,
    SSL, fused), computed from a bottleneck branch by convolutions of
    different kernel sizes / dilations, decide what each stream contributes.

    Args:
        spec_dim: spectrogram feature size ``F`` (``n_fft // 2 + 1``).
        ssl_dim: SSL feature size ``D``.
        fusion_dim: output size (paper: 960).
        hidden_dim: bottleneck branch size (paper: 480).
        gate_kernel_sizes: kernels of the spectrogram, SSL and fused gates.
        gate_dilations: dilations of the three gates.
    """

    def __init__(
        self,
        spec_dim: int,
        ssl_dim: int,
        fusion_dim: int = 960,
        hidden_dim: int = 480,
        gate_kernel_sizes: Sequence[int] = (3, 5, 7),
        gate_dilations: Sequence[int] = (1, 1, 1),
    ):
        super().__init__()
        if len(gate_kernel_sizes) != 3 or len(gate_dilations) != 3:
            raise ValueError(
                "MSCFF needs three gate kernel sizes and three dilations "
                "(spectrogram, SSL, fused), got "
                f"{list(gate_kernel_sizes)} and {list(gate_dilations)}"
            )
        self.spec_dim = spec_dim
        self.shared = torch.nn.Linear(spec_dim + ssl_dim, fusion_dim)
        self.bottleneck = torch.nn.Linear(fusion_dim, hidden_dim)  # a k=1 Conv1d
        self.activation = torch.nn.PReLU()
        self.norm = MaskedGlobalLayerNorm(hidden_dim)
        gate_dims = (spec_dim, ssl_dim, fusion_dim)
        self.gates = torch.nn.ModuleList(
            TimeConv(hidden_dim, dim, k, d)
            for dim, k, d in zip(gate_dims, gate_kernel_sizes, gate_dilations)
        )

    def forward(
        self, spec: torch.Tensor, ssl: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Fuses frame-aligned features.

        Args:
            spec: spectrogram features ``[B, T, F]``.
            ssl: SSL features ``[B, T, D]``.
            mask: valid frames ``[B, T]``.

        Returns:
            Fused features ``[B, T, fusion_dim]``.
        """
        cross = self.shared(torch.cat([spec, ssl], dim=-1))
        branch = self.norm(self.activation(self.bottleneck(cross)), mask)
        spec_gate, ssl_gate, fused_gate = (
            torch.sigmoid(gate(branch, mask)) for gate in self.gates
        )
        gated = self.shared(torch.cat([spec * spec_gate, ssl * ssl_gate], dim=-1))
        return torch.relu(gated + cross * fused_gate)
