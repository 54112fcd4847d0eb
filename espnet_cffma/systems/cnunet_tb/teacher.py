"""Loads a trained stage-1 CNUNet-TB separator as the frozen stage-2 teacher."""

from pathlib import Path

import torch


def load_stage1_separator(
    config_file: str, model_file: str, student: torch.nn.Module
) -> torch.nn.Module:
    """Builds the stage-1 model from its experiment files; returns its separator.

    The separator is put in eval mode with gradients off; the caller keeps it
    outside its own module tree (so it is neither trained nor saved).

    Args:
        config_file: the stage-1 experiment's ``config.yaml``.
        model_file: its checkpoint (e.g. ``valid.loss.best.pth``).
        student: the stage-2 separator (for the error messages).

    Raises:
        FileNotFoundError: naming the missing file.
        ValueError: if the stage-1 model is not a ``cnunet_tb`` with SSL.
    """
    for option, path in (
        ("teacher_config", config_file),
        ("teacher_model_file", model_file),
    ):
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"cnunet_tb stage 2: {option} '{path}' does not exist (train "
                "stage 1 first, or point it at the stage-1 experiment's files)"
            )
    import yaml

    # Built from its own config, not through ESPnet's task: the separator
    # class is the student's, and only the separator's weights are needed.
    config = yaml.safe_load(Path(config_file).read_text(encoding="utf-8"))
    if config.get("separator") != "cnunet_tb":
        raise ValueError(
            f"cnunet_tb stage 2: {config_file} is not a stage-1 cnunet_tb model "
            f"(its separator is {config.get('separator')!r})"
        )
    teacher = type(student)(**(config.get("separator_conf") or {}))
    state = torch.load(model_file, map_location="cpu", weights_only=True)
    prefix = "separator."
    teacher.load_state_dict(
        {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    )
    if type(teacher) is not type(student) or teacher.ssl is None:
        raise ValueError(
            f"cnunet_tb stage 2: {config_file} is not a stage-1 cnunet_tb model "
            "with an SSL upstream"
        )
    teacher.eval()
    teacher.requires_grad_(False)
    return teacher
