"""Small random-weight SSL checkpoints in the formats S3PRL's loaders read.

Real WavLM / wav2vec 2.0 / HuBERT weights cannot be downloaded everywhere (CI,
offline machines). These checkpoints have the real architectures at toy size
(few layers, narrow, CNN strides multiplying to 320 like the real models) and
go through exactly the loading code a real checkpoint does:
``S3PRLUpstream("wavlm_local" | "wav2vec2_local" | "hubert_local", path)``.
Their features are meaningless: use them for tests and demos only.

Command line::

    python -m espnet_cffma.ssl.checkpoints wavlm exp/ssl/wavlm_tiny.pt
"""

import argparse
import os
import tempfile
from pathlib import Path

import torch

from espnet_cffma.ssl.compat import patch_torchaudio_for_s3prl

KINDS = ("wavlm", "wav2vec2", "hubert")
UPSTREAM_NAMES = {kind: f"{kind}_local" for kind in KINDS}


def _conv_layers(channels: int) -> str:
    # Strides 5 * 2**6 = 320 samples (20 ms at 16 kHz), kernels as in the real models.
    return (
        f"[({channels}, 10, 5)] + [({channels}, 3, 2)] * 4 + [({channels}, 2, 2)] * 2"
    )


def _common_config(
    num_layers: int,
    dim: int,
    heads: int,
    extractor_mode: str,
    conv_dim: int,
    ffn_dim: int,
) -> dict:
    return {
        "extractor_mode": extractor_mode,
        "encoder_layers": num_layers,
        "encoder_embed_dim": dim,
        "encoder_ffn_embed_dim": ffn_dim,
        "encoder_attention_heads": heads,
        "conv_feature_layers": _conv_layers(conv_dim),
        "conv_pos": 16 if dim <= 128 else 128,
        "conv_pos_groups": 4 if dim <= 128 else 16,
        "layer_norm_first": extractor_mode == "layer_norm",
        "encoder_layerdrop": 0.0,
    }


def _wavlm(config: dict, normalize: bool) -> dict:
    from s3prl.upstream.wavlm.WavLM import WavLM, WavLMConfig

    cfg = {
        **config,
        "normalize": normalize,
        "relative_position_embedding": True,
        "num_buckets": 32,
        "max_distance": 128,
        "gru_rel_pos": True,
    }
    return {"cfg": cfg, "model": WavLM(WavLMConfig(cfg)).state_dict()}


def _wav2vec2(config: dict, normalize: bool) -> dict:
    from s3prl.upstream.utils import merge_with_parent
    from s3prl.upstream.wav2vec2.wav2vec2_model import Wav2Vec2Config, Wav2Vec2Model

    model_cfg = {**config, "final_dim": config["encoder_embed_dim"]}
    task_cfg = {"sample_rate": 16000, "normalize": normalize}
    model = Wav2Vec2Model(merge_with_parent(Wav2Vec2Config, model_cfg))
    return {
        "task_cfg": task_cfg,
        "model_cfg": model_cfg,
        "model_weight": model.state_dict(),
    }


def _hubert(config: dict, normalize: bool) -> dict:
    from s3prl.upstream.hubert.hubert_model import (
        HubertConfig,
        HubertModel,
        HubertPretrainingConfig,
    )
    from s3prl.upstream.utils import merge_with_parent

    model_cfg = {**config, "label_rate": 50.0, "final_dim": config["encoder_embed_dim"]}
    task_cfg = {"sample_rate": 16000, "normalize": normalize, "label_rate": 50.0}
    symbols = [[str(i) for i in range(8)]]
    model = HubertModel(
        merge_with_parent(HubertConfig, model_cfg),
        merge_with_parent(HubertPretrainingConfig, task_cfg),
        symbols,
    )
    return {
        "task_cfg": task_cfg,
        "model_cfg": model_cfg,
        "model_weight": model.state_dict(),
        "dictionaries_symbols": symbols,
    }


_BUILDERS = {"wavlm": _wavlm, "wav2vec2": _wav2vec2, "hubert": _hubert}


def build_random_checkpoint(
    kind: str,
    path: str | os.PathLike,
    num_layers: int = 2,
    dim: int = 64,
    heads: int = 2,
    extractor_mode: str = "layer_norm",
    seed: int = 0,
    conv_dim: int | None = None,
    ffn_dim: int | None = None,
) -> Path:
    """Writes a random-weight checkpoint that ``S3PRLUpstream`` can load.

    Args:
        kind: ``wavlm``, ``wav2vec2`` or ``hubert``.
        path: output file (written atomically; parent folders are created).
        num_layers: transformer layers (the upstream has ``num_layers + 1``
            hidden states).
        dim: model width (CNN channels and transformer size).
        heads: attention heads (must divide ``dim``).
        extractor_mode: ``layer_norm`` (per-frame norms, as Large models) or
            ``default`` (a GroupNorm over time, as Base models).
        seed: torch seed for the random weights.
        conv_dim: CNN channels (default ``dim``; real models use 512).
        ffn_dim: transformer feed-forward size (default ``2 * dim``; real
            models use ``4 * dim``).

    Returns:
        The checkpoint path. Load it with upstream name ``f"{kind}_local"``.
    """
    if kind not in _BUILDERS:
        raise ValueError(f"Unknown SSL checkpoint kind '{kind}': choose from {KINDS}")
    if extractor_mode not in ("layer_norm", "default"):
        raise ValueError(
            f"extractor_mode must be 'layer_norm' or 'default', got '{extractor_mode}'"
        )
    patch_torchaudio_for_s3prl()
    torch.manual_seed(seed)
    config = _common_config(
        num_layers, dim, heads, extractor_mode, conv_dim or dim, ffn_dim or 2 * dim
    )
    checkpoint = _BUILDERS[kind](config, normalize=extractor_mode == "layer_norm")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
        torch.save(checkpoint, f)
    os.replace(f.name, path)
    return path


def main(argv=None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("path")
    parser.add_argument("--num_layers", type=int, default=2)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--heads", type=int, default=2)
    parser.add_argument(
        "--extractor_mode", choices=("layer_norm", "default"), default="layer_norm"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    path = build_random_checkpoint(
        args.kind,
        args.path,
        args.num_layers,
        args.dim,
        args.heads,
        args.extractor_mode,
        args.seed,
    )
    print(
        f"Wrote a random-weight {args.kind} checkpoint (upstream "
        f"'{UPSTREAM_NAMES[args.kind]}'): {path}"
    )


if __name__ == "__main__":
    main()
