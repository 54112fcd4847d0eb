"""Loss wrapper for progressive learning: one target of rising SNR per output."""

from collections import defaultdict
from collections.abc import Sequence

import torch
from espnet2.enh.loss.criterions.abs_loss import AbsEnhLoss
from espnet2.enh.loss.wrappers.abs_wrapper import AbsLossWrapper

from espnet_cffma.systems.tfgridnet_pl.separator import INTERMEDIATE_KEY, MIXTURE_KEY
from espnet_cffma.systems.tfgridnet_pl.targets import (
    absolute_targets,
    relative_targets,
)


class ProgressiveLossWrapper(AbsLossWrapper):
    """Sums ``stage_weight_k * criterion(target_k, output_k)`` over the outputs.

    Registered as ESPnet loss wrapper ``progressive``. The outputs are the
    separator's ``others["intermediate_outputs"]`` (earliest first) followed by
    its final estimate; the targets are built from the clean reference and the
    interference ``mixture - clean`` (``others["mixture"]``). For additive
    corpora that interference IS the noise reference (VoiceBank-DEMAND's
    ``noise1.scp`` is noisy − clean; WHAMR!'s anechoic mixtures are
    ``s1 + noise``). It is derived here because ESPnet's ``forward_loss``
    hands a wrapper either the speech references or, for ``is_noise_loss``
    criteria, the noise references, never both.

    Args:
        criterion: the per-output loss (e.g. ``compressed_spec_si_snr``).
        weight: weight of this wrapper in ESPnet's total loss.
        target_type: ``relative`` (s + 10^(-k step/20) n, ours, default) or
            ``absolute`` (fixed SNRs, the authors' code).
        step_db: SNR increase per stage for relative targets.
        absolute_snrs_db: SNRs of the intermediate targets for absolute targets
            (one per intermediate output).
        stage_weights: one weight per output (intermediate ones first, final
            last); ``None`` = 1.0 each (the authors' equal weights).
    """

    def __init__(
        self,
        criterion: AbsEnhLoss,
        weight: float = 1.0,
        target_type: str = "relative",
        step_db: float = 10.0,
        absolute_snrs_db: Sequence[float] = (0.0, 5.0, 10.0, 15.0),
        stage_weights: Sequence[float] | None = None,
    ):
        super().__init__()
        if target_type not in ("relative", "absolute"):
            raise ValueError(
                "progressive loss wrapper: target_type must be 'relative' or "
                f"'absolute', got {target_type!r}"
            )
        self.criterion = criterion
        self.weight = weight
        self.target_type = target_type
        self.step_db = float(step_db)
        self.absolute_snrs_db = [float(s) for s in absolute_snrs_db]
        self.stage_weights = (
            None if stage_weights is None else [float(w) for w in stage_weights]
        )

    def targets(
        self, speech: torch.Tensor, noise: torch.Tensor, num_outputs: int
    ) -> list[torch.Tensor]:
        """The ``num_outputs`` targets ``[B, N]`` for one source, earliest first."""
        if self.target_type == "relative":
            return relative_targets(speech, noise, num_outputs, self.step_db)
        if len(self.absolute_snrs_db) != num_outputs - 1:
            raise ValueError(
                f"progressive loss wrapper: {len(self.absolute_snrs_db)} "
                f"absolute_snrs_db for {num_outputs - 1} intermediate outputs"
            )
        return absolute_targets(speech, noise, self.absolute_snrs_db)

    def forward(self, ref, inf, others=None):
        """Computes the weighted sum over outputs.

        Args:
            ref: clean references, list of ``n_srcs`` tensors ``[B, N]``.
            inf: final estimates, list of ``n_srcs`` tensors ``[B, N]``.
            others: the separator's ``others`` (intermediate outputs, mixture).

        Returns:
            loss (scalar), stats (per-stage losses), ``{"perm": ...}``.
        """
        others = others or {}
        if INTERMEDIATE_KEY not in others or MIXTURE_KEY not in others:
            raise ValueError(
                "progressive loss wrapper needs a separator that returns "
                f"'{INTERMEDIATE_KEY}' and '{MIXTURE_KEY}' in others "
                "(separator: tfgridnet_pl)"
            )
        outputs = list(others[INTERMEDIATE_KEY]) + [inf]
        num_outputs = len(outputs)
        weights = self.stage_weights or [1.0] * num_outputs
        if len(weights) != num_outputs:
            raise ValueError(
                f"progressive loss wrapper: {len(weights)} stage_weights for "
                f"{num_outputs} outputs (intermediate heads + final)"
            )
        mixture = others[MIXTURE_KEY][..., : ref[0].shape[-1]]
        noise = mixture - sum(ref)
        num_src = len(ref)
        loss = 0.0
        stats = defaultdict(float)
        for src, speech in enumerate(ref):
            stage_targets = self.targets(speech, noise, num_outputs)
            for k, (target, output, w) in enumerate(
                zip(stage_targets, outputs, weights), start=1
            ):
                value = torch.mean(self.criterion(target, output[src])) / num_src
                loss = loss + w * value
                stats[f"{self.criterion.name}_out{k}"] += value.detach()
        stats = dict(stats)
        stats[self.criterion.name] = loss.detach()
        perm = torch.arange(num_src).unsqueeze(0).repeat(ref[0].size(0), 1)
        return loss, stats, {"perm": perm}
