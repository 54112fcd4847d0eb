"""Adds the plugin's classes to ESPnet's enhancement ``ClassChoices``.

ESPnet has no plugin entry point: ``espnet2.tasks.enh`` builds its parser from
module-level ``ClassChoices`` when ``main()`` runs. Adding our classes to their
``classes`` dicts before that makes ``separator: bss_cffma``, the plugin's
criteria, loss wrapper and preprocessor valid in any YAML config, without
editing ESPnet. ``espnet2.tasks.enh_s2t`` deep-copies these choices when it is
imported, so registration must come first; the ``espnet_cffma.bin`` modules do
it at import time, which also covers the worker processes of multi-GPU
training (they re-import the main module).
"""

_registered = False

# Preprocessors built as ``cls(train=train, **preprocessor_conf)``: ESPnet's
# EnhancementTask.build_preprocess_fn only knows its own two by name.
PLUGIN_PREPROCESSORS = {}


def _extend_build_preprocess_fn(task) -> None:
    """Lets ``task.build_preprocess_fn`` build the plugin's preprocessors."""
    espnet_build = task.build_preprocess_fn.__func__

    def build_preprocess_fn(cls, args, train):
        name = getattr(args, "preprocessor", None)
        if name in PLUGIN_PREPROCESSORS:
            conf = getattr(args, "preprocessor_conf", None) or {}
            return PLUGIN_PREPROCESSORS[name](train=train, **conf)
        return espnet_build(cls, args, train)

    build_preprocess_fn.__doc__ = espnet_build.__doc__
    task.build_preprocess_fn = classmethod(build_preprocess_fn)


def register_espnet_classes() -> None:
    """Registers the plugin's classes in ESPnet's enh task. Idempotent.

    ``separator: bss_cffma``; criteria ``log1p_mask_l1`` (the paper's loss)
    and ``log1p_l1`` (on the re-analysed waveform); loss wrapper
    ``fixed_order_others``; ``preprocessor: random_crop_gain``; ``optim:
    adam_ssl`` / ``adamw_ssl``.
    """
    global _registered
    if _registered:
        return
    from espnet2.tasks import abs_task, enh

    from espnet_cffma.losses.log1p_l1 import Log1pMagnitudeL1Loss
    from espnet_cffma.losses.log1p_mask_l1 import Log1pMaskL1Loss
    from espnet_cffma.losses.wrappers import FixedOrderOthersSolver
    from espnet_cffma.optim import SSLAwareAdam, SSLAwareAdamW
    from espnet_cffma.preprocessors.crop_gain import RandomCropGainPreprocessor
    from espnet_cffma.systems.bss_cffma.separator import BSSCFFMASeparator

    enh.separator_choices.classes["bss_cffma"] = BSSCFFMASeparator
    enh.criterion_choices.classes["log1p_l1"] = Log1pMagnitudeL1Loss
    enh.criterion_choices.classes["log1p_mask_l1"] = Log1pMaskL1Loss
    enh.loss_wrapper_choices.classes["fixed_order_others"] = FixedOrderOthersSolver
    PLUGIN_PREPROCESSORS["random_crop_gain"] = RandomCropGainPreprocessor
    enh.preprocessor_choices.classes.update(PLUGIN_PREPROCESSORS)
    _extend_build_preprocess_fn(enh.EnhancementTask)
    abs_task.optim_classes["adam_ssl"] = SSLAwareAdam
    abs_task.optim_classes["adamw_ssl"] = SSLAwareAdamW
    _registered = True
