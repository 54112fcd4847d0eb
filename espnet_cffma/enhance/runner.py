"""A loaded ESPnet enhancement model that runs one padded batch of mono signals.

The model is built by ESPnet (``EnhancementTask.build_model``, after
registering the plugin's classes) and its weights loaded with
``torch.load(weights_only=True)`` and an exact key match.

Signals of different lengths are zero-padded into one batch and the model is
given their true lengths. Whether padding leaves a signal's output unchanged
is a property of the architecture (masked norms and attention, an SSL front
run per utterance), so the separator declares it with a class attribute
``padding_invariant = True``; the user can override it with
``--batch_mixed_lengths``. A model that declares nothing only gets batches of
equal-length signals, which is always exact. (An earlier version probed this
with two forward passes at load time: that cost two passes of the full model
on every start and a random-signal probe proves nothing about real inputs.)
"""

import argparse
import logging
import math
from pathlib import Path

import numpy as np
import torch

from espnet_cffma.enhance.checkpoint import load_into, read_state_dict
from espnet_cffma.enhance.errors import ModelLoadError
from espnet_cffma.enhance.model_files import (
    ModelFiles,
    localize_ssl_paths,
    read_config,
)

logger = logging.getLogger(__name__)

DEFAULT_FS = 16000


def build_espnet_model(config: dict, config_path: Path) -> torch.nn.Module:
    """Builds an untrained ESPnet enhancement model from a training config.

    Raises:
        ModelLoadError: ESPnet rejects the config (unknown class, bad option, SSL
            checkpoint missing, ...).
    """
    from espnet2.tasks.enh import EnhancementTask

    from espnet_cffma.registry import register_espnet_classes

    register_espnet_classes()
    try:
        return EnhancementTask.build_model(argparse.Namespace(**config))
    except Exception as e:  # ESPnet/S3PRL raise anything from ValueError to OSError
        raise ModelLoadError(
            f"Cannot build the model from {config_path}: {type(e).__name__}: {e}"
        ) from None


class ModelRunner:
    """Runs an ESPnet enhancement model on mono signals at its sampling rate.

    Args:
        model: an ``ESPnetEnhancementModel`` with one output (``num_spk == 1``).
        fs: the model's sampling rate.
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        max_batch_samples: padded samples per forward pass (rows x longest row).
        mixed_lengths: batch signals of different lengths together (None: what
            the separator declares, see :func:`declares_padding_invariance`).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        fs: int,
        device: str = "cpu",
        max_batch_samples: int = 30 * DEFAULT_FS,
        mixed_lengths: bool | None = None,
    ):
        for name in ("encoder", "separator", "decoder"):
            if not hasattr(model, name):
                raise ModelLoadError(
                    f"{type(model).__name__} is not an ESPnet enhancement model "
                    f"(no {name})"
                )
        num_spk = getattr(model, "num_spk", 1)
        if num_spk != 1:
            raise ModelLoadError(
                f"The model separates {num_spk} sources; cffma-enhance writes one "
                "enhanced signal per input and needs num_spk: 1"
            )
        self.model = model.to(device).eval()
        self.fs = int(fs)
        self.device = device
        self.max_batch_samples = max_batch_samples
        self.min_samples = _min_samples(model)
        self.frame_quantum = _frame_quantum(model)
        if mixed_lengths is None:
            mixed_lengths = declares_padding_invariance(model)
        self.mixed_lengths = bool(mixed_lengths)

    @classmethod
    def from_files(
        cls,
        files: ModelFiles,
        device: str = "cpu",
        fs: int | None = None,
        allow_pickle: bool = False,
        max_batch_samples: int | None = None,
        mixed_lengths: bool | None = None,
    ) -> "ModelRunner":
        """Builds the model from its config and loads its checkpoint.

        Args:
            files: config and state_dict.
            device: where to run.
            fs: the model's sampling rate (default: the separator's ``fs``, else
                16 kHz).
            allow_pickle: let the checkpoint unpickle arbitrary objects.
            max_batch_samples: see the class (default: 30 s at ``fs``).
            mixed_lengths: see the class.

        Raises:
            ModelLoadError: any problem, with the file named.
        """
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ModelLoadError("--device cuda was asked for, but CUDA is not usable")
        config = localize_ssl_paths(read_config(files.config), files.config)
        model = build_espnet_model(config, files.config)
        load_into(
            model, read_state_dict(files.model_file, allow_pickle), files.model_file
        )
        if getattr(model, "always_forward_in_48k", False):
            rate = 48000
        else:
            rate = fs or _declared_rate(model, config)
        if not rate:
            rate = DEFAULT_FS
            logger.info("The config names no sampling rate: assuming %d Hz", rate)
        return cls(
            model,
            fs=rate,
            device=device,
            max_batch_samples=max_batch_samples or 30 * rate,
            mixed_lengths=mixed_lengths,
        )

    # ------------------------------------------------------------------ running
    @torch.inference_mode()
    def forward(self, rows: list[np.ndarray]) -> list[np.ndarray]:
        """One forward pass on a padded batch.

        Args:
            rows: mono float32 signals ``[N_i]`` at :attr:`fs`.

        Returns:
            Enhanced signals ``[N_i]`` (float32). All-zero inputs give all-zero
            outputs (digital silence stays silent, whatever the model's biases).
        """
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
        batch = torch.zeros(len(rows), int(lengths.max()), dtype=torch.float32)
        for i, row in enumerate(rows):
            batch[i, : len(row)] = torch.from_numpy(np.asarray(row, dtype=np.float32))
        batch, lengths = batch.to(self.device), lengths.to(self.device)
        valid = torch.arange(batch.size(1), device=self.device) < lengths[:, None]

        scale = None
        if getattr(self.model, "normalize_variance", False) or getattr(
            self.model, "normalize_variance_per_ch", False
        ):
            # ESPnet takes the std over the padded tensor; here over valid samples.
            count = lengths.clamp(min=2).to(batch.dtype)
            mean = batch.sum(1) / count
            var = (((batch - mean[:, None]) * valid) ** 2).sum(1) / (count - 1)
            scale = var.sqrt().clamp(min=1e-8)[:, None]
            batch = batch / scale

        feats, feat_lengths = self.model.encoder(batch, lengths)
        outputs, _, _ = self.model.separator(feats, feat_lengths, {})
        enhanced, _ = self.model.decoder(outputs[0], lengths)
        if scale is not None:
            enhanced = enhanced * scale
        if enhanced.size(1) < batch.size(1):
            raise RuntimeError(
                f"model output has {enhanced.size(1)} samples for {batch.size(1)} input"
            )
        enhanced = enhanced[:, : batch.size(1)] * valid
        silent = (batch == 0).all(dim=1)
        enhanced[silent] = 0.0
        enhanced = enhanced.float().cpu().numpy()
        return [enhanced[i, : len(row)] for i, row in enumerate(rows)]


def declares_padding_invariance(model: torch.nn.Module) -> bool:
    """True when the separator states that zero padding leaves outputs unchanged.

    ESPnet's own separators declare nothing (their TCN and STFT masks see the
    padding), so they are only batched with equal-length signals.
    """
    return bool(getattr(model.separator, "padding_invariant", False))


def _declared_rate(model: torch.nn.Module, config: dict) -> int | None:
    for value in (
        config.get("fs"),
        getattr(model.separator, "fs", None),
        getattr(model.encoder, "fs", None),
    ):
        if isinstance(value, int) and value > 0:
            return value
    return None


def _min_samples(model: torch.nn.Module) -> int:
    """Shortest input: the model's own ``min_samples``, else one STFT frame."""
    declared = [
        m.min_samples
        for m in model.modules()
        if isinstance(getattr(m, "min_samples", None), int)
    ]
    if declared:
        return max(declared)
    frames = [
        m.n_fft for m in model.modules() if isinstance(getattr(m, "n_fft", None), int)
    ]
    return max(frames, default=1)


def _frame_quantum(model: torch.nn.Module) -> int:
    """Least common multiple of the model's frame strides (STFT hop, SSL stride).

    Chunk boundaries on multiples of it keep the frames of a chunked run on the
    same grid as a whole-signal run.
    """
    strides = set()
    for module in model.modules():
        for name in ("hop_length", "downsample_rate"):
            value = getattr(module, name, None)
            if isinstance(value, int) and value > 0:
                strides.add(value)
        stride = getattr(module, "stride", None)
        if type(module).__name__ == "ConvEncoder" and isinstance(stride, int):
            strides.add(stride)
    return math.lcm(*strides) if strides else 1
