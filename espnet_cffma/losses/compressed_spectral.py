"""MSE on power-law compressed spectra (CNUNet-TB-TS's loss)."""

import torch
from espnet2.enh.loss.criterions.time_domain import TimeDomainLoss

from espnet_cffma.layers.causal_stft import CausalSTFT


class CompressedSpectralMSE(TimeDomainLoss):
    """``a [MSE(Re) + MSE(Im)] + (1 - a) MSE(|.|)`` on ``|X|**p e^{j angle X}``.

    Registered as ESPnet criterion ``compressed_spectral_mse``. It takes
    waveforms and computes its own (causal) STFT of reference and estimate, as
    the separator outputs waveforms (``decoder: same``). Authors: ``p = 0.2``,
    ``a = 0.1``, STFT 512/256 Hamming, all 257 bins.

    Args:
        n_fft: FFT size.
        win_length: window length.
        hop_length: frame shift.
        window: ``hamming``, ``hann`` or ``blackman``.
        compress_exponent: ``p``.
        complex_weight: ``a`` (weight of the real/imaginary terms).
        eps: added under the square root of the magnitude (finite gradients).
        name: key under which ESPnet reports the loss.
        only_for_test: only evaluate in validation.
        is_noise_loss: ESPnet convention.
        is_dereverb_loss: ESPnet convention.
    """

    def __init__(
        self,
        n_fft: int = 512,
        win_length: int = 512,
        hop_length: int = 256,
        window: str = "hamming",
        compress_exponent: float = 0.2,
        complex_weight: float = 0.1,
        eps: float = 1e-8,
        name: str | None = None,
        only_for_test: bool = False,
        is_noise_loss: bool = False,
        is_dereverb_loss: bool = False,
    ):
        super().__init__(
            name or "compressed_spectral_mse",
            only_for_test=only_for_test,
            is_noise_loss=is_noise_loss,
            is_dereverb_loss=is_dereverb_loss,
        )
        if not 0 <= complex_weight <= 1:
            raise ValueError(
                f"compressed_spectral_mse: complex_weight must be in [0, 1], "
                f"got {complex_weight}"
            )
        self.stft = CausalSTFT(n_fft, win_length, hop_length, window)
        self.compress_exponent = compress_exponent
        self.complex_weight = complex_weight
        self.eps = eps

    def compressed(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Compressed spectrum ``[B, T, F]`` (complex) and its magnitude."""
        spec = self.stft(wav)
        mag = torch.sqrt(spec.real.pow(2) + spec.imag.pow(2) + self.eps)
        comp_mag = mag.pow(self.compress_exponent)
        return spec * (comp_mag / mag), comp_mag

    def forward(self, ref: torch.Tensor, inf: torch.Tensor) -> torch.Tensor:
        """Loss per utterance ``[B]`` between waveforms ``[B, N]``."""
        if ref.shape != inf.shape:
            raise ValueError(
                f"compressed_spectral_mse: reference {tuple(ref.shape)} and "
                f"estimate {tuple(inf.shape)} differ in shape"
            )
        ref_spec, ref_mag = self.compressed(ref)
        inf_spec, inf_mag = self.compressed(inf)
        diff = ref_spec - inf_spec
        complex_term = (diff.real.pow(2) + diff.imag.pow(2)).mean(dim=(1, 2))
        mag_term = (ref_mag - inf_mag).pow(2).mean(dim=(1, 2))
        return self.complex_weight * complex_term + (1 - self.complex_weight) * mag_term
