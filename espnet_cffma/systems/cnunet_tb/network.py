"""The CNUNet-TB network on compressed spectra (no STFT, no SSL upstream).

Input: the compressed noisy spectrum ``[B, 2, F, T]`` (real, imaginary; DC
dropped). Output: one ``[B, 2, F, T]`` estimate per branch (``mask``: the
complex mask ``M``; ``mapping``: the compressed clean spectrum) and the outer
bottleneck output (the latent that stage 2 distils).
"""

from collections.abc import Sequence

import torch

from espnet_cffma.layers.causal import causal_conv
from espnet_cffma.layers.norms import causal_norm
from espnet_cffma.systems.cnunet_tb.blocks import (
    ConvNormAct,
    DecoderStage,
    DilatedDenseBlock,
    EncoderStage,
    cat_parts,
    check_frequency_plan,
)

BRANCHES = ("mask", "mapping")


class SSLFusion(torch.nn.Module):
    """Fuses frame-aligned SSL features into the outer bottleneck input.

    Per part, the map ``[C, F_b]`` of each frame is flattened, concatenated
    with the SSL vector, projected back by a 1x1 convolution and normalised
    (causally). Real and imaginary parts have their own projection, as in the
    authors' code.

    Args:
        channels: bottleneck channels per part.
        num_bins: bottleneck frequency bins ``F_b``.
        ssl_dim: SSL feature size ``D``.
        complex_valued: two projections (one per part) or one over both.
        norm: ``frame`` or ``cumulative``.
    """

    def __init__(
        self,
        channels: int,
        num_bins: int,
        ssl_dim: int,
        complex_valued: bool,
        norm: str,
    ):
        super().__init__()
        flat = channels * num_bins
        self.parts = 2 if complex_valued else 1
        width = flat * 2 // self.parts
        self.projections = torch.nn.ModuleList(
            torch.nn.Conv1d(width + ssl_dim, width, 1) for _ in range(self.parts)
        )
        self.norm = causal_norm(norm, 2 * flat, self.parts)

    def forward(
        self, x: torch.Tensor, ssl: torch.Tensor, state: dict | None = None
    ) -> torch.Tensor:
        """Fuses ``x`` ``[B, 2C, F_b, T]`` with ``ssl`` ``[B, D, T]``."""
        b, c2, f, t = x.shape
        parts = x.chunk(self.parts, dim=1)
        fused = [
            proj(torch.cat([p.reshape(b, -1, t), ssl], dim=1))
            for proj, p in zip(self.projections, parts)
        ]
        fused = torch.cat(fused, dim=1).unsqueeze(2)  # [B, 2CF, 1, T]
        return self.norm(fused, state).reshape(b, c2, f, t)


class CNUNetTB(torch.nn.Module):
    """Causal (two-branch, complex) nested U-Net.

    Args:
        num_bins: input frequency bins (``n_fft // 2``, DC dropped).
        channels: outer stage channels per part (authors: 64).
        mid_channels: inner U-Net channels per part (authors: 32).
        encoder_depths: inner U-Net depth per encoder stage (6, 5, 4, 4, 4, 3).
        decoder_depths: per decoder stage (default: encoder depths reversed).
        inner_dense_layers: layers of each inner dense bottleneck (6).
        bottleneck_layers: layers of the outer dense bottleneck (6).
        branches: ``("mask", "mapping")`` or a single one.
        complex_valued: complex convolutions (CNUNet) or real ones (NUNet).
        norm: ``frame`` or ``cumulative`` (see :mod:`espnet_cffma.layers.norms`).
        ctfa_kernel: CTFA time kernel (17).
        ctfa_window: CTFA moving-average frames (32).
        ssl_dim: SSL feature size fused at the bottleneck (0: no fusion).
    """

    def __init__(
        self,
        num_bins: int = 256,
        channels: int = 64,
        mid_channels: int = 32,
        encoder_depths: Sequence[int] = (6, 5, 4, 4, 4, 3),
        decoder_depths: Sequence[int] | None = None,
        inner_dense_layers: int = 6,
        bottleneck_layers: int = 6,
        branches: Sequence[str] = BRANCHES,
        complex_valued: bool = True,
        norm: str = "cumulative",
        ctfa_kernel: int = 17,
        ctfa_window: int = 32,
        ssl_dim: int = 0,
    ):
        super().__init__()
        encoder_depths = [int(d) for d in encoder_depths]
        if decoder_depths is None:
            decoder_depths = encoder_depths[::-1]
        decoder_depths = [int(d) for d in decoder_depths]
        if len(decoder_depths) != len(encoder_depths):
            raise ValueError(
                f"decoder_depths {decoder_depths} must have one entry per encoder "
                f"stage ({len(encoder_depths)})"
            )
        branches = list(branches)
        if (
            not branches
            or any(b not in BRANCHES for b in branches)
            or (len(set(branches)) != len(branches))
        ):
            raise ValueError(
                f"branches must be a non-empty subset of {BRANCHES}, got {branches}"
            )
        self.branches = branches
        self.bottleneck_bins = check_frequency_plan(
            num_bins, encoder_depths, decoder_depths
        )
        common = dict(
            mid_channels=mid_channels,
            dense_layers=inner_dense_layers,
            complex_valued=complex_valued,
            norm=norm,
            ctfa_kernel=ctfa_kernel,
            ctfa_window=ctfa_window,
        )
        self.input = ConvNormAct(1, channels, complex_valued, norm)
        self.encoders = torch.nn.ModuleList(
            EncoderStage(channels, channels, depth=d, **common) for d in encoder_depths
        )
        self.fusion = (
            SSLFusion(channels, self.bottleneck_bins, ssl_dim, complex_valued, norm)
            if ssl_dim
            else None
        )
        self.bottleneck = DilatedDenseBlock(
            channels, channels, bottleneck_layers, complex_valued, norm
        )
        self.decoders = torch.nn.ModuleDict(
            {
                name: torch.nn.ModuleList(
                    DecoderStage(channels, depth=d, **common) for d in decoder_depths
                )
                for name in branches
            }
        )
        self.outputs = torch.nn.ModuleDict(
            {name: causal_conv(channels, 1, complex_valued) for name in branches}
        )

    def forward(
        self,
        spec: torch.Tensor,
        ssl: torch.Tensor | None = None,
        state: dict | None = None,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """Runs the network.

        Args:
            spec: compressed noisy spectrum ``[B, 2, F, T]``.
            ssl: frame-aligned SSL features ``[B, D, T]`` (stage 1 only).
            state: streaming state (see :mod:`espnet_cffma.layers.causal`).

        Returns:
            ``{branch: [B, 2, F, T]}`` and the bottleneck output
            ``[B, 2C, F_b, T]``.
        """
        out = self.input(spec, state)
        skips = []
        for encoder in self.encoders:
            out = encoder(out, state)
            skips.append(out)
        if self.fusion is not None:
            if ssl is None:
                raise ValueError("This network fuses SSL features: pass ssl")
            out = self.fusion(out, ssl, state)
        latent = self.bottleneck(out, state)
        estimates = {}
        for name in self.branches:
            branch = latent
            for decoder, skip in zip(self.decoders[name], reversed(skips)):
                branch = decoder(cat_parts(branch, skip), state)
            estimates[name] = self.outputs[name](branch, state)
        return estimates, latent
