"""The bss_cffma separator: shapes, batch independence, gradients, learning."""

import math

import pytest
import torch

from espnet_cffma.losses.log1p_l1 import Log1pMagnitudeL1Loss
from espnet_cffma.ssl.checkpoints import KINDS
from espnet_cffma.systems.bss_cffma.separator import BSSCFFMASeparator


def build(ckpt, kind, seed=0, **conf):
    torch.manual_seed(seed)
    return BSSCFFMASeparator(
        ssl_upstream=f"{kind}_local", ssl_path_or_url=str(ckpt), **conf
    )


def tones(lengths, fs=16000, seed=0, noise=0.05):
    """Amplitude-modulated tones plus white noise, zero-padded: ``[B, N]``, ``[B]``."""
    gen = torch.Generator().manual_seed(seed)
    wav = torch.zeros(len(lengths), max(lengths))
    for b, n in enumerate(lengths):
        t = torch.arange(n) / fs
        envelope = torch.sin(2 * math.pi * (2 + b) * t)
        wav[b, :n] = 0.3 * envelope * torch.sin(2 * math.pi * (200 + 100 * b) * t)
        wav[b, :n] += noise * torch.randn(n, generator=gen)
    return wav, torch.tensor(lengths)


@pytest.mark.parametrize("kind", KINDS)
def test_shapes_and_lengths(kind, ssl_checkpoints, tiny_separator_conf):
    model = build(ssl_checkpoints[kind, "layer_norm"], kind, **tiny_separator_conf)
    model.eval()
    for lengths in ([16000], [16000, 12345, 4000]):
        wav, ilens = tones(lengths)
        with torch.no_grad():
            (out,), olens, others = model(wav, ilens)
        assert out.shape == wav.shape
        assert torch.equal(olens, ilens)
        assert others["mask_spk1"].shape == (len(lengths), 101, 201)
        for b, n in enumerate(lengths):
            assert torch.all(out[b, n:] == 0), "output past the input length"
            assert out[b, :n].abs().max() > 0
        assert torch.isfinite(out).all()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("extractor_mode", ["layer_norm", "default"])
def test_padded_output_equals_solo_output(
    kind, extractor_mode, ssl_checkpoints, tiny_separator_conf
):
    model = build(ssl_checkpoints[kind, extractor_mode], kind, **tiny_separator_conf)
    model.eval()
    lengths = [16000, 11111, 5000]
    wav, ilens = tones(lengths)
    with torch.no_grad():
        (batched,), _, _ = model(wav, ilens)
        for b, n in enumerate(lengths):
            (solo,), _, _ = model(wav[b : b + 1, :n], ilens[b : b + 1])
            torch.testing.assert_close(batched[b, :n], solo[0], atol=1e-4, rtol=0)


def test_padded_ssl_batches_depend_on_the_batch_and_exact_ones_do_not(
    ssl_checkpoints, tiny_separator_conf
):
    # Why "exact" is the default: a GroupNorm over time ("default" CNN) and
    # fairseq's frame-level padding mask make padded-batch features depend on
    # the other utterances. 11111 samples leave a partly padded last frame.
    kind = "hubert"
    lengths = [16000, 11111]
    wav, ilens = tones(lengths)
    errors = {}
    for mode in ("padded", "exact"):
        model = build(
            ssl_checkpoints[kind, "default"],
            kind,
            ssl_batch_mode=mode,
            **tiny_separator_conf,
        )
        model.eval()
        with torch.no_grad():
            (batched,), _, _ = model(wav, ilens)
            (solo,), _, _ = model(wav[1:, :11111], ilens[1:])
        errors[mode] = (batched[1, :11111] - solo[0]).abs().max().item()
    assert errors["padded"] > 1e-3
    assert errors["exact"] < 1e-4


def test_gradients_reach_layer_weights_and_mscff(ssl_checkpoints, tiny_separator_conf):
    model = build(
        ssl_checkpoints["wavlm", "layer_norm"], "wavlm", **tiny_separator_conf
    )
    model.train()
    wav, ilens = tones([8000, 6000])
    (out,), _, _ = model(wav, ilens)
    Log1pMagnitudeL1Loss()(wav, out).mean().backward()
    assert model.ssl.layer_weights.grad is not None
    assert model.ssl.layer_weights.grad.abs().sum() > 0
    for name, param in model.mscff.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    for norm in model.ssl.layer_norms:
        assert norm.weight.grad.abs().sum() > 0


def _upstream_grads(model):
    cnn = {
        name
        for name, _ in model.ssl.upstream.named_parameters()
        if ".feature_extractor." in f".{name}"
    }
    has_grad = {
        name: p.grad is not None and p.grad.abs().sum() > 0
        for name, p in model.ssl.upstream.named_parameters()
    }
    return cnn, has_grad


@pytest.mark.parametrize("kind", KINDS)
def test_finetune_modes_freeze_exactly_what_they_should(
    kind, ssl_checkpoints, tiny_separator_conf
):
    ckpt = ssl_checkpoints[kind, "layer_norm"]
    wav, ilens = tones([8000, 6000])
    for mode in ("frozen", "pf", "ef"):
        model = build(ckpt, kind, ssl_finetune=mode, **tiny_separator_conf)
        model.train()  # what ESPnet's trainer calls every epoch
        (out,), _, _ = model(wav, ilens)
        Log1pMagnitudeL1Loss()(wav, out).mean().backward()
        cnn, has_grad = _upstream_grads(model)
        assert cnn, "the CNN feature extractor was not found"
        transformer = set(has_grad) - cnn
        requires = {
            n: p.requires_grad for n, p in model.ssl.upstream.named_parameters()
        }
        if mode == "frozen":
            assert not any(requires.values())
            assert not any(has_grad.values())
            assert not any(m.training for m in model.ssl.upstream.modules())
        elif mode == "pf":
            assert not any(requires[n] or has_grad[n] for n in cnn)
            # Trainable exactly where gradients arrive (mask_emb, heads and
            # layers past the last selected one are frozen: DDP needs that).
            assert all(requires[n] == has_grad[n] for n in transformer)
            assert any(has_grad[n] for n in transformer)
            cnn_module = model.ssl._cnn_extractor()
            assert not any(m.training for m in cnn_module.modules())
            assert model.ssl.upstream.upstream.model.encoder.training
        else:
            assert all(requires[n] == has_grad[n] for n in requires)
            assert any(has_grad[n] for n in cnn), "EF must train the CNN too"
            assert any(has_grad[n] for n in transformer)
        # Modules outside the upstream always learn.
        assert model.rhma.input_layer.weight.grad is not None


def test_a_few_steps_on_one_batch_halve_the_loss(ssl_checkpoints, tiny_separator_conf):
    model = build(
        ssl_checkpoints["wavlm", "layer_norm"],
        "wavlm",
        dropout=0.0,
        **{k: v for k, v in tiny_separator_conf.items() if k != "dropout"},
    )
    clean, ilens = tones([8000, 6000], noise=0.0)
    noisy = clean + 0.1 * torch.randn(
        clean.shape, generator=torch.Generator().manual_seed(2)
    )
    noisy[1, 6000:] = 0
    loss_fn = Log1pMagnitudeL1Loss()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        (out,), _, _ = model(noisy, ilens)
        loss = loss_fn(clean, out).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


def test_frame_alignment_repeats_and_pads_ssl_frames(
    ssl_checkpoints, tiny_separator_conf
):
    model = build(
        ssl_checkpoints["wavlm", "layer_norm"], "wavlm", **tiny_separator_conf
    )
    ssl = torch.arange(2 * 4 * 1, dtype=torch.float).reshape(2, 4, 1)
    aligned = model.align_ssl_frames(ssl, torch.tensor([4, 2]), num_frames=9)
    assert aligned[0, :, 0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 3]
    assert aligned[1, :, 0].tolist() == [4, 4, 5, 5, 5, 5, 5, 5, 5]


def test_bad_inputs_have_clear_errors(ssl_checkpoints, tiny_separator_conf):
    model = build(
        ssl_checkpoints["wavlm", "layer_norm"], "wavlm", **tiny_separator_conf
    )
    with pytest.raises(ValueError, match="single-channel"):
        model(torch.zeros(1, 16000, 2), torch.tensor([16000]))
    with pytest.raises(ValueError, match="at least 400 samples"):
        model(torch.zeros(1, 300), torch.tensor([300]))


def test_log1p_l1_loss():
    loss = Log1pMagnitudeL1Loss()
    wav, _ = tones([8000, 8000])
    assert torch.allclose(loss(wav, wav), torch.zeros(2))
    other = wav.flip(0)
    value = loss(wav, other)
    assert value.shape == (2,) and torch.all(value > 0)
    # Same number by a direct computation.
    window = torch.hamming_window(400)
    spec = lambda x: torch.stft(  # noqa: E731
        x, 400, 160, 400, window, center=True, pad_mode="reflect", return_complex=True
    ).abs()
    expected = (
        (torch.log1p(spec(wav)) - torch.log1p(spec(other))).abs().mean(dim=(1, 2))
    )
    torch.testing.assert_close(value, expected)
