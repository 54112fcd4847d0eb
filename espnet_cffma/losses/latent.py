"""Latent distillation: MSE between a separator's latent and a teacher's.

ESPnet's criteria see only reference and estimated signals, while loss
*wrappers* also receive the separator's ``others`` dict. So the separator
returns its latent (``others["latent"]``), the teacher's
(``others["latent_target"]``) and the valid frames (``others["latent_frames"]``);
the wrapper ``latent_distill`` hands those to the criterion ``latent_mse``.
Configure (stage 2 of CNUNet-TB-TS, weight 0.05)::

    criterions:
      - name: latent_mse
        wrapper: latent_distill
        wrapper_conf: {weight: 0.05}
"""

from collections import defaultdict

import torch
from espnet2.enh.loss.criterions.time_domain import TimeDomainLoss
from espnet2.enh.loss.wrappers.abs_wrapper import AbsLossWrapper


class LatentMSE(TimeDomainLoss):
    """Mean squared error between latents ``[B, ..., T]`` over valid frames.

    A :class:`TimeDomainLoss` only so that ESPnet's model hands it to its
    wrapper; it never sees waveforms.

    Args:
        name: key under which ESPnet reports the loss.
        only_for_test: only evaluate in validation.
    """

    def __init__(self, name: str | None = None, only_for_test: bool = False):
        super().__init__(name or "latent_mse", only_for_test=only_for_test)

    def forward(
        self,
        ref: torch.Tensor,
        inf: torch.Tensor,
        frames: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Loss per utterance ``[B]``.

        Args:
            ref: target latent ``[B, ..., T]``.
            inf: estimated latent, same shape.
            frames: valid frames per utterance ``[B]`` (None: all).
        """
        if ref.shape != inf.shape:
            raise ValueError(
                f"latent_mse: target {tuple(ref.shape)} and latent "
                f"{tuple(inf.shape)} differ in shape"
            )
        err = (ref - inf).pow(2).flatten(1, -2)  # [B, D, T]
        if frames is None:
            return err.mean(dim=(1, 2))
        keep = torch.arange(err.size(-1), device=err.device) < frames.unsqueeze(1)
        keep = keep.to(err.dtype).unsqueeze(1)
        count = (keep.sum(dim=(1, 2)) * err.size(1)).clamp(min=1)
        return (err * keep).sum(dim=(1, 2)) / count


class LatentDistillWrapper(AbsLossWrapper):
    """Feeds ``others["latent"]`` / ``others["latent_target"]`` to a criterion.

    Without a target (e.g. validation before the teacher is loaded, or
    inference) it returns a zero loss and reports NaN, so that the spectral
    loss alone drives the step.

    Args:
        criterion: a :class:`LatentMSE`.
        weight: the loss weight (authors: 0.05).
    """

    def __init__(self, criterion: LatentMSE, weight: float = 1.0):
        super().__init__()
        self.criterion = criterion
        self.weight = weight

    def forward(self, ref, inf, others: dict):
        """Returns ``(loss, stats, {"perm": identity})``; ``ref``/``inf`` unused."""
        perm = torch.zeros(ref[0].size(0), 1, dtype=torch.long)
        stats = defaultdict(list)
        if "latent" not in others:
            raise ValueError(
                "latent_distill: the separator returns no 'latent' in others "
                "(use a separator with a distilled bottleneck, e.g. cnunet_tb)"
            )
        target = others.get("latent_target")
        if target is None:
            zero = others["latent"].new_zeros(())
            return (
                zero,
                {self.criterion.name: torch.full_like(zero, float("nan"))},
                {"perm": perm},
            )
        loss = self.criterion(
            target.detach(), others["latent"], others.get("latent_frames")
        ).mean()
        stats[self.criterion.name] = loss.detach()
        return loss, dict(stats), {"perm": perm}
