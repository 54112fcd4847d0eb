"""Shared layers: STFT, padding helpers, masked normalisation and convolution."""

import pytest
import torch

from espnet_cffma.layers.conv import TimeConv
from espnet_cffma.layers.norms import MaskedGlobalLayerNorm
from espnet_cffma.layers.padding import masked_max, masked_mean, valid_frames
from espnet_cffma.layers.stft import STFT


def _pad_batch(signals: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in signals])
    batch = torch.zeros(len(signals), int(lengths.max()), *signals[0].shape[1:])
    for b, s in enumerate(signals):
        batch[b, : len(s)] = s
    return batch, lengths


def test_stft_shapes_and_perfect_reconstruction():
    torch.manual_seed(0)
    stft = STFT(n_fft=400, win_length=400, hop_length=160, window="hamming")
    wav, lengths = _pad_batch([torch.randn(3200), torch.randn(1999)])
    spec, frames = stft(wav, lengths)
    assert spec.shape == (2, 21, 201) and spec.is_complex()
    assert frames.tolist() == [21, 13]
    assert torch.count_nonzero(spec[1, 13:]) == 0
    back = stft.inverse(spec, lengths)
    assert back.shape == wav.shape
    assert torch.allclose(back, wav, atol=1e-5)


def test_stft_batch_equals_solo_with_batch_size_one():
    torch.manual_seed(1)
    stft = STFT(n_fft=64, win_length=48, hop_length=16, window="hann")
    short, long = torch.randn(300), torch.randn(517)
    batch, lengths = _pad_batch([long, short])
    spec, _ = stft(batch, lengths)
    solo, frames = stft(short[None], torch.tensor([300]))
    assert torch.equal(spec[1, : frames[0]], solo[0])


def test_stft_rejects_unknown_window():
    with pytest.raises(ValueError, match="Unknown STFT window 'kaiser'"):
        STFT(window="kaiser")


def test_padding_helpers_ignore_padded_frames():
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[-1.0], [-5.0], [2.0]]])
    mask = valid_frames(torch.tensor([2, 3]), 3)
    assert mask.tolist() == [[True, True, False], [True, True, True]]
    assert torch.allclose(masked_mean(x, mask).flatten(), torch.tensor([2.0, -4 / 3]))
    assert masked_max(x, mask).flatten().tolist() == [3.0, 2.0]


def test_masked_global_layer_norm_is_padding_invariant():
    torch.manual_seed(2)
    norm = MaskedGlobalLayerNorm(channels=4)
    utt = torch.randn(1, 5, 4)
    padded = torch.cat([utt, 50 * torch.randn(1, 3, 4)], dim=1)
    solo = norm(utt, valid_frames(torch.tensor([5]), 5))
    out = norm(padded, valid_frames(torch.tensor([5]), 8))
    assert torch.allclose(out[:, :5], solo, atol=1e-6)
    assert torch.allclose(solo.mean(), torch.tensor(0.0), atol=1e-6)


def test_time_conv_same_length_and_padding_invariant():
    torch.manual_seed(3)
    conv = TimeConv(in_dim=3, out_dim=2, kernel_size=5, dilation=2)
    utt = torch.randn(1, 7, 3)
    padded = torch.cat([utt, torch.randn(1, 4, 3)], dim=1)
    solo = conv(utt, valid_frames(torch.tensor([7]), 7))
    out = conv(padded, valid_frames(torch.tensor([7]), 11))
    assert solo.shape == (1, 7, 2)
    assert torch.allclose(out[:, :7], solo, atol=1e-6)


@pytest.mark.parametrize("kernel, dilation", [(4, 1), (0, 1), (3, 0)])
def test_time_conv_rejects_bad_sizes(kernel, dilation):
    with pytest.raises(ValueError, match="Convolution"):
        TimeConv(in_dim=1, out_dim=1, kernel_size=kernel, dilation=dilation)
