"""The recipes' training configs (conf/tuning/*.yaml) build with ESPnet."""

import importlib.util
import os

import pytest
import yaml
from recipe_checks import REPO

VOICEBANK = REPO / "egs2" / "voicebank"
BENCHMARK = REPO / "tools" / "benchmarks" / "train_step_time.py"
# The large demo corpus's CPU configs, one or a pair per system (an hour each).
DEMO_LARGE = sorted((VOICEBANK / "conf" / "tuning").glob("*demo_large*.yaml"))


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


def _benchmark():
    """tools/benchmarks/train_step_time.py, which builds configs as enh_train does."""
    spec = importlib.util.spec_from_file_location("train_step_time", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("config", DEMO_LARGE, ids=lambda p: p.stem)
def test_demo_large_configs_train_one_step(config, tmp_path):
    """Every large-demo config builds through EnhancementTask (its external
    files stood in as the recipe makes them: random-weight demo WavLM, a
    stage-1 teacher folder, a noise pool) and makes one training update."""
    import torch

    bench = _benchmark()
    torch.manual_seed(0)
    raw, args, model, optimizer = bench.build(config, tmp_path)
    assert args.max_epoch == raw["max_epoch"]
    before = [p.detach().clone() for p in model.parameters() if p.requires_grad]
    batch = bench.example_batch(raw, 2, 8000, torch.Generator().manual_seed(0))
    loss = bench.train_step(model, optimizer, batch, raw.get("grad_clip"))
    assert torch.isfinite(torch.tensor(loss))
    after = [p for p in model.parameters() if p.requires_grad]
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
    # the header says how to run it and where its time estimate comes from
    header = config.read_text().split("\n\n")[0]
    assert "demo_size large" in header and "train_step_time.py" in header


@pytest.mark.parametrize(
    "config",
    [p for p in DEMO_LARGE if p.stem != "train_demo_large"],
    ids=lambda p: p.stem,
)
def test_demo_large_configs_keep_the_demo_architecture(config):
    """A large-demo config is its demo config with a longer budget."""
    demo = config.with_name(config.name.replace("_demo_large", "_demo"))
    large, small = (yaml.safe_load(p.read_text()) for p in (config, demo))
    budget = ("max_epoch", "num_iters_per_epoch")
    assert {k: v for k, v in large.items() if k not in budget} == {
        k: v for k, v in small.items() if k not in budget
    }


def test_train_step_time_estimates_updates_per_epoch():
    """The benchmark's epoch sizes: chunks of W samples, unsorted batches."""
    import numpy as np

    bench = _benchmark()
    lengths = bench.large_corpus_lengths()
    assert len(lengths) == 2314 and 2.9 < lengths.mean() / 16000 < 3.1
    sequence = {"batch_size": 8, "batch_type": "unsorted", "iterator_type": "sequence"}
    assert bench.updates_per_epoch(sequence, lengths) == 289  # as the real run
    chunk = {"batch_size": 4, "iterator_type": "chunk", "chunk_length": 10,
             "chunk_shift_ratio": 1.0}  # fmt: skip
    # 25 samples: 2 chunks, 10: 1 (not longer than W: whole), 31: 3
    assert bench.updates_per_epoch(chunk, np.array([25, 10, 31, 25])) == 2
    # num_iters_per_epoch counts utterances with the chunk iterator
    half = {**chunk, "num_iters_per_epoch": 2}
    assert bench.updates_per_epoch(half, np.array([25, 10, 31, 25])) == 1
