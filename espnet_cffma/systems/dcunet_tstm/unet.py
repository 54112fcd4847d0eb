"""DCUnet10: the complex U-Net of MIA-SE (encoder/decoder blocks and network).

Works on complex spectrograms ``[B, 1, F, T]`` (see
:mod:`espnet_cffma.layers.complex` for the complex tensor convention). Five
encoder blocks (complex conv, complex batch norm, leaky ReLU) with kernel 3x3
and strides (2, 2) four times then (2, 1) (frequency, time); an optional TSTM
at the bottleneck; five transposed-conv decoder blocks, each but the first fed
with the concatenation of the previous decoder output and the matching encoder
output. Convolutions pad by 1 and transposed ones are cropped to the size of
their skip, so any F and T are accepted (the authors' unpadded layers only fit
their fixed training length).
"""

from collections.abc import Sequence

import torch

from espnet_cffma.layers.complex import (
    ComplexBatchNorm2d,
    ComplexConv2d,
    ComplexConvTranspose2d,
    ComplexLeakyReLU,
)
from espnet_cffma.systems.dcunet_tstm.tstm import TSTM

TSTM_MODES = ("none", "real", "complex")


class EncoderBlock(torch.nn.Module):
    """Complex conv (kernel k, padding k // 2) + complex batch norm + leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride):
        super().__init__()
        self.conv = ComplexConv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
        )
        self.norm = ComplexBatchNorm2d(out_channels)
        self.act = ComplexLeakyReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Complex ``[B, C_in, F, T]`` -> ``[B, C_out, ceil(F/s_f), ceil(T/s_t)]``."""
        return self.act(self.norm(self.conv(x)))


class DecoderBlock(torch.nn.Module):
    """Complex transposed conv, cropped to a target size; norm + act unless last."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride, last: bool
    ):
        super().__init__()
        stride = tuple(stride)
        self.conv = ComplexConvTranspose2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            output_padding=tuple(s - 1 for s in stride),
        )
        self.norm = None if last else ComplexBatchNorm2d(out_channels)
        self.act = None if last else ComplexLeakyReLU()

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """Complex ``[B, C_in, F, T]`` -> ``[B, C_out, *size]``."""
        out = self.conv(x)[..., : size[0], : size[1]]
        if self.norm is not None:
            out = self.act(self.norm(out))
        return out


class ComplexTSTM(torch.nn.Module):
    """TSTM on a complex bottleneck.

    ``real`` shares one module between the real and imaginary parts;
    ``complex`` combines two modules as a complex product,
    ``(A + iB)(x_r + i x_i) = (A x_r - B x_i) + i (B x_r + A x_i)``.
    """

    def __init__(self, mode: str, channels: int, **tstm_kwargs):
        super().__init__()
        self.mode = mode
        self.real_part = TSTM(channels, **tstm_kwargs)
        self.imag_part = TSTM(channels, **tstm_kwargs) if mode == "complex" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Complex ``[B, C, F, T]`` -> complex ``[B, C, F, T]``."""
        if self.imag_part is None:
            return torch.complex(self.real_part(x.real), self.real_part(x.imag))
        return torch.complex(
            self.real_part(x.real) - self.imag_part(x.imag),
            self.imag_part(x.real) + self.real_part(x.imag),
        )


class DCUnet10(torch.nn.Module):
    """Complex U-Net producing an unbounded complex mask estimate.

    Args:
        channels: encoder channels of the five levels (authors: 45-90-90-90-90
            without TSTM, 32-64-64-64-64 with).
        strides: (frequency, time) stride of each encoder level.
        kernel_size: square kernel size (authors: 3).
        tstm: ``none``, ``real`` or ``complex``.
        tstm_conf: keyword arguments of :class:`TSTM` (``num_layers``,
            ``num_heads``, ``gru_hidden``, ``dropout``).
    """

    def __init__(
        self,
        channels: Sequence[int] = (32, 64, 64, 64, 64),
        strides: Sequence[Sequence[int]] = ((2, 2), (2, 2), (2, 2), (2, 2), (2, 1)),
        kernel_size: int = 3,
        tstm: str = "real",
        tstm_conf: dict | None = None,
    ):
        super().__init__()
        if tstm not in TSTM_MODES:
            raise ValueError(
                f"dcunet_tstm: tstm must be one of {TSTM_MODES}, got '{tstm}'"
            )
        if len(channels) != len(strides):
            raise ValueError(
                f"dcunet_tstm: {len(channels)} encoder channels but "
                f"{len(strides)} strides"
            )
        levels = len(channels)
        ins = [1, *channels[:-1]]
        self.encoders = torch.nn.ModuleList(
            EncoderBlock(ins[i], channels[i], kernel_size, strides[i])
            for i in range(levels)
        )
        self.tstm = (
            None
            if tstm == "none"
            else ComplexTSTM(tstm, channels[-1], **(tstm_conf or {}))
        )
        # Decoder i mirrors encoder levels-1-i; all but the first take the skip too.
        self.decoders = torch.nn.ModuleList()
        for i in range(levels):
            level = levels - 1 - i
            in_ch = channels[level] * (1 if i == 0 else 2)
            out_ch = 1 if level == 0 else channels[level - 1]
            self.decoders.append(
                DecoderBlock(
                    in_ch, out_ch, kernel_size, strides[level], last=level == 0
                )
            )

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex ``[B, 1, F, T]`` -> complex ``[B, 1, F, T]`` (pre-tanh mask)."""
        skips = [spec]
        out = spec
        for encoder in self.encoders:
            out = encoder(out)
            skips.append(out)
        if self.tstm is not None:
            out = self.tstm(out)
        for i, decoder in enumerate(self.decoders):
            if i > 0:
                out = torch.cat([out, skips[-1 - i]], dim=1)
            target = skips[-2 - i]
            out = decoder(out, (target.size(-2), target.size(-1)))
        return out
