"""The MIA-SE denoiser as an ESPnet separator (ESPnet name ``dcunet_tstm``).

Signal path: noisy waveform -> STFT -> DCUnet10 (complex U-Net, optional
TSTM bottleneck) -> tanh-bounded complex ratio mask -> masked spectrum ->
iSTFT to the input length. It owns its STFT, so configure ESPnet with
``encoder: same`` and ``decoder: same``::

    encoder: same
    decoder: same
    separator: dcunet_tstm
    separator_conf:
        tstm: real                  # none | real | complex
        n_fft: 1024                 # 16 kHz; the authors' 48 kHz: 3072 / 768
        hop_length: 256
        mask_product: complex       # complex | componentwise (authors' code)

Batch norm and the U-Net's convolutions see the whole padded batch, so unlike
``bss_cffma`` an utterance's output depends slightly on its batch in training
mode (eval mode uses running statistics; padding frames still reach the last
frames of shorter utterances through the convolutions).
"""

from collections import OrderedDict
from collections.abc import Sequence

import torch
from espnet2.enh.separator.abs_separator import AbsSeparator

from espnet_cffma.layers.stft import STFT
from espnet_cffma.systems.dcunet_tstm.unet import TSTM_MODES, DCUnet10

MASK_PRODUCTS = ("complex", "componentwise")
# Authors' channel widths: wider without TSTM, to spend a similar budget.
DEFAULT_CHANNELS = {"none": (45, 90, 90, 90, 90), "with_tstm": (32, 64, 64, 64, 64)}
# The GRU width is not in the paper and the released TSTM (bidirectional GRU
# of 2 x 32 per direction) gives 1.26 M for rTSTM, not the paper's 1.03 M; 42
# per direction reproduces the paper's counts (1.02 M rTSTM, 1.34 M cTSTM).
DEFAULT_TSTM_CONF = {"num_layers": 6, "num_heads": 4, "gru_hidden": 42, "dropout": 0.0}


def apply_mask(
    mask: torch.Tensor, spec: torch.Tensor, mask_product: str
) -> torch.Tensor:
    """Applies a complex mask to a complex spectrum.

    Args:
        mask: complex mask ``[..., F, T]``.
        spec: complex spectrum of the same shape.
        mask_product: ``complex`` (``M * Y`` as complex numbers, a complex
            ratio mask) or ``componentwise`` (``Re M Re Y + i Im M Im Y``, as
            the authors' code does).

    Returns:
        The masked complex spectrum.
    """
    if mask_product == "complex":
        return mask * spec
    if mask_product == "componentwise":
        return torch.complex(mask.real * spec.real, mask.imag * spec.imag)
    raise ValueError(
        f"mask_product must be one of {MASK_PRODUCTS}, got '{mask_product}'"
    )


class DCUnetTSTMSeparator(AbsSeparator):
    """DCUnet10 with an optional TSTM bottleneck (MIA-SE's denoiser).

    Args:
        input_dim: ESPnet's encoder output size (unused with ``encoder: same``).
        num_spk: number of outputs; only 1 (enhancement) is supported.
        tstm: ``none`` (plain DCUnet10), ``real`` (one TSTM applied to the real
            and imaginary parts) or ``complex`` (two TSTMs as a complex product).
        channels: encoder channels per level (default: 45-90-90-90-90 for
            ``none``, 32-64-64-64-64 otherwise, as the authors).
        strides: (frequency, time) stride per level (default (2, 2) x 4, (2, 1)).
        kernel_size: convolution kernel size (authors: 3).
        tstm_conf: :class:`~espnet_cffma.systems.dcunet_tstm.tstm.TSTM` options
            (``num_layers`` 6, ``num_heads`` 4, ``gru_hidden`` 42, ``dropout``).
        n_fft: STFT size (16 kHz: 1024; the authors' 48 kHz: 3072).
        win_length: window length (default ``n_fft``).
        hop_length: STFT hop (16 kHz: 256; 48 kHz: 768).
        window: ``hann`` (default), ``hamming`` or ``blackman``.
        mask_product: ``complex`` (default) or ``componentwise``.
    """

    def __init__(
        self,
        input_dim: int = 1,
        num_spk: int = 1,
        tstm: str = "real",
        channels: Sequence[int] | None = None,
        strides: Sequence[Sequence[int]] = ((2, 2), (2, 2), (2, 2), (2, 2), (2, 1)),
        kernel_size: int = 3,
        tstm_conf: dict | None = None,
        n_fft: int = 1024,
        win_length: int | None = None,
        hop_length: int = 256,
        window: str = "hann",
        mask_product: str = "complex",
    ):
        super().__init__()
        if num_spk != 1:
            raise ValueError(
                f"dcunet_tstm enhances one speaker: num_spk must be 1, got {num_spk}"
            )
        if tstm not in TSTM_MODES:
            raise ValueError(
                f"dcunet_tstm: tstm must be one of {TSTM_MODES}, got '{tstm}'"
            )
        if mask_product not in MASK_PRODUCTS:
            raise ValueError(
                f"dcunet_tstm: mask_product must be one of {MASK_PRODUCTS}, "
                f"got '{mask_product}'"
            )
        unknown = set(tstm_conf or {}) - set(DEFAULT_TSTM_CONF)
        if unknown:
            raise ValueError(
                f"dcunet_tstm: unknown tstm_conf key(s) {sorted(unknown)}; "
                f"valid: {sorted(DEFAULT_TSTM_CONF)}"
            )
        if channels is None:
            channels = DEFAULT_CHANNELS["none" if tstm == "none" else "with_tstm"]
        self._num_spk = num_spk
        self.mask_product = mask_product
        self.stft = STFT(n_fft, win_length or n_fft, hop_length, window)
        self.unet = DCUnet10(
            channels=channels,
            strides=strides,
            kernel_size=kernel_size,
            tstm=tstm,
            tstm_conf={**DEFAULT_TSTM_CONF, **(tstm_conf or {})},
        )

    @property
    def num_spk(self) -> int:
        """Number of outputs (1)."""
        return self._num_spk

    def forward(
        self,
        input: torch.Tensor,
        ilens: torch.Tensor,
        additional: dict | None = None,
    ) -> tuple[list[torch.Tensor], torch.Tensor, OrderedDict]:
        """Enhances a batch of waveforms.

        Args:
            input: noisy waveforms ``[B, N]`` (``encoder: same``).
            ilens: valid samples per utterance ``[B]``.
            additional: unused.

        Returns:
            ``[enhanced [B, N]]``, ``ilens`` and ``others`` with the complex
            mask under ``mask_spk1`` ``[B, T, F]``.
        """
        if input.dim() != 2:
            raise ValueError(
                f"dcunet_tstm expects single-channel waveforms [B, N] (encoder: same), "
                f"got shape {tuple(input.shape)}"
            )
        short = int(ilens.min())
        if short < self.stft.min_samples:
            raise ValueError(
                f"dcunet_tstm: an utterance of {short} samples is shorter than "
                f"n_fft // 2 + 1 = {self.stft.min_samples}"
            )
        spec, _ = self.stft(input, ilens)  # [B, T, F]
        estimate = self.unet(spec.transpose(1, 2).unsqueeze(1)).squeeze(1)
        mask = torch.complex(torch.tanh(estimate.real), torch.tanh(estimate.imag))
        mask = mask.transpose(1, 2)  # [B, T, F]
        enhanced = self.stft.inverse(apply_mask(mask, spec, self.mask_product), ilens)
        return [enhanced], ilens, OrderedDict(mask_spk1=mask)

    def forward_streaming(self, input_frame: torch.Tensor, buffer=None):
        """Not supported: the network is not causal."""
        raise NotImplementedError(
            "dcunet_tstm is not causal (TSTM attends over the whole utterance)"
        )
