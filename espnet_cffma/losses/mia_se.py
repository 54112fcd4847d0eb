"""MIA-SE's training loss: scaled time MSE + STFT-magnitude L1, plus wSDR.

``loss = (0.8 * MSE(x2, x) + 0.2 * L1(|STFT x2|, |STFT x|)) / 600
+ wSDR(y, x2, x)``, with ``x`` the target (MIA-SE: the detached first output
x1; supervised: clean speech; Noise2Noise: a second noisy copy), ``x2`` the
estimate and ``y`` the network's noisy input of the *first* pass (MIA-SE: y1).
"""

import torch
from espnet2.enh.loss.criterions.time_domain import TimeDomainLoss

from espnet_cffma.layers.stft import STFT

EPS = 1e-8


def weighted_sdr(
    mix: torch.Tensor, estimate: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """DCUnet's weighted SDR loss (Choi et al., 2019), in ``[-1, 1]``.

    With ``n = mix - target`` and ``n_hat = mix - estimate``,
    ``alpha = |target|^2 / (|target|^2 + |n|^2)`` and
    ``cos(a, b) = <a, b> / (|a| |b|)``:
    ``wSDR = -alpha cos(target, estimate) - (1 - alpha) cos(n, n_hat)``.

    Args:
        mix: noisy input ``[B, N]``.
        estimate: network output ``[B, N]``.
        target: target ``[B, N]``.

    Returns:
        Loss per utterance ``[B]``.
    """

    def neg_cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return -(a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1) + EPS)

    noise, noise_est = mix - target, mix - estimate
    target_energy = target.pow(2).sum(-1)
    alpha = target_energy / (target_energy + noise.pow(2).sum(-1) + EPS)
    return alpha * neg_cos(target, estimate) + (1 - alpha) * neg_cos(noise, noise_est)


class MIASELoss(TimeDomainLoss):
    """``(0.8 MSE + 0.2 STFT-magnitude L1) / 600 + wSDR`` (ESPnet criterion ``mia_se``).

    The wSDR term needs the noisy input, which ESPnet's loss wrappers do not
    pass to criterions: use it with ``enh_model: mia_se``
    (:class:`~espnet_cffma.models.mia_se.MIASEEnhancementModel`), which calls
    ``criterion(ref, inf, mix=...)``.

    Args:
        mse_weight: weight of the time-domain MSE (authors: 0.8).
        mag_weight: weight of the STFT-magnitude L1 (authors: 0.2).
        scale: divisor of the weighted sum (authors: 600).
        wsdr_weight: weight of the wSDR term (authors: 1).
        n_fft: STFT size of the magnitude term.
        hop_length: STFT hop of the magnitude term.
        window: STFT window.
        name, only_for_test, is_noise_loss, is_dereverb_loss: ESPnet options.
    """

    def __init__(
        self,
        mse_weight: float = 0.8,
        mag_weight: float = 0.2,
        scale: float = 600.0,
        wsdr_weight: float = 1.0,
        n_fft: int = 1024,
        hop_length: int = 256,
        window: str = "hann",
        name: str | None = None,
        only_for_test: bool = False,
        is_noise_loss: bool = False,
        is_dereverb_loss: bool = False,
    ):
        super().__init__(
            name or "mia_se",
            only_for_test=only_for_test,
            is_noise_loss=is_noise_loss,
            is_dereverb_loss=is_dereverb_loss,
        )
        self.mse_weight = mse_weight
        self.mag_weight = mag_weight
        self.scale = scale
        self.wsdr_weight = wsdr_weight
        self.stft = STFT(n_fft, n_fft, hop_length, window)

    def forward(
        self, ref: torch.Tensor, inf: torch.Tensor, mix: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Computes the loss.

        Args:
            ref: target waveforms ``[B, N]``.
            inf: estimated waveforms ``[B, N]``.
            mix: the noisy input the wSDR term compares against ``[B, N]``.

        Returns:
            Loss per utterance ``[B]``.
        """
        if mix is None:
            raise ValueError(
                "criterion mia_se needs the noisy input for its wSDR term: train "
                "with 'enh_model: mia_se' (ESPnet's default model does not pass it)"
            )
        if not ref.shape == inf.shape == mix.shape:
            raise ValueError(
                f"mia_se: target {tuple(ref.shape)}, estimate {tuple(inf.shape)} and "
                f"input {tuple(mix.shape)} differ in shape"
            )
        mse = (inf - ref).pow(2).mean(-1)
        lengths = torch.full((ref.size(0),), ref.size(1), device=ref.device)
        mag_l1 = (
            (self.stft(inf, lengths)[0].abs() - self.stft(ref, lengths)[0].abs())
            .abs()
            .mean(dim=(1, 2))
        )
        scaled = (self.mse_weight * mse + self.mag_weight * mag_l1) / self.scale
        return scaled + self.wsdr_weight * weighted_sdr(mix, inf, ref)
