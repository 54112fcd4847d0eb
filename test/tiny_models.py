"""Tiny untrained experiment directories for the tests of cffma-enhance.

Each is what ESPnet training leaves behind (``exp/<tag>/config.yaml`` and
``valid.loss.best.pth``) with random weights, so every loading path (exp dir,
archive, ESPnet's own inference) can be exercised without a corpus or a GPU.
Their "enhancement" is meaningless.

* ``local``: ESPnet's STFT encoder/decoder and a small non-causal TCN with
  channel-wise layer norm: its output depends only on a few hundred samples
  around each point (used to test that chunked and whole-file outputs agree).
* ``bss_cffma``: the plugin's separator at toy size on a random two-layer
  WavLM checkpoint.
* ``cnunet_tb``: the causal CNUNet-TB without SSL (a stage-2 model) at toy
  size, which ``cffma-enhance --streaming`` runs hop by hop.
"""

import os
from pathlib import Path

import torch
import yaml

KINDS = ("local", "bss_cffma", "cnunet_tb")


def tiny_config(kind: str, ssl_checkpoint: str | None = None) -> dict:
    """An ESPnet enhancement training config for a tiny model.

    Args:
        kind: one of :data:`KINDS`.
        ssl_checkpoint: SSL checkpoint path for ``bss_cffma``.
    """
    if kind == "local":
        stft = {"n_fft": 256, "hop_length": 64}
        return {
            "encoder": "stft",
            "encoder_conf": stft,
            "separator": "tcn",
            "separator_conf": {
                "num_spk": 1,
                "layer": 2,
                "stack": 1,
                "bottleneck_dim": 16,
                "hidden_dim": 32,
                "kernel": 3,
                "causal": False,
                "norm_type": "cLN",
                "nonlinear": "sigmoid",
            },
            "decoder": "stft",
            "decoder_conf": stft,
            "criterions": [
                {
                    "name": "si_snr",
                    "conf": {},
                    "wrapper": "fixed_order",
                    "wrapper_conf": {"weight": 1.0},
                }
            ],
            "model_conf": {},
            "init": None,
        }
    if kind == "bss_cffma":
        if ssl_checkpoint is None:
            raise ValueError("bss_cffma needs an SSL checkpoint")
        return {
            "encoder": "same",
            "encoder_conf": {},
            "separator": "bss_cffma",
            "separator_conf": {
                "ssl_upstream": "wavlm_local",
                "ssl_path_or_url": str(ssl_checkpoint),
                "num_blocks": 1,
                "attention_dim": 32,
                "num_heads": 2,
                "ffn_dim": 64,
                "fusion_dim": 48,
                "fusion_hidden_dim": 24,
                "dropout": 0.0,
            },
            "decoder": "same",
            "decoder_conf": {},
            "criterions": [
                {
                    "name": "log1p_l1",
                    "conf": {},
                    "wrapper": "fixed_order",
                    "wrapper_conf": {"weight": 1.0},
                }
            ],
            "model_conf": {},
            "init": None,
        }
    if kind == "cnunet_tb":
        return {
            "encoder": "same",
            "encoder_conf": {},
            "separator": "cnunet_tb",
            "separator_conf": {
                "n_fft": 64,
                "win_length": 64,
                "hop_length": 32,
                "channels": 4,
                "mid_channels": 4,
                "encoder_depths": [2, 2],
                "inner_dense_layers": 2,
                "bottleneck_layers": 2,
                "ctfa_kernel": 3,
                "ctfa_window": 4,
            },
            "decoder": "same",
            "decoder_conf": {},
            "criterions": [
                {
                    "name": "compressed_spectral_mse",
                    "conf": {"n_fft": 64, "win_length": 64, "hop_length": 32},
                    "wrapper": "fixed_order",
                    "wrapper_conf": {"weight": 1.0},
                }
            ],
            "model_conf": {},
            "init": None,
        }
    raise ValueError(f"Unknown tiny model kind '{kind}': choose from {KINDS}")


def write_tiny_experiment(
    exp_dir: str | os.PathLike,
    kind: str = "local",
    ssl_checkpoint: str | os.PathLike | None = None,
    seed: int = 0,
) -> Path:
    """Writes ``config.yaml`` and a random ``valid.loss.best.pth`` into ``exp_dir``.

    Args:
        exp_dir: the experiment directory (created).
        kind: see :data:`KINDS`.
        ssl_checkpoint: for ``bss_cffma``; default: a random WavLM checkpoint
            written to ``exp_dir/ssl/wavlm_tiny.pt``.
        seed: torch seed for the weights.

    Returns:
        ``exp_dir``.
    """
    from espnet2.tasks.enh import EnhancementTask

    from espnet_cffma.enhance.runner import build_espnet_model
    from espnet_cffma.fileio import atomic_path

    exp_dir = Path(exp_dir)
    exp_dir.mkdir(parents=True, exist_ok=True)
    if kind == "bss_cffma" and ssl_checkpoint is None:
        from espnet_cffma.ssl.checkpoints import build_random_checkpoint

        ssl_checkpoint = build_random_checkpoint(
            "wavlm", exp_dir / "ssl" / "wavlm_tiny.pt"
        )
    config = tiny_config(kind, str(ssl_checkpoint) if ssl_checkpoint else None)
    # Fill in ESPnet's remaining defaults, as a training run's config.yaml has.
    defaults = vars(EnhancementTask.get_parser().parse_args([]))
    config = {**defaults, **config}
    with (exp_dir / "config.yaml").open("w", encoding="utf-8") as f:
        yaml.safe_dump(config, f, sort_keys=False)
    torch.manual_seed(seed)
    model = build_espnet_model(config, exp_dir / "config.yaml")
    with atomic_path(exp_dir / "valid.loss.best.pth") as tmp:
        torch.save(model.state_dict(), tmp)
    return exp_dir
