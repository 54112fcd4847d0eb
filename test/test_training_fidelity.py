"""The paper's training: log1p-mask L1 loss, random crop and gain, init."""

import argparse

import numpy as np
import pytest
import torch
from espnet2.torch_utils.initialize import initialize

from espnet_cffma.losses.log1p_mask_l1 import Log1pMaskL1Loss
from espnet_cffma.losses.wrappers import FixedOrderOthersSolver
from espnet_cffma.preprocessors.crop_gain import RandomCropGainPreprocessor
from espnet_cffma.registry import register_espnet_classes
from espnet_cffma.systems.bss_cffma.separator import BSSCFFMASeparator


@pytest.fixture
def separator(ssl_checkpoints, tiny_separator_conf):
    torch.manual_seed(0)
    return BSSCFFMASeparator(
        ssl_upstream="wavlm_local",
        ssl_path_or_url=str(ssl_checkpoints["wavlm", "layer_norm"]),
        **tiny_separator_conf,
    )


def hand_log1p_magnitude(wav):
    """log1p|STFT| of one utterance with the paper's settings, ``[T, F]``."""
    spec = torch.stft(
        wav,
        n_fft=400,
        hop_length=160,
        win_length=400,
        window=torch.hamming_window(400),
        center=True,
        pad_mode="reflect",
        return_complex=True,
    )
    return torch.log1p(spec.abs()).T


def test_log1p_mask_l1_equals_hand_computation(separator):
    gen = torch.Generator().manual_seed(1)
    clean = 0.1 * torch.randn(1, 3200, generator=gen)
    frames = 3200 // 160 + 1
    predicted = torch.rand(1, frames, 201, generator=gen)
    others = {
        "log1p_magnitude_spk1": predicted,
        "log1p_input_lengths": torch.tensor([3200]),
        "log1p_analysis": separator.log1p_magnitude,
    }
    loss = Log1pMaskL1Loss()(clean, clean, others=others)
    expected = (predicted[0] - hand_log1p_magnitude(clean[0])).abs().mean()
    assert loss.shape == (1,)
    torch.testing.assert_close(loss[0], expected)


def test_log1p_mask_l1_ignores_padded_frames(separator):
    gen = torch.Generator().manual_seed(2)
    lengths = [4000, 2400]
    clean = torch.zeros(2, 4000)
    for b, n in enumerate(lengths):
        clean[b, :n] = 0.1 * torch.randn(n, generator=gen)
    predicted = torch.rand(2, 4000 // 160 + 1, 201, generator=gen)
    short_frames = 2400 // 160 + 1
    predicted[1, short_frames:] = 7.0  # garbage past the short utterance's end
    criterion = Log1pMaskL1Loss()
    batched = criterion(
        clean,
        clean,
        others={
            "log1p_magnitude_spk1": predicted,
            "log1p_input_lengths": torch.tensor(lengths),
            "log1p_analysis": separator.log1p_magnitude,
        },
    )
    solo = criterion(
        clean[1:, :2400],
        clean[1:, :2400],
        others={
            "log1p_magnitude_spk1": predicted[1:, :short_frames],
            "log1p_input_lengths": torch.tensor([2400]),
            "log1p_analysis": separator.log1p_magnitude,
        },
    )
    torch.testing.assert_close(batched[1], solo[0])
    hand = (predicted[1, :short_frames] - hand_log1p_magnitude(clean[1, :2400])).abs()
    torch.testing.assert_close(batched[1], hand.mean())


def test_wrapper_passes_the_separator_prediction(separator):
    separator.train()
    gen = torch.Generator().manual_seed(3)
    noisy = 0.1 * torch.randn(2, 4800, generator=gen)
    clean = 0.5 * noisy
    ilens = torch.tensor([4800, 4000])
    (enhanced,), _, others = separator(noisy, ilens)
    wrapper = FixedOrderOthersSolver(Log1pMaskL1Loss())
    loss, stats, _ = wrapper([clean], [enhanced], others)
    target, frames = separator.log1p_magnitude(clean, ilens)[0::2]
    expected = torch.stack(
        [
            (others["log1p_magnitude_spk1"][b, :t] - target[b, :t]).abs().mean()
            for b, t in enumerate(frames.tolist())
        ]
    ).mean()
    torch.testing.assert_close(loss, expected)
    assert stats["log1p_mask_l1"] == loss.detach()
    loss.backward()
    assert separator.mask_head.weight.grad.abs().sum() > 0


def test_log1p_mask_l1_without_prediction_says_which_wrapper():
    with pytest.raises(ValueError, match="fixed_order_others"):
        Log1pMaskL1Loss()(torch.zeros(1, 800), torch.zeros(1, 800), others={})


def test_random_crop_gain_shares_crop_and_gain():
    np.random.seed(0)
    prep = RandomCropGainPreprocessor(train=True, crop_length=1000)
    mix = np.arange(5000, dtype=np.float32) + 1
    data = {"speech_mix": mix.copy(), "speech_ref1": 2 * mix.copy()}
    gains, starts = set(), set()
    for _ in range(20):
        out = prep("utt", {k: v.copy() for k, v in data.items()})
        assert out["speech_mix"].shape == (1000,)
        gain = out["speech_mix"][1] - out["speech_mix"][0]  # mix steps by 1
        start = round(float(out["speech_mix"][0] / gain)) - 1
        np.testing.assert_allclose(
            out["speech_mix"], gain * mix[start : start + 1000], rtol=1e-3
        )
        np.testing.assert_allclose(out["speech_ref1"], 2 * out["speech_mix"])
        assert 1.0 - 1e-3 <= gain <= 2.5 + 1e-3
        gains.add(round(float(gain), 4))
        starts.add(start)
    assert len(gains) > 10 and len(starts) > 10


def test_random_crop_tiles_short_clips():
    prep = RandomCropGainPreprocessor(train=True, crop_length=1000, gain_range=None)
    mix = np.arange(300, dtype=np.float64)
    out = prep("utt", {"speech_mix": mix.copy(), "speech_ref1": mix.copy()})
    np.testing.assert_array_equal(out["speech_mix"], np.tile(mix, 4)[:1000])
    np.testing.assert_array_equal(out["speech_ref1"], out["speech_mix"])


def test_random_crop_gain_leaves_validation_alone():
    prep = RandomCropGainPreprocessor(train=False)
    mix = np.ones(30000, dtype=np.float32)
    out = prep("utt", {"speech_mix": mix.copy()})
    np.testing.assert_array_equal(out["speech_mix"], mix)


def test_random_crop_gain_is_an_espnet_preprocessor():
    register_espnet_classes()
    from espnet2.tasks.enh import EnhancementTask

    args = argparse.Namespace(
        preprocessor="random_crop_gain",
        preprocessor_conf={"crop_length": 640, "gain_range": [2.0, 2.0]},
    )
    prep = EnhancementTask.build_preprocess_fn(args, train=True)
    assert isinstance(prep, RandomCropGainPreprocessor)
    out = prep("utt", {"speech_mix": np.ones(1000, dtype=np.float32)})
    np.testing.assert_array_equal(out["speech_mix"], np.full(640, 2.0))
    with pytest.raises(ValueError, match="gain_range"):
        RandomCropGainPreprocessor(train=True, gain_range=[2.5, 1.0])


@pytest.mark.parametrize("init", ["xavier_normal", "xavier_uniform", "chainer"])
def test_espnet_init_keeps_norms_prelu_and_ssl_weights(separator, init):
    pretrained = {k: v.clone() for k, v in separator.ssl.upstream.state_dict().items()}
    before = separator.mask_head.weight.clone()
    torch.manual_seed(1)
    initialize(separator, init)
    assert not torch.equal(before, separator.mask_head.weight)  # init did run
    assert torch.equal(separator.mscff.norm.gamma, torch.ones(24))
    assert torch.equal(separator.mscff.norm.beta, torch.zeros(24))
    assert torch.equal(separator.mscff.activation.weight, torch.full((1,), 0.25))
    assert torch.equal(separator.ssl.layer_weights, torch.zeros(3))
    for name, module in separator.named_modules():
        if isinstance(module, torch.nn.LayerNorm) and "upstream" not in name:
            assert torch.equal(module.weight, torch.ones_like(module.weight)), name
    for key, value in separator.ssl.upstream.state_dict().items():
        assert torch.equal(value, pretrained[key]), key
