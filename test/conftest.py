"""Shared fixtures: small random-weight SSL checkpoints built once per session."""

import pytest

from espnet_cffma.ssl.checkpoints import KINDS, build_random_checkpoint


@pytest.fixture(scope="session")
def ssl_checkpoints(tmp_path_factory):
    """``{(kind, extractor_mode): path}`` for every kind and both CNN modes."""
    root = tmp_path_factory.mktemp("ssl_checkpoints")
    return {
        (kind, mode): build_random_checkpoint(
            kind, root / f"{kind}_{mode}.pt", extractor_mode=mode
        )
        for kind in KINDS
        for mode in ("layer_norm", "default")
    }


TINY_SEPARATOR = dict(
    attention_dim=32,
    num_heads=2,
    ffn_dim=64,
    fusion_dim=48,
    fusion_hidden_dim=24,
    num_blocks=1,
)


@pytest.fixture
def tiny_separator_conf():
    """Small sizes for every ``bss_cffma`` dimension (CPU tests)."""
    return dict(TINY_SEPARATOR)
