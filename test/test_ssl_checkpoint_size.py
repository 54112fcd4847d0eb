"""Checkpoints leave out frozen SSL weights and rebuild them from ssl_path_or_url."""

import pytest
import torch

from espnet_cffma.ssl.checkpoints import build_random_checkpoint
from espnet_cffma.systems.bss_cffma.separator import BSSCFFMASeparator


def build(ckpt, finetune, conf, seed=0):
    torch.manual_seed(seed)
    return BSSCFFMASeparator(
        ssl_upstream="wavlm_local",
        ssl_path_or_url=str(ckpt),
        ssl_finetune=finetune,
        **conf,
    )


@pytest.mark.parametrize("finetune", ["frozen", "pf", "ef"])
def test_frozen_upstream_weights_are_not_saved(
    tmp_path, ssl_checkpoints, tiny_separator_conf, finetune
):
    ckpt = ssl_checkpoints["wavlm", "layer_norm"]
    model = build(ckpt, finetune, tiny_separator_conf)
    # Pretend training: every trainable weight moves.
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.01)
    state = model.state_dict()
    upstream = {k for k in state if k.startswith("ssl.upstream.")}
    trainable = {
        f"ssl.upstream.{n}"
        for n, p in model.ssl.upstream.named_parameters()
        if p.requires_grad
    }
    frozen = {
        f"ssl.upstream.{n}"
        for n, p in model.ssl.upstream.named_parameters()
        if not p.requires_grad
    }
    assert trainable <= upstream, "fine-tuned upstream weights must be saved"
    assert not frozen & upstream, "frozen upstream weights must not be saved"
    if finetune == "frozen":
        assert not trainable
    torch.save(state, tmp_path / "model.pth")

    fresh = build(ckpt, finetune, tiny_separator_conf, seed=1)
    fresh.load_state_dict(torch.load(tmp_path / "model.pth"), strict=True)
    model.eval(), fresh.eval()
    wav = 0.1 * torch.randn(1, 4000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(wav, torch.tensor([4000]))[0][0]
        got = fresh(wav, torch.tensor([4000]))[0][0]
    torch.testing.assert_close(got, expected)


def test_other_ssl_weights_are_refused(tmp_path, ssl_checkpoints, tiny_separator_conf):
    model = build(ssl_checkpoints["wavlm", "layer_norm"], "pf", tiny_separator_conf)
    other = build_random_checkpoint("wavlm", tmp_path / "other.pt", seed=7)
    fresh = build(other, "pf", tiny_separator_conf)
    with pytest.raises(ValueError, match="other SSL weights.*other.pt"):
        fresh.load_state_dict(model.state_dict())


def test_checkpoint_with_the_whole_upstream_still_loads(
    ssl_checkpoints, tiny_separator_conf
):
    model = build(ssl_checkpoints["wavlm", "layer_norm"], "frozen", tiny_separator_conf)
    full = {k: v for k, v in model.state_dict(keep_vars=False).items()}
    full.pop("ssl.ssl_fingerprint")
    full.update(
        {f"ssl.upstream.{k}": v for k, v in model.ssl.upstream.state_dict().items()}
    )
    fresh = build(ssl_checkpoints["wavlm", "layer_norm"], "frozen", tiny_separator_conf)
    fresh.load_state_dict(full, strict=True)
    assert torch.equal(fresh.mask_head.weight, model.mask_head.weight)


def test_missing_ssl_file_is_named(tmp_path, tiny_separator_conf):
    with pytest.raises(FileNotFoundError, match="gone.pt"):
        build(tmp_path / "gone.pt", "frozen", tiny_separator_conf)
