"""The recipes' training configs (conf/tuning/*.yaml) build with ESPnet."""

import os

import pytest
import yaml
from recipe_checks import REPO

VOICEBANK = REPO / "egs2" / "voicebank"


@pytest.mark.parametrize(
    "config",
    # The other systems' configs are built by their own tests
    # (test_tfgridnet_pl.py, test_mia_se.py, test_cnunet_tb.py).
    sorted(
        p
        for p in (VOICEBANK / "conf" / "tuning").glob("*.yaml")
        if "bss_cffma" in p.stem or p.stem == "train_demo"
    ),
    ids=lambda p: p.stem,
)
def test_recipe_configs_build(config, ssl_checkpoints):
    """Every config parses with ESPnet and builds (SSL swapped for a tiny local one)."""
    from espnet2.tasks.enh import EnhancementTask

    from espnet_cffma.registry import register_espnet_classes

    register_espnet_classes()
    raw = yaml.safe_load(config.read_text())
    assert raw["init"] == "xavier_normal" and raw["separator"] == "bss_cffma"
    assert raw["criterions"][0]["name"] == "log1p_mask_l1"
    assert raw["criterions"][0]["wrapper"] == "fixed_order_others"
    # One random 1.28 s crop per utterance per epoch, random gain U(1, 2.5).
    assert raw["iterator_type"] == "sequence"
    assert raw["preprocessor"] == "random_crop_gain"
    assert raw["preprocessor_conf"] == {"crop_length": 20480, "gain_range": [1, 2.5]}
    if config.stem != "train_demo":
        assert raw["batch_size"] == 16 and raw["optim_conf"]["lr"] == 1e-4
        # BSSE-SE's 100 epochs of ceil(11572 / 16) updates.
        assert raw["max_epoch"] * raw["num_iters_per_epoch"] == 100 * 724
    ckpt = ssl_checkpoints[("wavlm", "layer_norm")]
    parser = EnhancementTask.get_parser()
    args = parser.parse_args(
        ["--config", str(config), "--output_dir", "unused",
         "--separator_conf", "ssl_upstream=wavlm_local",
         "--separator_conf", f"ssl_path_or_url={ckpt}"]
    )  # fmt: skip
    model = EnhancementTask.build_model(args)
    assert type(model.separator).__name__ == "BSSCFFMASeparator"
    assert model.separator.ssl.finetune == raw["separator_conf"]["ssl_finetune"]
    optim = EnhancementTask.build_optimizers(args, model)[0]
    assert optim.param_groups[0]["lr"] == raw["optim_conf"]["lr"]
    preprocess = EnhancementTask.build_preprocess_fn(args, train=True)
    assert type(preprocess).__name__ == "RandomCropGainPreprocessor"


def test_default_config_is_wavlm_large_pf():
    link = VOICEBANK / "conf" / "train.yaml"
    assert link.is_symlink()
    assert os.readlink(link) == "tuning/train_bss_cffma_wavlm_large_pf.yaml"
