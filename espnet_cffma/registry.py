"""Adds the plugin's classes to ESPnet's enhancement ``ClassChoices``.

ESPnet has no plugin entry point: ``espnet2.tasks.enh`` builds its parser from
module-level ``ClassChoices`` when ``main()`` runs. Adding our classes to their
``classes`` dicts before that makes ``separator: bss_cffma`` and the
``log1p_l1`` criterion valid in any YAML config, without editing ESPnet.
``espnet2.tasks.enh_s2t`` deep-copies these choices when it is imported, so
registration must come first; the ``espnet_cffma.bin`` modules do it at import
time, which also covers the worker processes of multi-GPU training (they
re-import the main module).
"""

_registered = False


def register_espnet_classes() -> None:
    """Registers the separator, criterion and optimisers. Idempotent.

    ``separator: bss_cffma`` / ``cnunet_tb``, criteria ``log1p_l1``,
    ``compressed_spectral_mse``, ``latent_mse`` (wrapper ``latent_distill``),
    ``optim: adam_ssl`` / ``adamw_ssl``.
    """
    global _registered
    if _registered:
        return
    from espnet2.tasks import abs_task, enh

    from espnet_cffma.losses.compressed_spectral import CompressedSpectralMSE
    from espnet_cffma.losses.latent import LatentDistillWrapper, LatentMSE
    from espnet_cffma.losses.log1p_l1 import Log1pMagnitudeL1Loss
    from espnet_cffma.optim import SSLAwareAdam, SSLAwareAdamW
    from espnet_cffma.systems.bss_cffma.separator import BSSCFFMASeparator
    from espnet_cffma.systems.cnunet_tb.separator import CNUNetTBSeparator

    enh.separator_choices.classes["bss_cffma"] = BSSCFFMASeparator
    enh.separator_choices.classes["cnunet_tb"] = CNUNetTBSeparator
    enh.criterion_choices.classes["log1p_l1"] = Log1pMagnitudeL1Loss
    enh.criterion_choices.classes["compressed_spectral_mse"] = CompressedSpectralMSE
    enh.criterion_choices.classes["latent_mse"] = LatentMSE
    enh.loss_wrapper_choices.classes["latent_distill"] = LatentDistillWrapper
    abs_task.optim_classes["adam_ssl"] = SSLAwareAdam
    abs_task.optim_classes["adamw_ssl"] = SSLAwareAdamW
    _registered = True
