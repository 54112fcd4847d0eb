"""Builds S3PRL upstreams with errors that say what to fix."""

import difflib
from pathlib import Path

import torch

from espnet_cffma.fileio import first_line
from espnet_cffma.ssl.compat import import_s3prl_upstream


def load_s3prl_upstream(name: str, path_or_url: str | None, extra_conf: dict):
    """Builds ``s3prl.nn.S3PRLUpstream`` with errors that say what to fix."""
    upstream_cls = import_s3prl_upstream()
    available = upstream_cls.available_names()
    if name not in available:
        close = difflib.get_close_matches(name, available, n=5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise ValueError(
            f"Unknown S3PRL upstream '{name}'.{hint} For a local checkpoint use "
            "'wavlm_local', 'wav2vec2_local' or 'hubert_local' with ssl_path_or_url."
        )
    if name.endswith("_local"):
        if not path_or_url:
            raise ValueError(
                f"S3PRL upstream '{name}' loads a local checkpoint: set "
                "ssl_path_or_url to its file"
            )
        if not Path(path_or_url).is_file():
            raise FileNotFoundError(
                f"SSL checkpoint not found: '{path_or_url}' (upstream '{name}')"
            )
    try:
        return upstream_cls(name, path_or_url=path_or_url, extra_conf=extra_conf)
    except Exception as e:
        if path_or_url and Path(path_or_url).is_file():
            problem = _checkpoint_problem(Path(path_or_url), name)
        elif path_or_url:
            problem = f"{type(e).__name__}: {first_line(e)}"
        else:
            problem = (
                f"{type(e).__name__}: {first_line(e)}. Hub presets are downloaded "
                "the first time; without internet access, download the checkpoint "
                "elsewhere and use a '*_local' upstream with ssl_path_or_url"
            )
        where = f" from '{path_or_url}'" if path_or_url else ""
        raise RuntimeError(
            f"Could not load S3PRL upstream '{name}'{where}: {problem}"
        ) from e


def _checkpoint_problem(path: Path, name: str) -> str:
    """Says why a local checkpoint failed: unreadable, or not this model type."""
    try:
        torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        return (
            "the file is corrupt, truncated or not a PyTorch checkpoint "
            f"({type(e).__name__}: {first_line(e)[:200]})"
        )
    return (
        f"the file is a readable checkpoint but not a checkpoint of the model type "
        f"'{name}' expects (WavLM: keys 'cfg', 'model'; wav2vec2: 'task_cfg', "
        "'model_cfg', 'model_weight'; HuBERT: also 'dictionaries_symbols')"
    )
