"""Compressed-spectrum MSE plus -SI-SNR/10 (the TF-GridNet-PL authors' loss)."""

import torch
from espnet2.enh.loss.criterions.time_domain import TimeDomainLoss

from espnet_cffma.layers.stft import STFT


class CompressedSpectrumSISNRLoss(TimeDomainLoss):
    """``w_mag MSE(|S|^c) + w_ri [MSE(Re) + MSE(Im)] - w_sisnr SI-SNR``.

    Real and imaginary parts are those of the compressed spectrum
    ``|S|^c e^{j angle S}``. Registered as ESPnet criterion
    ``compressed_spec_si_snr``. It takes waveforms and computes its own STFT
    (the separator uses ``encoder: same``, so ESPnet's frequency-domain losses
    would compare waveforms).

    Args:
        n_fft: FFT size.
        win_length: window length.
        hop_length: frame shift.
        window: ``hann``, ``hamming`` or ``blackman``.
        compress: magnitude exponent c.
        mag_weight: weight of the magnitude MSE.
        ri_weight: weight of the real + imaginary MSE.
        si_snr_weight: weight of -SI-SNR in dB (1/10 as the authors).
        eps: numerical floor.
        name, only_for_test, is_noise_loss, is_dereverb_loss: ESPnet options.
    """

    def __init__(
        self,
        n_fft: int = 512,
        win_length: int = 512,
        hop_length: int = 256,
        window: str = "hann",
        compress: float = 0.3,
        mag_weight: float = 1.0,
        ri_weight: float = 1.0,
        si_snr_weight: float = 0.1,
        eps: float = 1.0e-8,
        name: str | None = None,
        only_for_test: bool = False,
        is_noise_loss: bool = False,
        is_dereverb_loss: bool = False,
    ):
        super().__init__(
            name or "compressed_spec_si_snr",
            only_for_test=only_for_test,
            is_noise_loss=is_noise_loss,
            is_dereverb_loss=is_dereverb_loss,
        )
        self.stft = STFT(n_fft, win_length, hop_length, window)
        self.compress = compress
        self.mag_weight = mag_weight
        self.ri_weight = ri_weight
        self.si_snr_weight = si_snr_weight
        self.eps = eps

    def _compressed(self, wav: torch.Tensor) -> torch.Tensor:
        lengths = torch.full((wav.size(0),), wav.size(1), device=wav.device)
        spec = self.stft(wav, lengths)[0]
        mag = spec.abs().clamp_min(self.eps)
        return spec * (mag.pow(self.compress) / mag)

    def forward(self, ref: torch.Tensor, inf: torch.Tensor) -> torch.Tensor:
        """Computes the loss.

        Args:
            ref: reference waveforms ``[B, N]``.
            inf: estimated waveforms ``[B, N]``.

        Returns:
            Loss per utterance ``[B]``.
        """
        if ref.shape != inf.shape:
            raise ValueError(
                f"compressed_spec_si_snr: reference {tuple(ref.shape)} and "
                f"estimate {tuple(inf.shape)} differ in shape"
            )
        ref_c, inf_c = self._compressed(ref), self._compressed(inf)
        dims = tuple(range(1, ref_c.dim()))
        mag = (ref_c.abs() - inf_c.abs()).pow(2).mean(dim=dims)
        ri = (ref_c.real - inf_c.real).pow(2).mean(dim=dims) + (
            ref_c.imag - inf_c.imag
        ).pow(2).mean(dim=dims)
        return (
            self.mag_weight * mag
            + self.ri_weight * ri
            - self.si_snr_weight * si_snr(ref, inf, self.eps)
        )


def si_snr(ref: torch.Tensor, est: torch.Tensor, eps: float = 1.0e-8) -> torch.Tensor:
    """Scale-invariant SNR in dB per utterance (zero-mean signals), ``[B]``."""
    ref = ref - ref.mean(dim=-1, keepdim=True)
    est = est - est.mean(dim=-1, keepdim=True)
    scale = (est * ref).sum(-1, keepdim=True) / (ref.pow(2).sum(-1, keepdim=True) + eps)
    target = scale * ref
    residual = est - target
    return 10 * torch.log10(
        (target.pow(2).sum(-1) + eps) / (residual.pow(2).sum(-1) + eps)
    )
