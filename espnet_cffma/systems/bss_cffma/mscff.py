"""Multi-scale cross-domain feature fusion (MSCFF) of spectrogram and SSL features."""

from collections.abc import Sequence

import torch

from espnet_cffma.layers.conv import TimeConv
from espnet_cffma.layers.norms import MaskedGlobalLayerNorm


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
        self.norm = MaskedGlobalLayerNorm(channels=hidden_dim)
        gate_dims = (spec_dim, ssl_dim, fusion_dim)
        self.gates = torch.nn.ModuleList(
            TimeConv(in_dim=hidden_dim, out_dim=dim, kernel_size=k, dilation=d)
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
