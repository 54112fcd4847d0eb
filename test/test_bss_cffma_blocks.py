"""BSS-CFFMA's own blocks on their own: MSCFF, SCTA, RHMA.

Each must give ``[B, T, C]`` for ``[B, T, C_in]`` at any batch size (the
authors' demo breaks at batch size 1) and must not let padded frames change
the valid ones.
"""

import pytest
import torch

from espnet_cffma.layers.padding import valid_frames
from espnet_cffma.systems.bss_cffma.mscff import MSCFF
from espnet_cffma.systems.bss_cffma.rhma import RHMA
from espnet_cffma.systems.bss_cffma.scta import SCTA


def _mscff():
    return MSCFF(spec_dim=9, ssl_dim=6, fusion_dim=12, hidden_dim=8)


def _scta():
    return SCTA(channels=8, reduction=2, time_kernel_sizes=(5, 3))


def _rhma():
    return RHMA(input_dim=12, dim=8, num_blocks=2, num_heads=2, ffn_dim=16)


def _solo_and_padded(block, inputs, valid, total):
    """Outputs of ``block`` on an utterance alone and padded with noise."""
    padded = [
        torch.cat([x, 30 * torch.randn(1, total - valid, x.size(-1))], dim=1)
        for x in inputs
    ]
    solo = block(*inputs, valid_frames(torch.tensor([valid]), valid))
    out = block(*padded, valid_frames(torch.tensor([valid]), total))
    return solo, out


@pytest.mark.parametrize(
    "make, dims, out_dim",
    [(_mscff, (9, 6), 12), (_scta, (8,), 8), (_rhma, (12,), 8)],
    ids=["mscff", "scta", "rhma"],
)
def test_block_shapes_and_padding_invariance(make, dims, out_dim):
    torch.manual_seed(0)
    block = make().eval()
    inputs = [torch.randn(1, 10, d) for d in dims]
    solo, out = _solo_and_padded(block, inputs, valid=10, total=16)
    assert solo.shape == (1, 10, out_dim)
    assert out.shape == (1, 16, out_dim)
    assert torch.allclose(out[:, :10], solo, atol=1e-5)


@pytest.mark.parametrize(
    "make, dims", [(_mscff, (9, 6)), (_scta, (8,)), (_rhma, (12,))]
)
def test_blocks_run_on_a_batch_of_one_and_train(make, dims):
    torch.manual_seed(1)
    block = make().train()
    inputs = [torch.randn(1, 1, d, requires_grad=True) for d in dims]
    out = block(*inputs, valid_frames(torch.tensor([1]), 1))
    out.square().sum().backward()
    assert all(x.grad is not None and torch.isfinite(x.grad).all() for x in inputs)


def test_mscff_gates_react_to_each_stream():
    torch.manual_seed(2)
    block = _mscff().eval()
    spec, ssl = torch.randn(1, 6, 9), torch.randn(1, 6, 6)
    mask = valid_frames(torch.tensor([6]), 6)
    base = block(spec, ssl, mask)
    assert not torch.allclose(block(spec, torch.zeros_like(ssl), mask), base)
    assert not torch.allclose(block(torch.zeros_like(spec), ssl, mask), base)


def test_scta_weights_stay_between_zero_and_one():
    torch.manual_seed(3)
    x = torch.rand(2, 7, 8) + 0.1
    out = _scta()(x, valid_frames(torch.tensor([7, 5]), 7))
    ratio = out / x
    assert (ratio > 0).all() and (ratio < 1).all()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: MSCFF(9, 6, gate_kernel_sizes=(3, 5)), "three gate kernel sizes"),
        (lambda: SCTA(8, reduction=3), "must divide"),
        (lambda: SCTA(8, time_kernel_sizes=(5,)), "two time kernel sizes"),
        (lambda: RHMA(12, dim=10, num_heads=4), "divisible by num_heads"),
        (lambda: RHMA(12, num_blocks=0), "num_blocks"),
    ],
)
def test_block_config_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()
