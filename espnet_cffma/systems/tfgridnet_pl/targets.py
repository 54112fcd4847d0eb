"""Intermediate targets of rising SNR for progressive learning."""

from collections.abc import Sequence

import torch


def relative_targets(
    speech: torch.Tensor, noise: torch.Tensor, num_outputs: int, step_db: float
) -> list[torch.Tensor]:
    """Targets ``s + 10^(-k*step/20) * n`` for k = 1..num_outputs-1, then ``s``.

    Target k has the input SNR plus ``k * step_db`` dB (the literature's
    progressive targets, Gao et al. 2016/2018); the last target is clean.

    Args:
        speech: clean speech ``[B, N]``.
        noise: noise (interference) ``[B, N]``.
        num_outputs: number of outputs (intermediate + final).
        step_db: SNR increase per stage in dB.

    Returns:
        ``num_outputs`` targets ``[B, N]``, earliest first.
    """
    gains = [10.0 ** (-k * step_db / 20.0) for k in range(1, num_outputs)]
    return [speech + gain * noise for gain in gains] + [speech]


def absolute_targets(
    speech: torch.Tensor,
    noise: torch.Tensor,
    snrs_db: Sequence[float],
    eps: float = 1.0e-8,
) -> list[torch.Tensor]:
    """Targets at fixed SNRs (the authors' code: 0, 5, 10, 15 dB), then ``s``.

    The noise is scaled per utterance so that ``10 log10(|s|^2 / |g n|^2)``
    equals each SNR. Above 0 dB input SNR the first targets are noisier than
    the input, which is why relative targets are the default.

    Args:
        speech: clean speech ``[B, N]``.
        noise: noise ``[B, N]``.
        snrs_db: SNR of each intermediate target in dB.
        eps: guards silent noise.

    Returns:
        ``len(snrs_db) + 1`` targets ``[B, N]``, earliest first.
    """
    speech_energy = speech.pow(2).sum(dim=-1, keepdim=True)
    noise_energy = noise.pow(2).sum(dim=-1, keepdim=True).clamp_min(eps)
    targets = []
    for snr in snrs_db:
        gain = torch.sqrt(speech_energy / (noise_energy * 10.0 ** (snr / 10.0)))
        targets.append(speech + gain * noise)
    return targets + [speech]
