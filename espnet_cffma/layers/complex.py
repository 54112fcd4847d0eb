"""Complex-valued 2-D convolutions, batch norm and activation.

Convention: a complex feature map is a ``torch.complex64`` tensor
``[B, C, H, W]`` (one complex channel per channel index; for spectrograms
``H`` is frequency and ``W`` time). Each complex layer holds two real layers
``W_r`` and ``W_i`` and combines them as a complex product::

    (W_r + i W_i) * (x_r + i x_i) = (W_r x_r - W_i x_i) + i (W_i x_r + W_r x_i)

so a layer with ``C_in -> C_out`` channels has twice the parameters of the real
layer of that size. Skip connections concatenate complex tensors with
``torch.cat`` on the channel axis.
"""

import torch


def _complex_product(
    real_layer: torch.nn.Module, imag_layer: torch.nn.Module, x: torch.Tensor
) -> torch.Tensor:
    """Applies the complex layer ``real_layer + i imag_layer`` to complex ``x``."""
    if not torch.is_complex(x):
        raise TypeError(f"complex layer expects a complex tensor, got {x.dtype}")
    real = real_layer(x.real) - imag_layer(x.imag)
    imag = imag_layer(x.real) + real_layer(x.imag)
    return torch.complex(real, imag)


class ComplexConv2d(torch.nn.Module):
    """Complex 2-D convolution ``[B, C_in, H, W] -> [B, C_out, H', W']``.

    Takes the keyword arguments of :class:`torch.nn.Conv2d`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, **conv_kwargs):
        super().__init__()
        self.real = torch.nn.Conv2d(
            in_channels, out_channels, kernel_size, **conv_kwargs
        )
        self.imag = torch.nn.Conv2d(
            in_channels, out_channels, kernel_size, **conv_kwargs
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Complex convolution of complex ``x`` ``[B, C_in, H, W]``."""
        return _complex_product(self.real, self.imag, x)


class ComplexConvTranspose2d(torch.nn.Module):
    """Complex 2-D transposed convolution ``[B, C_in, H, W] -> [B, C_out, H', W']``.

    Takes the keyword arguments of :class:`torch.nn.ConvTranspose2d`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, **conv_kwargs):
        super().__init__()
        self.real = torch.nn.ConvTranspose2d(
            in_channels, out_channels, kernel_size, **conv_kwargs
        )
        self.imag = torch.nn.ConvTranspose2d(
            in_channels, out_channels, kernel_size, **conv_kwargs
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Complex transposed convolution of complex ``x`` ``[B, C_in, H, W]``."""
        return _complex_product(self.real, self.imag, x)


class ComplexBatchNorm2d(torch.nn.Module):
    """Batch norm of the real and imaginary parts, each with its own statistics.

    This is the "naive" complex batch norm (as DCUnet implementations commonly
    use), not the 2x2 whitening of Trabelsi et al.; it costs 4 parameters per
    channel.

    Args:
        num_features: complex channels ``C``.
        **bn_kwargs: keyword arguments of :class:`torch.nn.BatchNorm2d`.
    """

    def __init__(self, num_features: int, **bn_kwargs):
        super().__init__()
        self.real = torch.nn.BatchNorm2d(num_features, **bn_kwargs)
        self.imag = torch.nn.BatchNorm2d(num_features, **bn_kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalises complex ``x`` ``[B, C, H, W]`` part by part."""
        return torch.complex(self.real(x.real), self.imag(x.imag))


class ComplexLeakyReLU(torch.nn.Module):
    """Leaky ReLU applied to the real and imaginary parts separately."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` complex -> same shape."""
        act = torch.nn.functional.leaky_relu
        return torch.complex(
            act(x.real, self.negative_slope), act(x.imag, self.negative_slope)
        )
