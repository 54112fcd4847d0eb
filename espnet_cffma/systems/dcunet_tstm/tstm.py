"""TSTM: the dual-path transformer bottleneck of MIA-SE (real-valued).

Input and output are real feature maps ``[B, C, F, T]``. A 1x1 convolution
halves the channels, ``num_layers`` dual-path layers follow (a transformer
layer along time for every frequency row, then one along frequency for every
frame, each added back after a group norm), and a 1x1 convolution restores
the channels. Each transformer layer is self-attention + residual + LayerNorm,
then a bidirectional GRU feed-forward (GRU -> ReLU -> linear) + residual +
LayerNorm. Nothing is causal: both paths see the whole utterance.
"""

import torch


class TransformerGRULayer(torch.nn.Module):
    """Self-attention then a GRU feed-forward, each with residual + LayerNorm.

    Args:
        dim: feature size ``D``.
        num_heads: attention heads.
        gru_hidden: hidden size per direction of the GRU feed-forward.
        dropout: dropout after attention and feed-forward.
    """

    def __init__(self, dim: int, num_heads: int, gru_hidden: int, dropout: float):
        super().__init__()
        self.attention = torch.nn.MultiheadAttention(
            dim, num_heads, dropout=dropout, batch_first=True
        )
        self.norm1 = torch.nn.LayerNorm(dim)
        self.gru = torch.nn.GRU(dim, gru_hidden, batch_first=True, bidirectional=True)
        self.linear = torch.nn.Linear(2 * gru_hidden, dim)
        self.norm2 = torch.nn.LayerNorm(dim)
        self.dropout = torch.nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, L, D]`` sequences -> ``[N, L, D]``."""
        attended, _ = self.attention(x, x, x, need_weights=False)
        x = self.norm1(x + self.dropout(attended))
        ff = self.linear(torch.relu(self.gru(x)[0]))
        return self.norm2(x + self.dropout(ff))


class TSTM(torch.nn.Module):
    """Two-stage (time, then frequency) transformer module.

    Args:
        channels: input and output channels ``C`` (bottleneck width ``C // 2``).
        num_layers: dual-path layers (authors: 6).
        num_heads: attention heads (authors: 4).
        gru_hidden: GRU hidden size per direction (default ``C // 2``).
        dropout: dropout inside the transformer layers.
    """

    def __init__(
        self,
        channels: int = 64,
        num_layers: int = 6,
        num_heads: int = 4,
        gru_hidden: int | None = None,
        dropout: float = 0.0,
    ):
        super().__init__()
        dim = channels // 2
        gru_hidden = gru_hidden or dim
        self.input = torch.nn.Sequential(
            torch.nn.Conv2d(channels, dim, kernel_size=1), torch.nn.PReLU()
        )
        self.time_layers = torch.nn.ModuleList(
            TransformerGRULayer(dim, num_heads, gru_hidden, dropout)
            for _ in range(num_layers)
        )
        self.freq_layers = torch.nn.ModuleList(
            TransformerGRULayer(dim, num_heads, gru_hidden, dropout)
            for _ in range(num_layers)
        )
        self.time_norms = torch.nn.ModuleList(
            torch.nn.GroupNorm(1, dim, eps=1e-8) for _ in range(num_layers)
        )
        self.freq_norms = torch.nn.ModuleList(
            torch.nn.GroupNorm(1, dim, eps=1e-8) for _ in range(num_layers)
        )
        self.output = torch.nn.Sequential(
            torch.nn.PReLU(), torch.nn.Conv2d(dim, channels, kernel_size=1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Real ``[B, C, F, T]`` -> real ``[B, C, F, T]``."""
        out = self.input(x)
        b, d, f, t = out.shape
        for time_layer, time_norm, freq_layer, freq_norm in zip(
            self.time_layers, self.time_norms, self.freq_layers, self.freq_norms
        ):
            rows = out.permute(0, 2, 3, 1).reshape(b * f, t, d)  # one sequence per bin
            rows = time_layer(rows).reshape(b, f, t, d).permute(0, 3, 1, 2)
            out = out + time_norm(rows)
            cols = out.permute(0, 3, 2, 1).reshape(
                b * t, f, d
            )  # one sequence per frame
            cols = freq_layer(cols).reshape(b, t, f, d).permute(0, 3, 2, 1)
            out = out + freq_norm(cols)
        return self.output(out)
