"""Residual hybrid multi-attention (RHMA) blocks.

Each block: residual relative-position self-attention -> LN -> residual FFN ->
LN -> residual SCTA -> LN -> residual FFN -> LN, wrapped in an outer residual
connection and LN. The attention and feed-forward layers are ESPnet's own
(Conformer) modules.
"""

from collections.abc import Sequence

import torch
from espnet.nets.pytorch_backend.transformer.attention import (
    RelPositionMultiHeadedAttention,
)
from espnet.nets.pytorch_backend.transformer.embedding import RelPositionalEncoding
from espnet.nets.pytorch_backend.transformer.positionwise_feed_forward import (
    PositionwiseFeedForward,
)

from espnet_cffma.systems.bss_cffma.scta import SCTA


class RHMABlock(torch.nn.Module):
    """One residual hybrid multi-attention block.

    Args:
        dim: feature size ``C``.
        num_heads: self-attention heads (must divide ``dim``).
        ffn_dim: hidden size of the feed-forward layers.
        dropout: dropout of attention, feed-forward and residual paths.
        scta_reduction: SCTA channel MLP bottleneck ratio.
        scta_time_kernel_sizes: SCTA time convolution kernels (joint, shared).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        ffn_dim: int,
        dropout: float,
        scta_reduction: int,
        scta_time_kernel_sizes: Sequence[int],
    ):
        super().__init__()
        self.attention = RelPositionMultiHeadedAttention(
            n_head=num_heads, n_feat=dim, dropout_rate=dropout
        )
        self.ffn1 = PositionwiseFeedForward(
            idim=dim,
            hidden_units=ffn_dim,
            dropout_rate=dropout,
            activation=torch.nn.SiLU(),
        )
        self.scta = SCTA(
            channels=dim,
            reduction=scta_reduction,
            time_kernel_sizes=scta_time_kernel_sizes,
        )
        self.ffn2 = PositionwiseFeedForward(
            idim=dim,
            hidden_units=ffn_dim,
            dropout_rate=dropout,
            activation=torch.nn.SiLU(),
        )
        self.norms = torch.nn.ModuleList(torch.nn.LayerNorm(dim) for _ in range(5))
        self.dropout = torch.nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, pos_emb: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """Applies the block.

        Args:
            x: features ``[B, T, C]``.
            pos_emb: relative positional embedding ``[1, 2T - 1, C]``.
            mask: valid frames ``[B, T]``.

        Returns:
            ``[B, T, C]``.
        """
        key_mask = mask.unsqueeze(1)  # [B, 1, T]: padded keys get no attention
        h = self.norms[0](x + self.dropout(self.attention(x, x, x, pos_emb, key_mask)))
        h = self.norms[1](h + self.dropout(self.ffn1(h)))
        h = self.norms[2](h + self.dropout(self.scta(h, mask)))
        h = self.norms[3](h + self.dropout(self.ffn2(h)))
        return self.norms[4](x + h)


class RHMA(torch.nn.Module):
    """Input projection followed by a stack of RHMA blocks.

    Args:
        input_dim: size of the fused features (MSCFF output).
        dim: attention dimension ``C`` (paper: 512).
        num_blocks: number of blocks (paper demo: 2).
        num_heads: self-attention heads (paper: 4).
        ffn_dim: feed-forward hidden size (paper: 2048).
        dropout: dropout rate (paper: 0.1).
        scta_reduction: SCTA channel MLP bottleneck ratio (paper: 2).
        scta_time_kernel_sizes: SCTA time convolution kernels (paper: 5, 3).
    """

    def __init__(
        self,
        input_dim: int,
        dim: int = 512,
        num_blocks: int = 2,
        num_heads: int = 4,
        ffn_dim: int = 2048,
        dropout: float = 0.1,
        scta_reduction: int = 2,
        scta_time_kernel_sizes: Sequence[int] = (5, 3),
    ):
        super().__init__()
        if num_heads < 1 or dim % num_heads:
            raise ValueError(
                f"attention_dim {dim} must be divisible by num_heads {num_heads}"
            )
        if num_blocks < 1:
            raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
        self.input_layer = torch.nn.Linear(input_dim, dim)
        self.positional = RelPositionalEncoding(d_model=dim, dropout_rate=dropout)
        self.blocks = torch.nn.ModuleList(
            RHMABlock(
                dim=dim,
                num_heads=num_heads,
                ffn_dim=ffn_dim,
                dropout=dropout,
                scta_reduction=scta_reduction,
                scta_time_kernel_sizes=scta_time_kernel_sizes,
            )
            for _ in range(num_blocks)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``[B, T, input_dim]`` with valid frames ``[B, T]`` -> ``[B, T, dim]``."""
        x = self.input_layer(x)
        # Only the relative position table is used: ESPnet's encoding also
        # rescales its input by sqrt(dim), which this model does not want.
        _, pos_emb = self.positional(x)
        for block in self.blocks:
            x = block(x, pos_emb, mask)
        return x
