"""Causal layers over time with an explicit streaming cache.

Feature maps are ``[B, C, F, T]`` (channels, frequency, time). Every layer here
looks only at the current and past frames: the time axis is padded on the left
only. Each layer's ``forward(x, state=None)`` works in two ways:

* ``state=None`` (offline): the past before frame 0 is zeros;
* ``state`` a dict (streaming): the layer reads its cache (the last frames it
  saw) from ``state[self.state_key]`` (zeros when absent, i.e. the same as the
  offline start), processes any number ``T >= 1`` of new frames and writes the
  updated cache back. The dict is the whole streaming state of a network:
  callers copy it (``dict(state)``) when they want the old one kept, since
  layers only ever *replace* entries.

So a chunk of frames processed with the cache gives the same numbers as the
same frames inside one offline pass. ``assign_state_keys`` names every layer
of a network after its module path, so that keys are unique.

Complex layers (:class:`ComplexPair`) hold the real and imaginary parts in the
two halves of the channel axis and combine two real layers as a complex
product; they run both parts as one batch so that each layer runs once per call
(one cache per layer).
"""

import torch
import torch.nn.functional as F


def assign_state_keys(root: torch.nn.Module) -> None:
    """Gives every module under ``root`` its module path as ``state_key``."""
    for name, module in root.named_modules():
        module.state_key = name or "root"


def _with_cache(
    x: torch.Tensor, state: dict | None, key: str, size: int
) -> torch.Tensor:
    """Prepends ``size`` past frames (cache or zeros) to ``x`` ``[..., T]``.

    In streaming mode, the last ``size`` frames of the result become the cache.
    """
    if size == 0:
        return x
    if state is None:
        return F.pad(x, (size, 0))
    past = state.get(key)
    if past is None:
        past = x.new_zeros(*x.shape[:-1], size)
    full = torch.cat([past, x], dim=-1)
    state[key] = full[..., -size:]
    return full


class CausalConv2d(torch.nn.Module):
    """2-D convolution on ``[B, C, F, T]``, causal in time, "same" in frequency.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: ``(frequency, time)`` kernel.
        stride: frequency stride (the time stride is always 1, for streaming).
        dilation: ``(frequency, time)`` dilation.
        groups: convolution groups (``in_channels`` for depthwise).
        bias: add a bias.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: tuple[int, int] = (1, 1),
        stride: int = 1,
        dilation: tuple[int, int] = (1, 1),
        groups: int = 1,
        bias: bool = True,
    ):
        super().__init__()
        kf, kt = kernel_size
        df, dt = dilation
        self.time_context = dt * (kt - 1)
        self.conv = torch.nn.Conv2d(
            in_channels,
            out_channels,
            (kf, kt),
            stride=(stride, 1),
            padding=(df * (kf - 1) // 2, 0),
            dilation=(df, dt),
            groups=groups,
            bias=bias,
        )
        self.state_key = "conv"

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, C_in, F, T]`` -> ``[B, C_out, F', T]``."""
        return self.conv(_with_cache(x, state, self.state_key, self.time_context))


class CausalMovingAverage(torch.nn.Module):
    """Mean of the last ``window`` frames (zeros before the start) on ``[..., T]``.

    Args:
        window: number of frames averaged, the current one included.
    """

    def __init__(self, window: int):
        super().__init__()
        if window < 1:
            raise ValueError(f"Moving-average window must be >= 1, got {window}")
        self.window = window
        self.state_key = "average"

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, C, F, T]`` -> same shape."""
        full = _with_cache(x, state, self.state_key, self.window - 1)
        b, c, f, t = full.shape
        pooled = F.avg_pool1d(full.reshape(b, c * f, t), self.window, stride=1)
        return pooled.reshape(b, c, f, -1)


class ComplexPair(torch.nn.Module):
    """Two real layers combined as a complex product on ``[B, 2C, F, T]``.

    ``out = (f_r(x_r) - f_i(x_i)) + j (f_r(x_i) + f_i(x_r))``, with the real
    part in the first half of the channels. For linear layers this is a complex
    convolution with weight ``W_r + j W_i``.

    Args:
        real: the layer applied as the real part of the weight.
        imag: the layer applied as the imaginary part.
    """

    def __init__(self, real: torch.nn.Module, imag: torch.nn.Module):
        super().__init__()
        self.real = real
        self.imag = imag
        # Run two convolutions as one call (set False to run each module,
        # e.g. for per-module hooks).
        self.merge_convs = True

    def forward(self, x: torch.Tensor, state: dict | None = None) -> torch.Tensor:
        """``[B, 2 C_in, F, T]`` -> ``[B, 2 C_out, F', T]``."""
        b = x.size(0)
        x_r, x_i = x.chunk(2, dim=1)
        parts = torch.cat([x_r, x_i], dim=0)  # both parts as one batch
        if self._mergeable:
            a, c = self._merged_conv(parts, state)
        else:
            a = self.real(parts, state)
            c = self.imag(parts, state)
        return torch.cat([a[:b] - c[b:], a[b:] + c[:b]], dim=1)

    @property
    def _mergeable(self) -> bool:
        return (
            self.merge_convs
            and isinstance(self.real, CausalConv2d)
            and isinstance(self.imag, CausalConv2d)
            and self.real.conv.groups == 1
        )

    def _merged_conv(
        self, parts: torch.Tensor, state: dict | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Both convolutions as one call (same input, weights stacked).

        Halves the calls per frame in streaming, where call overhead dominates;
        the two share one cache (they see the same input).
        """
        conv_r, conv_i = self.real.conv, self.imag.conv
        full = _with_cache(parts, state, self.real.state_key, self.real.time_context)
        weight = torch.cat([conv_r.weight, conv_i.weight], dim=0)
        bias = None
        if conv_r.bias is not None:
            bias = torch.cat([conv_r.bias, conv_i.bias], dim=0)
        out = torch.nn.functional.conv2d(
            full, weight, bias, conv_r.stride, conv_r.padding, conv_r.dilation
        )
        return out.chunk(2, dim=1)


def causal_conv(
    in_channels: int,
    out_channels: int,
    complex_valued: bool,
    kernel_size: tuple[int, int] = (1, 1),
    stride: int = 1,
    dilation: tuple[int, int] = (1, 1),
    depthwise: bool = False,
) -> torch.nn.Module:
    """A causal convolution on ``[B, 2C, F, T]`` (channels per part given).

    Args:
        in_channels: input channels per part (real or imaginary).
        out_channels: output channels per part.
        complex_valued: a :class:`ComplexPair` of two convolutions (``True``)
            or one real convolution over both parts' channels (``False``,
            twice the weights: the paper's real-valued ablation).
        kernel_size: ``(frequency, time)`` kernel.
        stride: frequency stride.
        dilation: ``(frequency, time)`` dilation.
        depthwise: one filter per channel (``groups = channels``).
    """

    def conv(cin, cout):
        return CausalConv2d(
            cin,
            cout,
            kernel_size,
            stride,
            dilation,
            groups=cin if depthwise else 1,
        )

    if complex_valued:
        return ComplexPair(
            conv(in_channels, out_channels), conv(in_channels, out_channels)
        )
    return conv(2 * in_channels, 2 * out_channels)
