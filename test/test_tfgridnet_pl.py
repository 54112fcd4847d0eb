"""TF-GridNet with progressive learning: separator, targets, loss, configs."""

import math
from pathlib import Path

import pytest
import torch
import yaml
from espnet2.enh.separator.tfgridnetv2_separator import TFGridNetV2

from espnet_cffma.losses.compressed_spectrum import CompressedSpectrumSISNRLoss
from espnet_cffma.losses.progressive import ProgressiveLossWrapper
from espnet_cffma.systems.tfgridnet_pl.separator import TFGridNetPLSeparator
from espnet_cffma.systems.tfgridnet_pl.targets import (
    absolute_targets,
    relative_targets,
)

TUNING = Path(__file__).resolve().parents[1] / "egs2/voicebank/conf/tuning"
TINY = dict(
    n_srcs=1, n_fft=64, stride=32, n_layers=3, lstm_hidden_units=8,
    attn_n_head=2, emb_dim=8, emb_ks=4, emb_hs=1,
)  # fmt: skip


def snr_db(speech, noise):
    return 10 * torch.log10(speech.pow(2).sum(-1) / noise.pow(2).sum(-1))


def test_direct_learning_equals_espnet_tfgridnetv2():
    torch.manual_seed(0)
    reference = TFGridNetV2(None, **TINY).eval()
    ours = TFGridNetPLSeparator(None, **TINY).eval()
    ours.load_state_dict(reference.state_dict())  # strict: same parameter names
    wav = torch.randn(2, 1600)
    ilens = torch.tensor([1600, 1600])
    with torch.no_grad():
        expected = reference(wav, ilens)[0][0]
        estimate, _, others = ours(wav, ilens)
    assert torch.equal(estimate[0], expected)
    assert others["intermediate_outputs"] == []


def test_progressive_outputs_and_dense_sum_wiring():
    torch.manual_seed(0)
    model = TFGridNetPLSeparator(
        None, **TINY, output_blocks=[1, 2, 3], dense_sum=True
    ).eval()
    wav = torch.randn(2, 1600)
    ilens = torch.tensor([1600, 1600])
    with torch.no_grad():
        final, _, others = model(wav, ilens)
        # Recompute by hand: block i sees emb + sum of earlier blocks' outputs.
        spec = model.enc(wav[..., None] / wav.std(dim=1)[:, None, None], ilens)[0]
        spec = spec.transpose(1, 2)
        emb = model.conv(torch.cat((spec.real, spec.imag), dim=1))
        out1 = model.blocks[0](emb)
        out2 = model.blocks[1](emb + out1)
        out3 = model.blocks[2](emb + out1 + out2)
        head = model._head(model.deconv, out3, spec, ilens, 1600)
    assert len(others["intermediate_outputs"]) == 2
    assert all(o[0].shape == (2, 1600) for o in others["intermediate_outputs"])
    assert torch.allclose(final[0], head[:, 0] * wav.std(dim=1)[:, None], atol=1e-5)
    assert torch.equal(others["mixture"], wav)
    # 2 intermediate heads: ConvTranspose2d(8, 2, 3x3) each.
    extra = sum(p.numel() for p in model.intermediate_deconvs.parameters())
    assert extra == 2 * (8 * 2 * 9 + 2)


@pytest.mark.parametrize("blocks", [[1, 2], [0, 3], [2, 1, 3], []])
def test_output_blocks_must_end_with_the_last_block(blocks):
    with pytest.raises(ValueError, match="output_blocks"):
        TFGridNetPLSeparator(None, **TINY, output_blocks=blocks)


def test_relative_targets_gain_step_db_each():
    torch.manual_seed(0)
    speech, noise = torch.randn(3, 8000), 0.5 * torch.randn(3, 8000)
    targets = relative_targets(speech, noise, num_outputs=5, step_db=7.5)
    assert len(targets) == 5 and torch.equal(targets[-1], speech)
    base = snr_db(speech, noise)
    for k, target in enumerate(targets[:-1], start=1):
        assert torch.allclose(snr_db(speech, target - speech), base + 7.5 * k, atol=0.1)


def test_absolute_targets_have_the_given_snrs():
    torch.manual_seed(0)
    speech, noise = torch.randn(3, 8000), 3.0 * torch.randn(3, 8000)
    targets = absolute_targets(speech, noise, [0.0, 5.0, 10.0, 15.0])
    assert len(targets) == 5 and torch.equal(targets[-1], speech)
    for snr, target in zip([0.0, 5.0, 10.0, 15.0], targets):
        measured = snr_db(speech, target - speech)
        assert torch.allclose(measured, torch.full_like(measured, snr), atol=0.1)


class _L2(torch.nn.Module):
    name = "l2"

    def forward(self, ref, inf):
        return (ref - inf).pow(2).mean(dim=-1)


def test_wrapper_weights_stages_as_configured():
    torch.manual_seed(0)
    speech, noise = torch.randn(2, 400), torch.randn(2, 400)
    mixture = speech + noise
    outs = [torch.randn(2, 400) for _ in range(3)]
    wrapper = ProgressiveLossWrapper(
        _L2(), target_type="relative", step_db=10.0, stage_weights=[0.5, 2.0, 3.0]
    )
    others = {"intermediate_outputs": [[outs[0]], [outs[1]]], "mixture": mixture}
    loss, stats, _ = wrapper([speech], [outs[2]], others)
    # By hand: targets s + 0.316 n, s + 0.1 n, s.
    t1 = speech + 10 ** (-0.5) * noise
    t2 = speech + 0.1 * noise
    expected = (
        0.5 * (t1 - outs[0]).pow(2).mean()
        + 2.0 * (t2 - outs[1]).pow(2).mean()
        + 3.0 * (speech - outs[2]).pow(2).mean()
    )
    assert math.isclose(loss.item(), expected.item(), rel_tol=1e-5)
    assert math.isclose(stats["l2_out3"].item(), (speech - outs[2]).pow(2).mean())
    with pytest.raises(ValueError, match="2 stage_weights for 3 outputs"):
        ProgressiveLossWrapper(_L2(), stage_weights=[1, 1])([speech], [outs[2]], others)
    with pytest.raises(ValueError, match="tfgridnet_pl"):
        wrapper([speech], [outs[2]], {})


def test_compressed_spectrum_loss_is_minimal_at_the_reference():
    torch.manual_seed(0)
    criterion = CompressedSpectrumSISNRLoss(n_fft=64, win_length=64, hop_length=32)
    ref = torch.randn(2, 1600)
    same = criterion(ref, ref)
    noisy = criterion(ref, ref + 0.3 * torch.randn(2, 1600))
    assert same.shape == (2,) and (noisy > same).all()
    spectral_only = CompressedSpectrumSISNRLoss(
        n_fft=64, win_length=64, hop_length=32, si_snr_weight=0.0
    )
    assert torch.allclose(spectral_only(ref, ref), torch.zeros(2), atol=1e-6)
    scaled = spectral_only(ref, 0.5 * ref)
    assert (scaled > 0).all()


@pytest.mark.parametrize(
    "config", sorted(TUNING.glob("*tfgridnet*.yaml")), ids=lambda p: p.stem
)
def test_tfgridnet_configs_build_through_espnet(config):
    from espnet2.tasks.enh import EnhancementTask

    from espnet_cffma.registry import register_espnet_classes

    register_espnet_classes()
    raw = yaml.safe_load(config.read_text())
    args = EnhancementTask.get_parser().parse_args(
        ["--config", str(config), "--output_dir", "unused"]
    )
    model = EnhancementTask.build_model(args)
    assert type(model.separator).__name__ == "TFGridNetPLSeparator"
    wrapper = model.loss_wrappers[0]
    progressive = "_pl" in config.stem
    assert type(wrapper).__name__ == (
        "ProgressiveLossWrapper" if progressive else "FixedOrderSolver"
    )
    assert model.separator.dense_sum is progressive
    if "demo" not in config.stem:
        count = sum(p.numel() for p in model.separator.parameters())
        # ESPnet's tfgridnetv2 at this size: 2,360,835; + 4 heads of 578.
        assert count == (2_363_147 if progressive else 2_360_835)
        conf = raw["separator_conf"]
        assert (conf["n_fft"], conf["stride"], conf["n_layers"]) == (512, 256, 5)


def test_noise_reference_is_noisy_minus_clean(tmp_path):
    import numpy as np
    import soundfile as sf

    from espnet_cffma.recipe import noise_reference

    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    noisy_scp, clean_scp = [], []
    for utt in ("a", "b"):
        clean = (rng.uniform(-0.4, 0.4, 4800) * 32767).astype(np.int16)
        noisy = (rng.uniform(-0.4, 0.4, 4800) * 32767).astype(np.int16)
        sf.write(tmp_path / f"{utt}_c.wav", clean, 48000, subtype="PCM_16")
        sf.write(tmp_path / f"{utt}_n.wav", noisy, 48000, subtype="PCM_16")
        noisy_scp.append(f"{utt} {tmp_path}/{utt}_n.wav\n")
        clean_scp.append(f"{utt} {tmp_path}/{utt}_c.wav\n")
    (data / "wav.scp").write_text("".join(noisy_scp))
    (data / "spk1.scp").write_text("".join(clean_scp))
    assert (
        noise_reference.main(
            ["--data_dir", str(data), "--audio_dir", str(tmp_path / "noise")]
        )
        == 0
    )
    scp = dict(line.split() for line in (data / "noise1.scp").read_text().splitlines())
    for utt in ("a", "b"):
        noise, fs = sf.read(scp[utt])
        noisy, _ = sf.read(tmp_path / f"{utt}_n.wav")
        clean, _ = sf.read(tmp_path / f"{utt}_c.wav")
        assert fs == 48000 and np.array_equal(noise, noisy - clean)  # exact (24 bit)
    # A length mismatch is named, with the utterance.
    sf.write(tmp_path / "b_c.wav", np.zeros(100), 48000)
    with pytest.raises(noise_reference.NoiseReferenceError, match="utterance b"):
        noise_reference.write_noise_reference(data, tmp_path / "noise")


@pytest.mark.slow
def test_progressive_training_through_espnet(tmp_path):
    """One epoch of tfgridnet_pl + progressive wrapper with ESPnet's trainer."""
    import subprocess
    import sys

    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    (tmp_path / "wav").mkdir()
    for split, count in (("train", 4), ("valid", 2)):
        lists = {"wav": [], "spk1": [], "noise1": []}
        for i in range(count):
            n = int(16000 * rng.uniform(0.5, 0.7))
            clean = 0.3 * np.sin(2 * np.pi * (200 + 50 * i) * np.arange(n) / 16000)
            noise = 0.05 * rng.standard_normal(n)
            utt = f"{split}_{i}"
            for kind, audio in (
                ("spk1", clean),
                ("noise1", noise),
                ("wav", clean + noise),
            ):
                path = tmp_path / "wav" / f"{utt}_{kind}.wav"
                sf.write(path, audio, 16000, subtype="FLOAT")
                lists[kind].append(f"{utt} {path}\n")
        for kind, lines in lists.items():
            (tmp_path / f"{split}_{kind}.scp").write_text("".join(lines))
    config = yaml.safe_load((TUNING / "train_demo_tfgridnet_pl.yaml").read_text())
    config.update(max_epoch=1, batch_size=2, iterator_type="sequence")
    for key in ("chunk_length", "chunk_shift_ratio", "chunk_discard_short_samples",
                "num_cache_chunks"):  # fmt: skip
        config.pop(key)
    config["batch_type"] = "unsorted"
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(config))
    data = []
    for split in ("train", "valid"):
        for kind, name in (("wav", "speech_mix"), ("spk1", "speech_ref1"),
                           ("noise1", "noise_ref1")):  # fmt: skip
            data += [f"--{split}_data_path_and_name_and_type",
                     f"{tmp_path}/{split}_{kind}.scp,{name},sound"]  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-m", "espnet_cffma.bin.enh_train",
         "--config", str(tmp_path / "train.yaml"), *data,
         "--train_shape_file", str(tmp_path / "train_wav.scp"),
         "--valid_shape_file", str(tmp_path / "valid_wav.scp"),
         "--output_dir", str(tmp_path / "exp")],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "compressed_spec_si_snr_out1=" in result.stderr
    assert "compressed_spec_si_snr_out2=" in result.stderr
    assert (tmp_path / "exp" / "valid.loss.best.pth").is_file()
