"""ESPnet loss wrappers that hand the separator's ``others`` to the criterion."""

from collections import defaultdict

import torch
from espnet2.enh.loss.wrappers.fixed_order import FixedOrderSolver


class FixedOrderOthersSolver(FixedOrderSolver):
    """ESPnet's ``fixed_order`` wrapper, also passing ``others`` to the criterion.

    Registered as ``fixed_order_others``. ESPnet's model gives every wrapper the
    separator's ``others`` but its own wrappers keep them from the criterion;
    criteria on the separator's intermediate prediction (``log1p_mask_l1``)
    need them. The criterion is called as ``criterion(ref, inf, others=others,
    speaker=n)`` for speaker ``n`` (1-based).

    Args:
        criterion: the ESPnet criterion.
        weight: loss weight.
    """

    def forward(self, ref, inf, others=None):
        """Sums the criterion over speakers in their given order.

        Args:
            ref: references, one ``[B, ...]`` per speaker.
            inf: estimates, one ``[B, ...]`` per speaker.
            others: the separator's ``others`` (and earlier wrappers' outputs).

        Returns:
            The loss, statistics and ``{"perm": identity permutation [B, S]}``.
        """
        if len(ref) != len(inf):
            raise ValueError(
                f"{len(ref)} references but {len(inf)} estimates for "
                f"'{self.criterion.name}'"
            )
        num_spk = len(ref)
        loss = 0.0
        stats = defaultdict(list)
        for speaker, (r, i) in enumerate(zip(ref, inf), start=1):
            loss += (
                self.criterion(r, i, others=others, speaker=speaker).mean() / num_spk
            )
            for k, v in getattr(self.criterion, "stats", {}).items():
                stats[k].append(v)
        stats = {k: torch.stack(v, dim=1).mean() for k, v in stats.items()}
        stats[self.criterion.name] = loss.detach()
        perm = torch.arange(num_spk).unsqueeze(0).repeat(ref[0].size(0), 1)
        return loss.mean(), stats, {"perm": perm}
