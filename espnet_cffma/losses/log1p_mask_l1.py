"""The paper's loss: L1 between the predicted and clean log1p magnitudes."""

import torch
from espnet2.enh.loss.criterions.time_domain import TimeDomainLoss

from espnet_cffma.layers.padding import valid_frames
from espnet_cffma.systems.bss_cffma.separator import (
    ANALYSIS_KEY,
    LENGTHS_KEY,
    PREDICTION_KEY,
)


class Log1pMaskL1Loss(TimeDomainLoss):
    """``mean |mask * log1p|Y| - log1p|S||`` over valid frames and bins.

    Registered as ESPnet criterion ``log1p_mask_l1`` (BSSE-SE's and so
    BSS-CFFMA's training loss). It compares the separator's prediction, the
    masked log1p magnitude before any iSTFT, with the clean reference analysed
    by the separator's own STFT (one STFT definition, no second copy of its
    settings). Both come from the separator's ``others``, which only the
    ``fixed_order_others`` wrapper passes to a criterion. Frames past an
    utterance's end are left out of its mean.

    ESPnet treats it as a time-domain criterion, so it receives the reference
    waveform; the estimated waveform is not used.

    Args:
        name: key under which ESPnet reports the loss.
        only_for_test: only evaluate in validation.
        is_noise_loss: must be False (the prediction is of speech).
        is_dereverb_loss: must be False.
    """

    def __init__(
        self,
        name: str | None = None,
        only_for_test: bool = False,
        is_noise_loss: bool = False,
        is_dereverb_loss: bool = False,
    ):
        if is_noise_loss or is_dereverb_loss:
            raise ValueError(
                "log1p_mask_l1 compares the separator's speech prediction: "
                "is_noise_loss and is_dereverb_loss are not supported"
            )
        super().__init__(name or "log1p_mask_l1", only_for_test=only_for_test)

    def forward(
        self,
        ref: torch.Tensor,
        inf: torch.Tensor,
        others: dict | None = None,
        speaker: int = 1,
    ) -> torch.Tensor:
        """Computes the loss.

        Args:
            ref: clean reference waveforms ``[B, N]``.
            inf: estimated waveforms ``[B, N]`` (unused).
            others: the separator's ``others`` with the prediction
                (``log1p_magnitude_spk<speaker>`` ``[B, T, F]``), the input
                lengths ``[B]`` and the separator's analysis function.
            speaker: which prediction to compare (1-based).

        Returns:
            Loss per utterance ``[B]``.
        """
        key = PREDICTION_KEY.format(speaker)
        if not others or key not in others:
            raise ValueError(
                "log1p_mask_l1 needs the separator's prediction "
                f"('{key}' in its others): use 'wrapper: fixed_order_others' "
                "with 'separator: bss_cffma'"
            )
        predicted = others[key]
        lengths = others[LENGTHS_KEY]
        target, _, frames = others[ANALYSIS_KEY](ref, lengths)
        if target.shape != predicted.shape:
            raise ValueError(
                f"log1p_mask_l1: prediction {tuple(predicted.shape)} and the "
                f"reference's spectrum {tuple(target.shape)} differ in shape"
            )
        mask = valid_frames(frames, target.size(1)).unsqueeze(-1).to(target.dtype)
        distance = ((predicted - target).abs() * mask).sum(dim=(1, 2))
        return distance / (frames.to(target.dtype) * target.size(-1))
