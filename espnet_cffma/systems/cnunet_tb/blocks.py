"""Building blocks of CNUNet-TB, all causal in time and streamable.

Maps are ``[B, 2C, F, T]``: real part in the first ``C`` channels, imaginary
part in the last ``C`` (the real-valued ablation keeps the same layout and uses
plain convolutions over all ``2C`` channels). Channel counts in the arguments
are per part. Every ``forward(x, state=None)`` follows the streaming rules of
:mod:`espnet_cffma.layers.causal`.

Changes from the authors' (non-causal) code, as the paper describes a causal
model: utterance-wide GroupNorm -> frame-wise or cumulative group norm
(:func:`~espnet_cffma.layers.norms.causal_norm`); CTFA's symmetric time
convolutions -> left-padded ones; PReLU per channel.
"""

from collections.abc import Sequence

import torch

from espnet_cffma.layers.causal import (
    CausalConv2d,
    CausalMovingAverage,
    ComplexPair,
    causal_conv,
)
from espnet_cffma.layers.norms import causal_norm


def cat_parts(*maps: torch.Tensor) -> torch.Tensor:
    """Concatenates ``[B, 2C_i, F, T]`` maps channel-wise, part by part."""
    halves = [m.chunk(2, dim=1) for m in maps]
    return torch.cat([h[0] for h in halves] + [h[1] for h in halves], dim=1)


class ConvNormAct(torch.nn.Module):
    """Causal (complex) convolution -> causal norm -> PReLU.

    Args:
        in_channels: input channels per part.
        out_channels: output channels per part.
        complex_valued: complex product of two convolutions, or one real one.
        norm: ``frame`` or ``cumulative``.
        kernel_size: ``(frequency, time)``.
        stride: frequency stride.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        complex_valued: bool,
        norm: str,
        kernel_size: tuple[int, int] = (1, 1),
        stride: int = 1,
    ):
        super().__init__()
        self.conv = causal_conv(
            in_channels, out_channels, complex_valued, kernel_size, stride
        )
        self.norm = causal_norm(norm, 2 * out_channels, 2 if complex_valued else 1)
        self.act = torch.nn.PReLU(2 * out_channels)

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, 2C_in, F, T]`` -> ``[B, 2C_out, F / stride, T]``."""
        return self.act(self.norm(self.conv(x, state), state))


class SubPixelUp(torch.nn.Module):
    """Frequency up-sampling by sub-pixel convolution (x2), norm, PReLU.

    A causal (3, 2) convolution makes twice the channels, which are then
    interleaved along frequency. Args as :class:`ConvNormAct`.
    """

    def __init__(
        self, in_channels: int, out_channels: int, complex_valued: bool, norm: str
    ):
        super().__init__()
        self.out_channels = out_channels
        self.conv = causal_conv(in_channels, 2 * out_channels, complex_valued, (3, 2))
        self.norm = causal_norm(norm, 2 * out_channels, 2 if complex_valued else 1)
        self.act = torch.nn.PReLU(2 * out_channels)

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, 2C_in, F, T]`` -> ``[B, 2C_out, 2F, T]``."""
        y = self.conv(x, state)
        b, _, f, t = y.shape
        # per part: (c, n) channels -> c channels, (f, n) frequencies
        y = y.reshape(b, 2, self.out_channels, 2, f, t).permute(0, 1, 2, 4, 3, 5)
        y = y.reshape(b, 2 * self.out_channels, 2 * f, t)
        return self.act(self.norm(y, state))


class DepthwiseSeparable(torch.nn.Module):
    """Causal depthwise convolution followed by a pointwise one (real-valued)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int],
        dilation: tuple[int, int],
    ):
        super().__init__()
        self.depthwise = CausalConv2d(
            in_channels, in_channels, kernel_size, 1, dilation, groups=in_channels
        )
        self.pointwise = CausalConv2d(in_channels, out_channels)

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, C_in, F, T]`` -> ``[B, C_out, F, T]``."""
        return self.pointwise(self.depthwise(x, state), state)


class DilatedDenseBlock(torch.nn.Module):
    """Complex dilated dense block (the inner and outer bottlenecks).

    Input conv to ``channels // 2`` per part; ``num_layers`` depthwise-separable
    (3, 2) convolutions with dilation ``2**i`` in frequency and time (causal),
    each fed the concatenation of all earlier outputs; an output conv from the
    last layer's output to ``out_channels``.

    Args:
        channels: input channels per part.
        out_channels: output channels per part.
        num_layers: dense layers (authors: 6).
        complex_valued: complex products or real convolutions.
        norm: ``frame`` or ``cumulative``.
    """

    def __init__(
        self,
        channels: int,
        out_channels: int,
        num_layers: int,
        complex_valued: bool,
        norm: str,
    ):
        super().__init__()
        growth = max(channels // 2, 1)
        parts = 2 if complex_valued else 1
        self.input = causal_conv(channels, growth, complex_valued, (3, 2))
        self.input_act = torch.nn.PReLU(2 * growth)
        self.layers = torch.nn.ModuleList()
        self.norms = torch.nn.ModuleList()
        self.acts = torch.nn.ModuleList()
        for i in range(num_layers):
            cin, d = growth * (i + 1), 2**i
            if complex_valued:
                conv = ComplexPair(
                    DepthwiseSeparable(cin, growth, (3, 2), (d, d)),
                    DepthwiseSeparable(cin, growth, (3, 2), (d, d)),
                )
            else:
                conv = DepthwiseSeparable(2 * cin, 2 * growth, (3, 2), (d, d))
            self.layers.append(conv)
            self.norms.append(causal_norm(norm, 2 * growth, parts))
            self.acts.append(torch.nn.PReLU(2 * growth))
        self.output = causal_conv(growth, out_channels, complex_valued, (3, 2))
        self.output_act = torch.nn.PReLU(2 * out_channels)

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, 2C, F, T]`` -> ``[B, 2C_out, F, T]``."""
        dense = self.input_act(self.input(x, state))
        out = dense
        for layer, norm, act in zip(self.layers, self.norms, self.acts):
            out = act(norm(layer(dense, state), state))
            dense = cat_parts(out, dense)
        return self.output_act(self.output(out, state))


class CTFA(torch.nn.Module):
    """Causal time-frequency attention on a real ``[B, C, F, T]`` map.

    Time attention: mean over frequency -> causal conv (C -> 1) -> ReLU ->
    causal conv -> sigmoid, one weight per frame. Frequency attention: causal
    moving average over ``window`` frames -> causal conv (C -> 1) -> ReLU ->
    causal conv -> sigmoid, one weight per bin and frame. The output is the
    input times both. The authors' time convolutions are symmetric (look-ahead
    of ``kernel // 2`` frames each); here they are left-padded.

    Args:
        channels: input channels.
        kernel_size: time kernel of the four convolutions (authors: 17).
        window: moving-average frames of the frequency attention (authors: 32).
    """

    def __init__(self, channels: int, kernel_size: int = 17, window: int = 32):
        super().__init__()
        self.time_conv1 = CausalConv2d(channels, 1, (1, kernel_size))
        self.time_conv2 = CausalConv2d(1, 1, (1, kernel_size))
        self.average = CausalMovingAverage(window)
        self.freq_conv1 = CausalConv2d(channels, 1, (1, kernel_size))
        self.freq_conv2 = CausalConv2d(1, 1, (1, kernel_size))

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, C, F, T]`` -> same shape."""
        t = x.mean(dim=2, keepdim=True)
        t = torch.relu(self.time_conv1(t, state))
        t = torch.sigmoid(self.time_conv2(t, state))  # [B, 1, 1, T]
        f = self.average(x, state)
        f = torch.relu(self.freq_conv1(f, state))
        f = torch.sigmoid(self.freq_conv2(f, state))  # [B, 1, F, T]
        return x * t * f


def complex_ctfa(
    channels: int, complex_valued: bool, kernel_size: int, window: int
) -> torch.nn.Module:
    """CTFA on ``[B, 2C, F, T]``: a complex pair of two (as the authors), or one."""
    if complex_valued:
        return ComplexPair(
            CTFA(channels, kernel_size, window), CTFA(channels, kernel_size, window)
        )
    return CTFA(2 * channels, kernel_size, window)


class NestedUNet(torch.nn.Module):
    """Inner U-Net of one outer stage, with CTFA and the stage residual.

    ``depth`` causal (3, 2) encoder convs halving frequency, an inner dilated
    dense bottleneck, ``depth`` sub-pixel decoders with skip concatenation
    (level-1 skips), CTFA, plus the input (residual).

    Args:
        channels: stage channels per part (authors: 64).
        mid_channels: inner channels per part (authors: 32).
        depth: inner encoder/decoder layers.
        dense_layers: layers of the inner dense bottleneck.
        complex_valued, norm: as :class:`ConvNormAct`.
        ctfa_kernel, ctfa_window: see :class:`CTFA`.
    """

    def __init__(
        self,
        channels: int,
        mid_channels: int,
        depth: int,
        dense_layers: int,
        complex_valued: bool,
        norm: str,
        ctfa_kernel: int,
        ctfa_window: int,
    ):
        super().__init__()
        self.encoders = torch.nn.ModuleList(
            ConvNormAct(
                channels if i == 0 else mid_channels,
                mid_channels,
                complex_valued,
                norm,
                (3, 2),
                stride=2,
            )
            for i in range(depth)
        )
        self.bottleneck = DilatedDenseBlock(
            mid_channels, mid_channels, dense_layers, complex_valued, norm
        )
        self.decoders = torch.nn.ModuleList(
            SubPixelUp(
                2 * mid_channels,
                channels if i == depth - 1 else mid_channels,
                complex_valued,
                norm,
            )
            for i in range(depth)
        )
        self.attention = complex_ctfa(
            channels, complex_valued, ctfa_kernel, ctfa_window
        )

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, 2C, F, T]`` -> same shape (``F`` divisible by ``2**depth``)."""
        skips = []
        out = x
        for encoder in self.encoders:
            out = encoder(out, state)
            skips.append(out)
        out = self.bottleneck(out, state)
        for decoder, skip in zip(self.decoders, reversed(skips)):
            out = decoder(cat_parts(out, skip), state)
        return self.attention(out, state) + x


class EncoderStage(torch.nn.Module):
    """Outer encoder stage: 1x1 conv, nested U-Net, frequency down-sampling.

    Args:
        in_channels: input channels per part.
        channels, mid_channels, depth, dense_layers, complex_valued, norm,
        ctfa_kernel, ctfa_window: see :class:`NestedUNet`.
    """

    def __init__(
        self,
        in_channels: int,
        channels: int,
        mid_channels: int,
        depth: int,
        dense_layers: int,
        complex_valued: bool,
        norm: str,
        ctfa_kernel: int,
        ctfa_window: int,
    ):
        super().__init__()
        self.input = ConvNormAct(in_channels, channels, complex_valued, norm)
        self.unet = NestedUNet(
            channels,
            mid_channels,
            depth,
            dense_layers,
            complex_valued,
            norm,
            ctfa_kernel,
            ctfa_window,
        )
        self.downsample = causal_conv(channels, channels, complex_valued, stride=2)

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, 2C_in, F, T]`` -> ``[B, 2C, F / 2, T]``."""
        return self.downsample(self.unet(self.input(x, state), state), state)


class DecoderStage(torch.nn.Module):
    """Outer decoder stage: sub-pixel up-sampling, 1x1 conv, nested U-Net.

    Its input is the previous stage's output concatenated with the matching
    outer encoder output (level-2 skip), ``2 * channels`` per part.
    Args as :class:`EncoderStage` (without ``in_channels``).
    """

    def __init__(
        self,
        channels: int,
        mid_channels: int,
        depth: int,
        dense_layers: int,
        complex_valued: bool,
        norm: str,
        ctfa_kernel: int,
        ctfa_window: int,
    ):
        super().__init__()
        self.upsample = SubPixelUp(2 * channels, 2 * channels, complex_valued, norm)
        self.input = ConvNormAct(2 * channels, channels, complex_valued, norm)
        self.unet = NestedUNet(
            channels,
            mid_channels,
            depth,
            dense_layers,
            complex_valued,
            norm,
            ctfa_kernel,
            ctfa_window,
        )

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, 4C, F, T]`` -> ``[B, 2C, 2F, T]``."""
        return self.unet(self.input(self.upsample(x, state), state), state)


def check_frequency_plan(
    num_bins: int, encoder_depths: Sequence[int], decoder_depths: Sequence[int]
) -> int:
    """Checks that every stage's frequency size halves cleanly; returns ``F_b``.

    Raises:
        ValueError: naming the stage whose size does not divide.
    """
    stages = len(encoder_depths)
    if num_bins % 2**stages:
        raise ValueError(
            f"{num_bins} frequency bins (n_fft // 2) do not halve {stages} times "
            f"(encoder_depths has {stages} stages): change n_fft or the depths"
        )
    for i, depth in enumerate(encoder_depths):
        size = num_bins // 2**i
        if size % 2**depth:
            raise ValueError(
                f"encoder stage {i + 1} has {size} bins, which do not halve "
                f"{depth} times (encoder_depths[{i}] = {depth})"
            )
    for j, depth in enumerate(decoder_depths):
        size = num_bins // 2 ** (stages - 1 - j)
        if size % 2**depth:
            raise ValueError(
                f"decoder stage {j + 1} has {size} bins, which do not halve "
                f"{depth} times (decoder_depths[{j}] = {depth})"
            )
    return num_bins // 2**stages
