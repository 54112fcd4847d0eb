"""MIA-SE: the dcunet_tstm separator, its loss and the IDDP (noisy-only) model."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from espnet_cffma.layers.complex import ComplexConv2d, ComplexConvTranspose2d
from espnet_cffma.losses.mia_se import MIASELoss, weighted_sdr
from espnet_cffma.registry import register_espnet_classes
from espnet_cffma.systems.dcunet_tstm.separator import DCUnetTSTMSeparator, apply_mask

FS = 16000
TINY = dict(
    channels=[4, 8, 8, 8, 8],
    n_fft=256,
    hop_length=64,
    tstm_conf={"num_layers": 1, "num_heads": 2, "gru_hidden": 4},
)


def tiny_separator(**overrides):
    return DCUnetTSTMSeparator(**{**TINY, **overrides})


@pytest.mark.parametrize("tstm", ["none", "real", "complex"])
def test_shapes_for_every_tstm_mode(tstm):
    torch.manual_seed(0)
    sep = tiny_separator(tstm=tstm)
    wav = torch.randn(2, 4000)
    lengths = torch.tensor([4000, 3100])
    (out,), olens, others = sep(wav, lengths)
    assert out.shape == (2, 4000) and torch.equal(olens, lengths)
    assert torch.all(out[1, 3100:] == 0) and out[1, :3100].abs().max() > 0
    frames = 4000 // 64 + 1
    assert others["mask_spk1"].shape == (2, frames, 129)
    # tanh bounds each part of the mask
    assert others["mask_spk1"].real.abs().max() < 1
    assert others["mask_spk1"].imag.abs().max() < 1
    out.sum().backward()
    assert all(p.grad is not None for p in sep.parameters() if p.requires_grad)


def test_tstm_modes_differ_in_modules():
    real = tiny_separator(tstm="real").unet.tstm
    complex_ = tiny_separator(tstm="complex").unet.tstm
    assert real.imag_part is None and complex_.imag_part is not None
    assert tiny_separator(tstm="none").unet.tstm is None


def test_parameter_counts_at_the_authors_sizes():
    counts = {
        tstm: sum(p.numel() for p in DCUnetTSTMSeparator(tstm=tstm).parameters())
        for tstm in ("none", "real", "complex")
    }
    # Paper: about 1.39 M, 1.03 M, 1.35 M.
    assert counts == {"none": 1_391_852, "real": 1_024_868, "complex": 1_344_518}


def test_complex_conv_is_a_complex_product():
    torch.manual_seed(0)
    conv = ComplexConv2d(2, 3, 3, padding=1, bias=False)
    x = torch.randn(1, 2, 5, 6, dtype=torch.cfloat)
    weight = torch.complex(conv.real.weight, conv.imag.weight)
    # complex convolution by hand: sum_c w[o, c] * x[c] over a 3x3 window
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    expected = torch.zeros(1, 3, 5, 6, dtype=torch.cfloat)
    for i in range(5):
        for j in range(6):
            window = padded[0, :, i : i + 3, j : j + 3]
            expected[0, :, i, j] = (weight * window).sum(dim=(1, 2, 3))
    torch.testing.assert_close(conv(x), expected, atol=1e-5, rtol=1e-5)
    up = ComplexConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1)
    assert up(conv(x)).shape == (1, 2, 10, 12)
    with pytest.raises(TypeError, match="complex tensor"):
        conv(x.real)


def test_mask_products():
    mask = torch.tensor([0.5 + 0.25j])
    spec = torch.tensor([2.0 - 4.0j])
    # (0.5 + 0.25i)(2 - 4i) = 1 - 2i + 0.5i + 1 = 2 - 1.5i
    assert torch.allclose(apply_mask(mask, spec, "complex"), torch.tensor([2.0 - 1.5j]))
    assert torch.allclose(
        apply_mask(mask, spec, "componentwise"), torch.tensor([1.0 - 1.0j])
    )
    with pytest.raises(ValueError, match="mask_product"):
        apply_mask(mask, spec, "polar")


def test_separator_applies_the_chosen_product():
    torch.manual_seed(0)
    sep = tiny_separator(tstm="none", mask_product="componentwise").eval()
    wav = torch.randn(1, 3000)
    lengths = torch.tensor([3000])
    (out,), _, others = sep(wav, lengths)
    spec, _ = sep.stft(wav, lengths)
    mask = others["mask_spk1"]
    by_hand = sep.stft.inverse(
        torch.complex(mask.real * spec.real, mask.imag * spec.imag), lengths
    )
    torch.testing.assert_close(out, by_hand)


def test_wsdr_against_a_hand_computation():
    mix = torch.tensor([[1.0, 2.0, 0.0, -1.0]])
    target = torch.tensor([[1.0, 1.0, 0.0, -1.0]])
    estimate = torch.tensor([[0.5, 1.0, 1.0, -1.0]])
    # noise = mix - target = [0, 1, 0, 0]; noise_est = mix - estimate = [.5, 1, -1, 0]
    alpha = 3.0 / (3.0 + 1.0)
    cos_speech = (0.5 + 1 + 0 + 1) / (np.sqrt(3) * np.sqrt(0.25 + 1 + 1 + 1))
    cos_noise = 1.0 / (1.0 * np.sqrt(0.25 + 1 + 1))
    expected = -alpha * cos_speech - (1 - alpha) * cos_noise
    assert weighted_sdr(mix, estimate, target).item() == pytest.approx(
        expected, rel=1e-5
    )


def test_mia_se_loss_terms():
    torch.manual_seed(0)
    loss = MIASELoss(n_fft=64, hop_length=16)
    target, estimate, mix = torch.randn(3, 2, 800).unbind(0)
    total = loss(target, estimate, mix=mix)
    lengths = torch.tensor([800, 800])
    mag = (
        (loss.stft(estimate, lengths)[0].abs() - loss.stft(target, lengths)[0].abs())
        .abs()
        .mean(dim=(1, 2))
    )
    mse = (estimate - target).pow(2).mean(-1)
    expected = (0.8 * mse + 0.2 * mag) / 600 + weighted_sdr(mix, estimate, target)
    torch.testing.assert_close(total, expected)
    with pytest.raises(ValueError, match="enh_model: mia_se"):
        loss(target, estimate)


def write_noise_pool(root, seconds=0.5):
    rng = np.random.default_rng(1)
    lines = []
    for i in range(2):
        path = root / f"noise{i}.wav"
        sf.write(path, 0.1 * rng.standard_normal(int(FS * seconds)), FS)
        lines.append(f"noise{i} {path}\n")
    (root / "noise_pool.scp").write_text("".join(lines))
    return root / "noise_pool.scp"


def build_model(enh_model_conf, tstm="real"):
    """Builds through ESPnet's EnhancementTask, as the trainer does."""
    register_espnet_classes()
    from espnet2.tasks.enh import EnhancementTask

    parser = EnhancementTask.get_parser()
    args = parser.parse_args(
        [
            "--encoder", "same", "--decoder", "same",
            "--separator", "dcunet_tstm",
            "--separator_conf", str({**TINY, "tstm": tstm}),
            "--enh_model", "mia_se",
            "--enh_model_conf", str(enh_model_conf),
        ]
    )  # fmt: skip
    args.criterions = [
        {"name": "mia_se", "conf": {"n_fft": 256, "hop_length": 64},
         "wrapper": "fixed_order", "wrapper_conf": {"weight": 1.0}}
    ]  # fmt: skip
    return EnhancementTask.build_model(args)


def test_iddp_step(tmp_path, monkeypatch):
    torch.manual_seed(0)
    pool = write_noise_pool(tmp_path)
    model = build_model(
        {"training_target": "iddp", "noise_pool": str(pool), "snr_range": [0, 9]}
    )
    from espnet_cffma.models.mia_se import MIASEEnhancementModel

    assert type(model) is MIASEEnhancementModel
    passes = []
    original = model.enhance

    def record(speech, lengths):
        out = original(speech, lengths)
        passes.append((torch.is_grad_enabled(), out.requires_grad, speech.clone()))
        return out

    snrs = []
    original_renoise = model.renoise

    def record_renoise(speech, lengths):
        noisy, snr = original_renoise(speech, lengths)
        snrs.append((speech.detach().clone(), noisy.detach().clone(), snr))
        return noisy, snr

    monkeypatch.setattr(model, "enhance", record)
    monkeypatch.setattr(model, "renoise", record_renoise)
    y1 = torch.randn(2, 3000)
    lengths = torch.tensor([3000, 2500])
    loss, stats, _ = model(y1, lengths)
    assert [p[:2] for p in passes] == [(False, False), (True, True)]
    assert torch.equal(passes[0][2], y1)
    x1, y2, snr = snrs[0]
    assert torch.equal(passes[1][2], y2)  # the second pass sees the re-noised x1
    for b, n in enumerate(lengths.tolist()):
        noise = y2[b, :n] - x1[b, :n]
        measured = 10 * torch.log10(x1[b, :n].pow(2).sum() / noise.pow(2).sum())
        assert abs(measured.item() - snr[b].item()) < 0.1
        assert snr[b] == snr[b].round() and 0 <= snr[b] <= 9
        assert torch.all(y2[b, n:] == 0)
    loss.backward()
    assert any(
        p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters()
    )
    assert set(stats) == {"mia_se", "loss"}


def test_renoise_draws_every_snr_in_range(tmp_path):
    torch.manual_seed(0)
    pool = write_noise_pool(tmp_path, seconds=0.1)
    model = build_model({"noise_pool": str(pool), "snr_range": [3, 5]}, tstm="none")
    speech = torch.randn(64, 2400)  # longer than the pool's clips: they repeat
    _, snrs = model.renoise(speech, torch.full((64,), 2400))
    assert set(snrs.tolist()) == {3.0, 4.0, 5.0}


def test_reference_target_trains_towards_speech_ref1():
    torch.manual_seed(0)
    model = build_model({"training_target": "reference"}, tstm="none")
    y, ref = torch.randn(2, 2, 3000).unbind(0)
    lengths = torch.tensor([3000, 3000])
    loss, stats, _ = model(y, lengths, speech_ref1=ref)
    estimate = model.enhance(y, lengths)  # batch norm in training mode: same batch
    expected = model.loss_wrappers[0].criterion(ref, estimate, mix=y).mean()
    torch.testing.assert_close(loss.squeeze(), expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="speech_ref1"):
        model(y, lengths)


def test_bad_options_are_named(tmp_path):
    with pytest.raises(ValueError, match="noise_pool is required"):
        build_model({"training_target": "iddp"})
    with pytest.raises(ValueError, match="training_target"):
        build_model({"training_target": "n2n"})
    with pytest.raises(ValueError, match="tstm must be one of"):
        tiny_separator(tstm="both")
    (tmp_path / "bad.scp").write_text(f"n0 {tmp_path}/missing.wav\n")
    model = build_model({"noise_pool": str(tmp_path / "bad.scp")})
    with pytest.raises(ValueError, match="cannot read 'n0'"):
        model(torch.randn(1, 3000), torch.tensor([3000]))


def test_default_model_without_reference_is_refused():
    register_espnet_classes()
    from espnet2.tasks.enh import EnhancementTask

    args = EnhancementTask.get_parser().parse_args(
        ["--encoder", "same", "--decoder", "same", "--separator", "dcunet_tstm",
         "--separator_conf", str(TINY),
         "--train_data_path_and_name_and_type", "wav.scp,speech_mix,sound"]
    )  # fmt: skip
    with pytest.raises(ValueError, match="no speech_ref1"):
        EnhancementTask.build_model(args)


CONF = Path(__file__).resolve().parent.parent / "egs2/voicebank/conf/tuning"


@pytest.mark.parametrize(
    "name", sorted(p.name for p in CONF.glob("train_mia_se_*.yaml")), ids=str
)
def test_recipe_configs_build_through_espnet(name, tmp_path):
    register_espnet_classes()
    from espnet2.tasks.enh import EnhancementTask

    pool = write_noise_pool(tmp_path)
    args = EnhancementTask.get_parser().parse_args(
        ["--config", str(CONF / name), "--enh_model_conf", f"noise_pool={pool}"]
    )
    model = EnhancementTask.build_model(args)
    # the command-line override merges into the config's enh_model_conf
    assert args.enh_model_conf["fs"] in (16000, 48000)
    expected_target = "iddp" if "iddp" in name else "reference"
    assert model.training_target == expected_target
    if "demo" not in name:
        count = sum(p.numel() for p in model.parameters())
        assert count == 1_024_868  # rTSTM at the authors' sizes
