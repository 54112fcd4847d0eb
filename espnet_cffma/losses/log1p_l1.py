"""L1 distance between log1p-compressed STFT magnitudes (BSS-CFFMA's loss)."""

import torch
from espnet2.enh.loss.criterions.time_domain import TimeDomainLoss

from espnet_cffma.layers.stft import STFT


class Log1pMagnitudeL1Loss(TimeDomainLoss):
    """``mean |log1p|S_ref| - log1p|S_est||`` over frames and bins.

    Registered as ESPnet criterion ``log1p_l1``. It takes waveforms and computes
    its own STFT: ESPnet's frequency-domain losses would re-encode references
    with the model's encoder, which is ``same`` (identity) for ``bss_cffma``.
    Zero padding at the end of a batch contributes zero distance (both sides
    are zero there) but counts in the mean, as in a plain padded L1.

    Args:
        n_fft: FFT size.
        win_length: window length in samples.
        hop_length: frame shift in samples.
        window: ``hamming``, ``hann`` or ``blackman``.
        name: key under which ESPnet reports the loss.
        only_for_test: only evaluate in validation.
        is_noise_loss: compare noise estimates (ESPnet convention).
        is_dereverb_loss: compare dereverberated estimates (ESPnet convention).
    """

    def __init__(
        self,
        n_fft: int = 400,
        win_length: int = 400,
        hop_length: int = 160,
        window: str = "hamming",
        name: str | None = None,
        only_for_test: bool = False,
        is_noise_loss: bool = False,
        is_dereverb_loss: bool = False,
    ):
        super().__init__(
            name or "log1p_l1",
            only_for_test=only_for_test,
            is_noise_loss=is_noise_loss,
            is_dereverb_loss=is_dereverb_loss,
        )
        self.stft = STFT(n_fft, win_length, hop_length, window)

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
                f"log1p_l1: reference {tuple(ref.shape)} and estimate "
                f"{tuple(inf.shape)} differ in shape"
            )
        lengths = torch.full((ref.size(0),), ref.size(1), device=ref.device)
        ref_mag = torch.log1p(self.stft(ref, lengths)[0].abs())
        inf_mag = torch.log1p(self.stft(inf, lengths)[0].abs())
        return (ref_mag - inf_mag).abs().mean(dim=(1, 2))
