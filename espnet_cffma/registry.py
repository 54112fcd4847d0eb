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

    ``separator: bss_cffma`` / ``cnunet_tb`` / ``tfgridnet_pl`` /
    ``dcunet_tstm``; criteria ``log1p_mask_l1`` (BSS-CFFMA's paper loss),
    ``log1p_l1`` (on the re-analysed waveform), ``compressed_spectral_mse``,
    ``latent_mse``, ``compressed_spec_si_snr``, ``mia_se``; loss wrappers
    ``fixed_order_others``, ``latent_distill``, ``progressive``;
    ``preprocessor: random_crop_gain``; ``enh_model: mia_se``; ``optim:
    adam_ssl`` / ``adamw_ssl``.
    """
    global _registered
    if _registered:
        return
    from espnet2.tasks import abs_task, enh

    from espnet_cffma.losses.compressed_spectral import CompressedSpectralMSE
    from espnet_cffma.losses.compressed_spectrum import CompressedSpectrumSISNRLoss
    from espnet_cffma.losses.latent import LatentDistillWrapper, LatentMSE
    from espnet_cffma.losses.log1p_l1 import Log1pMagnitudeL1Loss
    from espnet_cffma.losses.log1p_mask_l1 import Log1pMaskL1Loss
    from espnet_cffma.losses.mia_se import MIASELoss
    from espnet_cffma.losses.progressive import ProgressiveLossWrapper
    from espnet_cffma.losses.wrappers import FixedOrderOthersSolver
    from espnet_cffma.models.mia_se import MIASEEnhancementModel
    from espnet_cffma.optim import SSLAwareAdam, SSLAwareAdamW
    from espnet_cffma.preprocessors.crop_gain import RandomCropGainPreprocessor
    from espnet_cffma.systems.bss_cffma.separator import BSSCFFMASeparator
    from espnet_cffma.systems.cnunet_tb.separator import CNUNetTBSeparator
    from espnet_cffma.systems.dcunet_tstm.separator import DCUnetTSTMSeparator
    from espnet_cffma.systems.tfgridnet_pl.separator import TFGridNetPLSeparator

    enh.separator_choices.classes["bss_cffma"] = BSSCFFMASeparator
    enh.separator_choices.classes["cnunet_tb"] = CNUNetTBSeparator
    enh.separator_choices.classes["tfgridnet_pl"] = TFGridNetPLSeparator
    enh.separator_choices.classes["dcunet_tstm"] = DCUnetTSTMSeparator
    enh.criterion_choices.classes["log1p_l1"] = Log1pMagnitudeL1Loss
    enh.criterion_choices.classes["log1p_mask_l1"] = Log1pMaskL1Loss
    enh.criterion_choices.classes["compressed_spectral_mse"] = CompressedSpectralMSE
    enh.criterion_choices.classes["latent_mse"] = LatentMSE
    enh.criterion_choices.classes["compressed_spec_si_snr"] = (
        CompressedSpectrumSISNRLoss
    )
    enh.criterion_choices.classes["mia_se"] = MIASELoss
    enh.loss_wrapper_choices.classes["fixed_order_others"] = FixedOrderOthersSolver
    enh.loss_wrapper_choices.classes["latent_distill"] = LatentDistillWrapper
    enh.loss_wrapper_choices.classes["progressive"] = ProgressiveLossWrapper
    PLUGIN_PREPROCESSORS["random_crop_gain"] = RandomCropGainPreprocessor
    enh.preprocessor_choices.classes.update(PLUGIN_PREPROCESSORS)
    _extend_build_preprocess_fn(enh.EnhancementTask)
    _add_model_choices(enh, {"mia_se": MIASEEnhancementModel})
    abs_task.optim_classes["adam_ssl"] = SSLAwareAdam
    abs_task.optim_classes["adamw_ssl"] = SSLAwareAdamW
    _registered = True


def _add_model_choices(enh, models: dict) -> None:
    """Gives the enh task an ``--enh_model`` / ``--enh_model_conf`` choice.

    ESPnet 202511's enh task always builds ``ESPnetEnhancementModel`` (it has
    no ``model_choices``; ``--model_conf`` holds that class's options, so the
    new choice is named ``enh_model``). ``EnhancementTask.build_model`` is
    wrapped: it builds the task's model as usual, then, for another
    ``enh_model``, re-wraps the same (already initialised) encoder, separator,
    decoder and criterions in that class with ``model_conf`` +
    ``enh_model_conf``.

    Training data names: ``speech_ref1`` becomes optional (models such as
    ``mia_se`` with ``training_target: iddp`` train from noisy audio alone);
    the wrapped ``build_model`` still stops ESPnet's default model with a
    clear error when the training data lists no ``speech_ref1``.
    """
    from espnet2.enh.espnet_model import ESPnetEnhancementModel
    from espnet2.train.class_choices import ClassChoices

    task = enh.EnhancementTask
    model_choices = ClassChoices(
        name="enh_model",
        classes={"espnet": ESPnetEnhancementModel, **models},
        type_check=ESPnetEnhancementModel,
        default="espnet",
    )
    enh.model_choices = model_choices
    task.class_choices_list.append(model_choices)
    build_task_model = task.build_model.__func__
    required_names = task.required_data_names.__func__
    optional_names = task.optional_data_names.__func__

    def build_model(cls, args):
        model = build_task_model(cls, args)
        model_class = model_choices.get_class(
            getattr(args, "enh_model", None) or "espnet"
        )
        if model_class is ESPnetEnhancementModel:
            entries = getattr(args, "train_data_path_and_name_and_type", None)
            names = [entry[1] for entry in entries or []]
            if names and "speech_ref1" not in names:
                raise ValueError(
                    "The training data has no speech_ref1 (spk1.scp), which ESPnet's "
                    "default enhancement model needs; to train without clean speech "
                    "use 'enh_model: mia_se' with 'training_target: iddp'"
                )
            return model
        return model_class(
            encoder=model.encoder,
            separator=model.separator,
            decoder=model.decoder,
            mask_module=model.mask_module,
            loss_wrappers=list(model.loss_wrappers or []),
            **{**args.model_conf, **(getattr(args, "enh_model_conf", None) or {})},
        )

    def required_data_names(cls, train=True, inference=False):
        names = required_names(cls, train, inference)
        return tuple(n for n in names if n != "speech_ref1") or ("speech_mix",)

    def optional_data_names(cls, train=True, inference=False):
        names = optional_names(cls, train, inference)
        moved = [n for n in required_names(cls, train, inference) if n == "speech_ref1"]
        return tuple(moved) + tuple(n for n in names if n != "speech_mix" or not moved)

    task.build_model = classmethod(build_model)
    task.required_data_names = classmethod(required_data_names)
    task.optional_data_names = classmethod(optional_data_names)
