"""Bad separator configurations fail early with messages that say what to fix."""

import pytest
import torch
from espnet2.torch_utils.initialize import initialize

from espnet_cffma.systems.bss_cffma.separator import BSSCFFMASeparator


def build(ssl_checkpoints, tiny_separator_conf, **overrides):
    conf = dict(
        ssl_upstream="wavlm_local",
        ssl_path_or_url=str(ssl_checkpoints["wavlm", "layer_norm"]),
        **tiny_separator_conf,
    )
    conf.update(overrides)
    return BSSCFFMASeparator(**conf)


@pytest.mark.parametrize(
    "overrides, error, message",
    [
        (
            {"ssl_upstream": "wavlm_lrage"},
            ValueError,
            "Unknown S3PRL upstream 'wavlm_lrage'.*wavlm_large",
        ),
        (
            {"ssl_path_or_url": "/nonexistent/WavLM-Large.pt"},
            FileNotFoundError,
            "SSL checkpoint not found: '/nonexistent/WavLM-Large.pt'",
        ),
        ({"ssl_path_or_url": None}, ValueError, "set ssl_path_or_url"),
        (
            {"num_heads": 3},
            ValueError,
            "attention_dim 32 must be divisible by num_heads 3",
        ),
        (
            {"ssl_layers": [0, 7]},
            ValueError,
            r"ssl_layers \[0, 7\] do not fit.*3 hidden states",
        ),
        ({"gate_kernel_sizes": [3, 4, 7]}, ValueError, "kernel sizes must be odd"),
        ({"gate_kernel_sizes": [3, 5]}, ValueError, "three gate kernel sizes"),
        (
            {"hop_length": 150, "win_length": 400},
            ValueError,
            "hop_length 150 must divide the SSL frame stride 320",
        ),
        (
            {"scta_reduction": 5},
            ValueError,
            "reduction 5 must divide the attention dimension 32",
        ),
        ({"ssl_finetune": "partial"}, ValueError, "ssl_finetune must be one of"),
        ({"window": "kaiser"}, ValueError, "Unknown STFT window 'kaiser'"),
        ({"num_spk": 2}, ValueError, "one speaker"),
    ],
)
def test_bad_config_is_refused_clearly(
    overrides, error, message, ssl_checkpoints, tiny_separator_conf
):
    with pytest.raises(error, match=message):
        build(ssl_checkpoints, tiny_separator_conf, **overrides)


@pytest.mark.parametrize(
    "content", [b"not a checkpoint at all", b"PK\x03\x04truncated zip"]
)
def test_corrupt_checkpoint_names_the_file(
    content, tmp_path, ssl_checkpoints, tiny_separator_conf
):
    bad = tmp_path / "corrupt.pt"
    bad.write_bytes(content)
    with pytest.raises(
        RuntimeError, match=f"from '{bad}': the file is corrupt, truncated"
    ):
        build(ssl_checkpoints, tiny_separator_conf, ssl_path_or_url=str(bad))


def test_wrong_model_type_for_the_checkpoint(ssl_checkpoints, tiny_separator_conf):
    # A wav2vec2 file given to the WavLM loader.
    with pytest.raises(
        RuntimeError,
        match="readable checkpoint but not .* model type 'wavlm_local'",
    ):
        build(
            ssl_checkpoints,
            tiny_separator_conf,
            ssl_path_or_url=str(ssl_checkpoints["wav2vec2", "layer_norm"]),
        )


@pytest.mark.parametrize("init", ["xavier_uniform", "kaiming_normal"])
def test_pretrained_ssl_weights_survive_espnet_init(
    init, ssl_checkpoints, tiny_separator_conf
):
    model = build(ssl_checkpoints, tiny_separator_conf)
    pretrained = {k: v.clone() for k, v in model.ssl.upstream.state_dict().items()}
    fusion_before = model.mscff.shared.weight.clone()
    initialize(model, init)  # what ESPnet's `init:` option runs
    for name, value in model.ssl.upstream.state_dict().items():
        torch.testing.assert_close(value, pretrained[name], msg=name)
    assert not torch.equal(model.mscff.shared.weight, fusion_before)
