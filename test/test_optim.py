"""adam_ssl gives the SSL upstream its own learning rate, and ESPnet knows it."""

import torch

from espnet_cffma.optim import SSLAwareAdam, SSLAwareAdamW
from espnet_cffma.systems.bss_cffma.separator import BSSCFFMASeparator


def test_ssl_upstream_gets_its_own_learning_rate(ssl_checkpoints, tiny_separator_conf):
    model = BSSCFFMASeparator(
        ssl_upstream="wavlm_local",
        ssl_path_or_url=str(ssl_checkpoints["wavlm", "layer_norm"]),
        ssl_finetune="ef",
        **tiny_separator_conf,
    )
    model.to(torch.float64)  # moving the model keeps the flags
    for optim_class in (SSLAwareAdam, SSLAwareAdamW):
        optimizer = optim_class(model.parameters(), lr=1e-4, ssl_lr=1e-5)
        rest, ssl = optimizer.param_groups
        assert (rest["lr"], ssl["lr"]) == (1e-4, 1e-5)
        upstream_ids = {id(p) for p in model.ssl.upstream.parameters()}
        assert {id(p) for p in ssl["params"]} == upstream_ids
        # The layer weights and their LayerNorms learn at the model's rate.
        assert id(model.ssl.layer_weights) in {id(p) for p in rest["params"]}
        assert len(rest["params"]) + len(ssl["params"]) == len(list(model.parameters()))


def test_espnet_accepts_the_optimiser_names():
    from espnet2.tasks.enh import EnhancementTask

    from espnet_cffma.registry import register_espnet_classes

    register_espnet_classes()
    args = EnhancementTask.get_parser().parse_args(
        ["--optim", "adam_ssl", "--optim_conf", "ssl_lr=0.00002", "--output_dir", "x"]
    )
    assert args.optim == "adam_ssl" and args.optim_conf == {"ssl_lr": 2e-5}
