"""Reading model checkpoints safely, with errors that name the file.

``torch.load(..., weights_only=True)`` only unpickles tensors and plain
containers, so a checkpoint cannot run code when it is opened. ESPnet itself
loads with ``weights_only=False`` and ``strict=False``; here a checkpoint that
does not match the model's parameters is an error, not a silent partial load.
"""

import pickle
import zipfile
from pathlib import Path

import torch

from espnet_cffma.enhance.errors import ModelLoadError
from espnet_cffma.fileio import first_line


def read_state_dict(
    path: str | Path, allow_pickle: bool = False
) -> dict[str, torch.Tensor]:
    """Loads a model ``state_dict`` on the CPU.

    Accepts a plain ``state_dict`` (``valid.loss.best.pth``, ``N epoch.pth``) and
    ESPnet's full training ``checkpoint.pth`` (its ``"model"`` entry).

    Args:
        path: the ``.pth`` file.
        allow_pickle: unpickle arbitrary objects (``weights_only=False``); only for
            checkpoints from a trusted source.

    Returns:
        Parameter name -> tensor.

    Raises:
        ModelLoadError: missing, truncated, corrupt or unexpected content.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"Model checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"Model checkpoint is empty (0 bytes): {path}")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not allow_pickle)
    except pickle.UnpicklingError as e:
        if "weights_only" in str(e) or "Weights only" in str(e):
            raise ModelLoadError(
                f"Model checkpoint {path} holds Python objects besides tensors; "
                "it was not unpickled for safety. Pass --allow_pickle if you trust "
                "its source."
            ) from None
        raise ModelLoadError(
            f"Model checkpoint {path} is corrupt or truncated ({first_line(e)})"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
        raise ModelLoadError(
            f"Model checkpoint {path} is corrupt or truncated ({first_line(e)})"
        ) from None
    if isinstance(obj, dict) and isinstance(obj.get("model"), dict):
        obj = obj["model"]  # ESPnet's checkpoint.pth keeps the weights there
    if isinstance(obj, dict) and isinstance(obj.get("module"), dict):
        obj = obj["module"]  # DeepSpeed layout, which ESPnet also accepts
    if not isinstance(obj, dict) or not all(
        isinstance(v, torch.Tensor) for v in obj.values()
    ):
        raise ModelLoadError(
            f"Model checkpoint {path} is not a state_dict (name -> tensor); "
            f"found {type(obj).__name__}"
        )
    return obj


def load_into(
    model: torch.nn.Module, state_dict: dict[str, torch.Tensor], path: str | Path
) -> None:
    """Copies ``state_dict`` into ``model``, requiring an exact key match.

    Raises:
        ModelLoadError: keys missing or unexpected, or shapes differ (the message
            lists a few of each so a wrong config/checkpoint pair is obvious), or
            the model refuses the weights (e.g. other SSL weights than the
            checkpoint was trained with).
    """
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    mismatched = sorted(
        k for k in set(own) & set(state_dict) if own[k].shape != state_dict[k].shape
    )
    if missing or unexpected or mismatched:
        parts = []
        for label, keys in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch", mismatched),
        ):
            if keys:
                shown = ", ".join(keys[:5]) + (" ..." if len(keys) > 5 else "")
                parts.append(f"{len(keys)} {label} ({shown})")
        raise ModelLoadError(
            f"Model checkpoint {path} does not match the model built from the "
            f"config: {'; '.join(parts)}"
        )
    try:
        model.load_state_dict(state_dict, strict=True)
    except (ValueError, RuntimeError) as e:
        # e.g. the SSL front's check that the frozen upstream it rebuilt from
        # ssl_path_or_url is the one the checkpoint was trained with
        raise ModelLoadError(f"Model checkpoint {path}: {e}") from None
