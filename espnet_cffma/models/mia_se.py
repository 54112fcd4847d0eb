"""MIA-SE training as an ESPnet model (``enh_model: mia_se``).

``training_target: iddp`` (the paper's self-supervised mode, no clean speech):

1. ``x1 = f(y1)`` on the noisy input, without gradients;
2. ``y2 = x1 + n'``, ``n'`` a random clip of the noise pool scaled to an SNR
   (relative to ``x1``) drawn from the integers of ``snr_range``;
3. ``x2 = f(y2)`` with gradients;
4. loss between ``x2`` and the detached ``x1`` (the implicit deep denoiser
   prior), the wSDR term against ``y1``.

The first pass runs in the model's current mode (training: batch norm uses
and updates batch statistics), as in the authors' code. Validation uses the
same self-supervised loss, so a noisy-only validation set works.

``training_target: reference``: ``x2 = f(y1)`` trained towards
``speech_ref1`` with the same loss: supervised training when ``spk1.scp``
holds clean speech, Noise2Noise when it holds a second, independently noisy
copy of the same speech.
"""

import torch
from espnet2.enh.espnet_model import ESPnetEnhancementModel
from espnet2.torch_utils.device_funcs import force_gatherable

from espnet_cffma.losses.mia_se import MIASELoss
from espnet_cffma.models.noise_pool import NoisePool

TRAINING_TARGETS = ("iddp", "reference")


class MIASEEnhancementModel(ESPnetEnhancementModel):
    """ESPnet enhancement model with MIA-SE's IDDP (noisy-only) training.

    Args:
        encoder, separator, decoder, mask_module, loss_wrappers: as
            :class:`espnet2.enh.espnet_model.ESPnetEnhancementModel`; the
            criterions are called as ``criterion(target, estimate, mix=y1)``
            when they accept ``mix`` (:class:`MIASELoss`).
        training_target: ``iddp`` (no clean reference read) or ``reference``
            (supervised / Noise2Noise: ``speech_ref1`` is the target).
        noise_pool: scp of noise-only recordings (``iddp`` only).
        snr_range: ``[low, high]`` dB; re-noising SNRs are integers drawn
            uniformly from ``low..high`` (authors: 0..9).
        fs: sampling rate of the data and of the noise pool.
        **kwargs: further ``ESPnetEnhancementModel`` options (``model_conf``).
    """

    def __init__(
        self,
        encoder,
        separator,
        decoder,
        mask_module,
        loss_wrappers,
        training_target: str = "iddp",
        noise_pool: str | None = None,
        snr_range: tuple[int, int] | list[int] = (0, 9),
        fs: int = 16000,
        **kwargs,
    ):
        super().__init__(
            encoder, separator, decoder, mask_module, loss_wrappers, **kwargs
        )
        if training_target not in TRAINING_TARGETS:
            raise ValueError(
                f"enh_model_conf.training_target must be one of {TRAINING_TARGETS}, "
                f"got '{training_target}'"
            )
        if not loss_wrappers:
            raise ValueError(
                "enh_model mia_se needs at least one criterion (e.g. mia_se)"
            )
        if training_target == "iddp" and not noise_pool:
            raise ValueError(
                "enh_model_conf.noise_pool is required with training_target: iddp "
                "(an scp of noise-only recordings)"
            )
        if len(snr_range) != 2 or int(snr_range[0]) > int(snr_range[1]):
            raise ValueError(
                "enh_model_conf.snr_range must be [low, high] with low <= high, "
                f"got {snr_range}"
            )
        self.training_target = training_target
        self.snr_range = (int(snr_range[0]), int(snr_range[1]))
        self.noise_pool = NoisePool(noise_pool, fs) if noise_pool else None

    def enhance(self, speech: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """One pass of the denoiser: ``[B, N]`` -> ``[B, N]``."""
        return self.forward_enhance(speech, lengths)[0][0]

    def renoise(
        self, speech: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Adds pool noise at a random integer SNR to each utterance.

        Args:
            speech: waveforms ``[B, N]`` (zero past each length).
            lengths: valid samples ``[B]``.

        Returns:
            Re-noised waveforms ``[B, N]`` (zero past each length) and the drawn
            SNRs in dB ``[B]``.
        """
        low, high = self.snr_range
        snrs = torch.randint(low, high + 1, (speech.size(0),)).to(speech.dtype)
        noise = torch.zeros_like(speech)
        for b, n in enumerate(lengths.tolist()):
            clip = self.noise_pool.sample(n).to(speech)
            speech_power = speech[b, :n].pow(2).mean()
            noise_power = clip.pow(2).mean()
            gain = torch.sqrt(speech_power / (noise_power * 10 ** (snrs[b] / 10)))
            noise[b, :n] = gain * clip
        return speech + noise, snrs.to(speech.device)

    def _criterion_losses(
        self, target: torch.Tensor, estimate: torch.Tensor, mix: torch.Tensor
    ) -> tuple[torch.Tensor, dict]:
        loss, stats = 0.0, {}
        for wrapper in self.loss_wrappers:
            criterion = wrapper.criterion
            if isinstance(criterion, MIASELoss):
                value = criterion(target, estimate, mix=mix).mean()
            else:
                value = criterion(target, estimate).mean()
            stats[criterion.name] = value.detach()
            loss = loss + wrapper.weight * value
        return loss, stats

    def forward(
        self,
        speech_mix: torch.Tensor,
        speech_mix_lengths: torch.Tensor = None,
        **kwargs,
    ):
        """One training / validation step.

        Args:
            speech_mix: noisy waveforms ``[B, N]`` (y1).
            speech_mix_lengths: valid samples ``[B]``.
            **kwargs: ``speech_ref1`` ``[B, N]`` with ``training_target:
                reference`` (ignored with ``iddp``); other ESPnet keys.

        Returns:
            ``(loss, stats, weight)`` as ESPnet's trainer expects.
        """
        if speech_mix.dim() != 2:
            raise ValueError(
                "enh_model mia_se takes single-channel audio [B, N], got "
                f"{tuple(speech_mix.shape)}"
            )
        if speech_mix_lengths is None:
            speech_mix_lengths = torch.full(
                (speech_mix.size(0),), speech_mix.size(1), device=speech_mix.device
            )
        speech_mix = speech_mix[:, : int(speech_mix_lengths.max())]
        if self.training_target == "iddp":
            with torch.no_grad():
                first = self.enhance(speech_mix, speech_mix_lengths)
            renoised, _ = self.renoise(first, speech_mix_lengths)
            estimate = self.enhance(renoised, speech_mix_lengths)
            target = first.detach()
        else:
            if "speech_ref1" not in kwargs:
                raise ValueError(
                    "training_target: reference needs speech_ref1 (spk1.scp) in the "
                    "data; for training without clean speech use training_target: iddp"
                )
            target = kwargs["speech_ref1"][:, : speech_mix.size(1)]
            estimate = self.enhance(speech_mix, speech_mix_lengths)
        loss, stats = self._criterion_losses(target, estimate, speech_mix)
        stats["loss"] = loss.detach()
        batch_size = speech_mix.size(0)
        return force_gatherable((loss, stats, batch_size), loss.device)
