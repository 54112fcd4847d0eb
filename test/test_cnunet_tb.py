"""CNUNet-TB(-TS): strict causality, streaming == offline, losses, stage 2."""

from pathlib import Path

import numpy as np
import pytest
import torch

from espnet_cffma.layers.causal import (
    CausalConv2d,
    CausalMovingAverage,
    assign_state_keys,
)
from espnet_cffma.layers.causal_stft import CausalSTFT
from espnet_cffma.layers.norms import CumulativeGroupNorm, FrameGroupNorm
from espnet_cffma.systems.cnunet_tb import blocks
from espnet_cffma.systems.cnunet_tb.network import CNUNetTB, SSLFusion
from espnet_cffma.systems.cnunet_tb.separator import CNUNetTBSeparator
from espnet_cffma.systems.cnunet_tb.streaming import StreamingEnhancer

HOP = 32


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny convolutions: threads only add overhead (and fight on shared CPUs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


TINY = dict(
    n_fft=64,
    win_length=64,
    hop_length=HOP,
    channels=4,
    mid_channels=4,
    encoder_depths=[2, 2],
    inner_dense_layers=2,
    bottleneck_layers=2,
    ctfa_kernel=3,
    ctfa_window=4,
)


def perturb(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights everywhere (norm gains, biases, PReLU slopes too)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen))
    return module.eval()


def tiny_separator(seed: int = 0, **overrides) -> CNUNetTBSeparator:
    torch.manual_seed(seed)
    return perturb(CNUNetTBSeparator(**{**TINY, **overrides}), seed)


def assert_frames_causal(fn, x: torch.Tensor, t: int, extra=None) -> None:
    """Changing frames >= t of ``x`` [..., T] changes no output frame < t, exactly."""
    x2 = x.clone()
    x2[..., t:] = torch.randn_like(x2[..., t:]) * 3
    with torch.no_grad():
        y1 = fn(x) if extra is None else fn(x, extra)
        y2 = fn(x2) if extra is None else fn(x2, extra)
    assert torch.equal(y1[..., :t], y2[..., :t])
    assert not torch.equal(y1[..., t:], y2[..., t:])  # the change does reach


def complex_map(channels: int, bins: int = 16, frames: int = 24) -> torch.Tensor:
    return torch.randn(2, 2 * channels, bins, frames)


# name: (factory, input channels per part, frequency bins)
BLOCKS = {
    "causal_conv": (lambda: CausalConv2d(8, 3, (3, 3), dilation=(1, 2)), 4, 16),
    "moving_average": (lambda: CausalMovingAverage(5), 4, 16),
    "frame_norm": (lambda: FrameGroupNorm(8, 2), 4, 16),
    "cumulative_norm": (lambda: CumulativeGroupNorm(8, 2), 4, 16),
    "conv_norm_act": (
        lambda: blocks.ConvNormAct(4, 3, True, "cumulative", (3, 2), 2),
        4,
        16,
    ),
    "subpixel_up": (lambda: blocks.SubPixelUp(4, 3, True, "cumulative"), 4, 8),
    "dense_block": (
        lambda: blocks.DilatedDenseBlock(4, 4, 3, True, "cumulative"),
        4,
        16,
    ),
    "dense_block_real": (
        lambda: blocks.DilatedDenseBlock(4, 4, 3, False, "frame"),
        4,
        16,
    ),
    "ctfa": (lambda: blocks.complex_ctfa(4, True, 3, 4), 4, 16),
    "nested_unet": (
        lambda: blocks.NestedUNet(4, 3, 2, 2, True, "cumulative", 3, 4),
        4,
        16,
    ),
    "encoder_stage": (
        lambda: blocks.EncoderStage(4, 4, 3, 2, 2, True, "frame", 3, 4),
        4,
        16,
    ),
    "decoder_stage": (
        lambda: blocks.DecoderStage(2, 3, 2, 2, True, "cumulative", 3, 4),
        4,
        8,
    ),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_each_block_is_causal(name):
    factory, channels, bins = BLOCKS[name]
    torch.manual_seed(0)
    block = perturb(factory())
    assign_state_keys(block)
    assert_frames_causal(block, complex_map(channels, bins), t=11)


def test_ssl_fusion_is_causal_in_both_inputs():
    torch.manual_seed(0)
    fusion = perturb(SSLFusion(4, 2, 6, True, "cumulative"))
    x, ssl = complex_map(4, bins=2), torch.randn(2, 6, 24)
    assert_frames_causal(lambda a, s: fusion(a, s), x, 9, ssl)
    assert_frames_causal(lambda s, a: fusion(a, s), ssl, 9, x)


@pytest.mark.parametrize(
    "conf",
    [
        {},
        {"norm": "frame"},
        {"complex_valued": False},
        {"branches": ["mask"]},
        {"branches": ["mapping"]},
    ],
    ids=["tb", "frame_norm", "real", "mask_only", "mapping_only"],
)
def test_whole_network_is_causal(conf):
    """Spectral network: frames >= t do not reach outputs or latents < t."""
    torch.manual_seed(0)
    args = {
        k: v for k, v in TINY.items() if k not in ("n_fft", "win_length", "hop_length")
    }
    net = perturb(CNUNetTB(num_bins=32, **args, **conf))

    def run(x):
        estimates, latent = net(x)
        return torch.cat(
            [e.flatten(1, 2) for e in estimates.values()] + [latent.flatten(1, 2)],
            dim=1,
        )

    assert_frames_causal(run, torch.randn(2, 2, 32, 30), t=13)


@pytest.mark.parametrize("t0", [300, 613, 1024])
def test_waveform_in_waveform_out_is_causal(t0):
    """Input samples >= t0 change no output sample before the causal bound.

    Output sample n may use input samples up to the end of the last frame that
    covers it, ``(floor((n + win - hop) / hop) + 1) * hop``, which is at most
    ``n + win``: one window (32 ms at 512/16 kHz) of algorithmic latency.
    """
    sep = tiny_separator()
    n = HOP * 50
    x = torch.randn(1, n)
    x2 = x.clone()
    x2[:, t0:] = torch.randn(1, n - t0)
    with torch.no_grad():
        y1 = sep(x, torch.tensor([n]))[0][0]
        y2 = sep(x2, torch.tensor([n]))[0][0]
    win = TINY["win_length"]
    samples = torch.arange(n)
    reach = (torch.div(samples + win - HOP, HOP, rounding_mode="floor") + 1) * HOP
    assert bool((reach <= samples + win).all())
    untouched = reach <= t0
    assert torch.equal(y1[0, untouched], y2[0, untouched])
    assert not torch.equal(y1, y2)
    assert sep.latency_samples == win


def test_batch_padding_does_not_change_outputs():
    sep = tiny_separator()
    a, b = torch.randn(900), torch.randn(1400)
    batch = torch.zeros(2, 1400)
    batch[0, :900], batch[1] = a, b
    with torch.no_grad():
        joint = sep(batch, torch.tensor([900, 1400]))[0][0]
        solo = sep(a[None], torch.tensor([900]))[0][0]
    # different batch shapes may pick different convolution kernels: rounding
    torch.testing.assert_close(joint[0, :900], solo[0], atol=1e-5, rtol=1e-5)
    assert bool((joint[0, 900:] == 0).all())


def test_causal_stft_reconstructs_and_streams():
    stft = CausalSTFT(512, 512, 256, "hamming")
    x = torch.randn(2, 5000)
    spec = stft(x)
    assert spec.shape[1] == int(stft.num_frames(torch.tensor(5000)))
    torch.testing.assert_close(stft.inverse(spec, 5000), x, atol=1e-5, rtol=0)
    past = pending = None
    padded = torch.nn.functional.pad(x, (0, spec.size(1) * 256 - 5000))
    out = []
    for t in range(spec.size(1)):
        frame, past = stft.analyse_step(padded[:, t * 256 : (t + 1) * 256], past)
        torch.testing.assert_close(frame, spec[:, t : t + 1], atol=1e-4, rtol=0)
        done, pending = stft.synthesise_step(frame, pending)
        out.append(done)
    streamed = torch.cat(out, dim=-1)[:, stft.lookback : stft.lookback + 5000]
    torch.testing.assert_close(streamed, x, atol=1e-5, rtol=0)


@pytest.mark.parametrize(
    "norm, block, max_hops",
    [
        ("cumulative", HOP, 1),  # frame by frame
        ("cumulative", 1, 1),  # one sample at a time
        ("cumulative", 1000, 4),  # blocks that are not whole hops
        ("cumulative", None, 16),  # the whole input, 16 hops per call
        ("frame", 3 * HOP + 5, 2),
    ],
)
def test_streaming_equals_offline(norm, block, max_hops):
    """Blocks of any size, one hop or many per network call, give the offline
    output within 1e-5 (relative to the output's peak) on a long input."""
    sep = tiny_separator(norm=norm)
    n = HOP * 120 + 17  # 120 frames + a partial hop
    x = torch.randn(n) * 0.3
    with torch.no_grad():
        offline = sep(x[None], torch.tensor([n]))[0][0][0].numpy()
    block = block or n
    blocks_in = [x[i : i + block].numpy() for i in range(0, n, block)]
    enhancer = StreamingEnhancer(sep, max_hops=max_hops)
    streamed = np.concatenate(list(enhancer.stream(blocks_in)))
    assert streamed.shape == offline.shape
    scale = np.abs(offline).max()
    assert np.abs(streamed - offline).max() <= 1e-5 * scale


def test_network_chunks_with_state_equal_offline():
    """The network run on chunks of frames with its state matches one pass."""
    torch.manual_seed(0)
    args = {
        k: v for k, v in TINY.items() if k not in ("n_fft", "win_length", "hop_length")
    }
    net = perturb(CNUNetTB(num_bins=32, **args))
    assign_state_keys(net)
    x = torch.randn(1, 2, 32, 40)
    with torch.no_grad():
        offline, _ = net(x)
        for chunk in (1, 7, 40):
            state, parts = {}, []
            for s in range(0, 40, chunk):
                parts.append(net(x[..., s : s + chunk], None, state)[0]["mask"])
            torch.testing.assert_close(
                torch.cat(parts, dim=-1), offline["mask"], atol=1e-5, rtol=1e-5
            )


def test_forward_streaming_keeps_old_state():
    sep = tiny_separator()
    block = torch.randn(1, HOP)
    (_, state, _) = sep.forward_streaming(block, None)
    (a,), _, _ = sep.forward_streaming(block, state)
    (b,), _, _ = sep.forward_streaming(block, state)
    assert torch.equal(a, b)
    (c,), _, _ = sep.forward_streaming(torch.cat([block, block], dim=1), state)
    # two hops at once: the same first hop (up to rounding)
    torch.testing.assert_close(c[:, :HOP], a, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="whole hops"):
        sep.forward_streaming(torch.randn(1, HOP + 1), None)


@pytest.mark.parametrize(
    "conf, message",
    [
        ({"encoder_depths": [2, 5]}, "encoder stage 2"),
        ({"n_fft": 68}, "do not halve"),
        ({"branches": ["mask", "spectrum"]}, "branches"),
        ({"norm": "batch"}, "norm must be one of"),
        ({"teacher_config": "x.yaml"}, "teacher_model_file"),
        ({"ssl_input": "reference"}, "ssl_input"),
    ],
)
def test_bad_config_is_named(conf, message):
    with pytest.raises(ValueError, match=message):
        CNUNetTBSeparator(**{**TINY, **conf})


def test_paper_size_matches_authors_parameter_count():
    """The authors train CNUNet-TB with out_ch 64 / mid_ch 32 over both complex
    parts (32 / 16 per part): about 3.0 M parameters (their paper and code); ours
    differs only by per-channel PReLU slopes and norm gains."""
    sep = CNUNetTBSeparator()
    count = sum(p.numel() for p in sep.parameters())
    assert 2.9e6 < count < 3.1e6


# ---------------------------------------------------------------- losses
def test_compressed_spectral_mse_matches_its_definition():
    from espnet_cffma.losses.compressed_spectral import CompressedSpectralMSE

    loss = CompressedSpectralMSE(n_fft=64, win_length=64, hop_length=32)
    ref, est = torch.randn(2, 800), torch.randn(2, 800)
    stft = CausalSTFT(64, 64, 32)
    r, e = stft(ref), stft(est)
    rc = r * (r.abs() ** 2 + 1e-8) ** ((0.2 - 1) / 2)
    ec = e * (e.abs() ** 2 + 1e-8) ** ((0.2 - 1) / 2)
    expected = 0.1 * (
        ((rc.real - ec.real) ** 2).mean(dim=(1, 2))
        + ((rc.imag - ec.imag) ** 2).mean(dim=(1, 2))
    ) + 0.9 * ((rc.abs() - ec.abs()) ** 2).mean(dim=(1, 2))
    torch.testing.assert_close(loss(ref, est), expected, atol=1e-5, rtol=1e-4)
    assert float(loss(ref, ref).abs().max()) == 0.0


def test_latent_mse_counts_valid_frames_only():
    from espnet_cffma.losses.latent import LatentMSE

    ref = torch.zeros(2, 3, 2, 10)
    inf = torch.zeros(2, 3, 2, 10)
    inf[..., 6:] = 5.0  # beyond utterance 0's frames
    inf[1, ..., :6] = 1.0
    out = LatentMSE()(ref, inf, torch.tensor([6, 6]))
    torch.testing.assert_close(out, torch.tensor([0.0, 1.0]))


# ---------------------------------------------------------------- stage 2
def _write_experiment(folder, conf, model=None):
    """An ESPnet experiment folder as the trainer writes it (config + .pth)."""
    import yaml
    from espnet2.tasks.enh import EnhancementTask

    from espnet_cffma.registry import register_espnet_classes

    register_espnet_classes()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.yaml").write_text(yaml.safe_dump(conf))
    args = EnhancementTask.get_parser().parse_args(
        ["--config", str(folder / "train.yaml")]
    )
    model = model or EnhancementTask.build_model(args)
    (folder / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), folder / "valid.loss.best.pth")
    return model


def _conf(separator_conf, latent=False):
    spectral = {
        "name": "compressed_spectral_mse",
        "conf": {"n_fft": 64, "win_length": 64, "hop_length": HOP},
        "wrapper": "fixed_order",
        "wrapper_conf": {"weight": 1.0},
    }
    criterions = [spectral]
    if latent:
        criterions.append(
            {"name": "latent_mse", "wrapper": "latent_distill",
             "wrapper_conf": {"weight": 0.05}}
        )  # fmt: skip
    sizes = {k: v for k, v in TINY.items()}
    return {
        "encoder": "same",
        "decoder": "same",
        "separator": "cnunet_tb",
        "separator_conf": {**sizes, **separator_conf},
        "criterions": criterions,
        "init": None,
    }


def test_stage2_learns_latents_and_saves_no_ssl_or_teacher(tmp_path):
    from espnet2.tasks.enh import EnhancementTask

    from espnet_cffma.ssl.checkpoints import build_random_checkpoint
    from espnet_cffma.systems.cnunet_tb.streaming import load_separator

    ssl = build_random_checkpoint("wavlm", tmp_path / "ssl.pt")
    stage1 = tmp_path / "exp_stage1"
    torch.manual_seed(0)
    _write_experiment(
        stage1, _conf({"ssl_upstream": "wavlm_local", "ssl_path_or_url": str(ssl)})
    )
    stage2 = tmp_path / "exp_stage2"
    model = _write_experiment(
        stage2,
        _conf(
            {
                "teacher_config": str(stage1 / "config.yaml"),
                "teacher_model_file": str(stage1 / "valid.loss.best.pth"),
            },
            latent=True,
        ),
    )
    separator = model.separator
    assert separator.teacher is None  # nothing loaded until training starts

    gen = torch.Generator().manual_seed(0)
    clean = torch.randn(2, 4000, generator=gen) * 0.1
    noisy = clean + 0.05 * torch.randn(2, 4000, generator=gen)
    lengths = torch.tensor([4000, 3500])
    optim = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    latent_losses = []
    for _ in range(25):
        loss, stats, _ = model(noisy, lengths, speech_ref1=clean)
        optim.zero_grad()
        loss.backward()
        optim.step()
        latent_losses.append(float(stats["latent_mse"]))
    assert separator.teacher is not None and not separator.teacher.training
    assert latent_losses[-1] < 0.5 * latent_losses[0], latent_losses

    keys = list(model.state_dict())
    assert not [k for k in keys if "ssl" in k or "teacher" in k or "upstream" in k]
    student_params = sum(p.numel() for p in separator.network.parameters())
    assert sum(p.numel() for p in model.parameters()) == student_params
    torch.save(model.state_dict(), stage2 / "valid.loss.best.pth")

    ssl.unlink()  # inference must not need the SSL file (nor the teacher)
    (stage1 / "valid.loss.best.pth").unlink()
    loaded, _ = EnhancementTask.build_model_from_file(
        stage2 / "config.yaml", stage2 / "valid.loss.best.pth", "cpu"
    )
    loaded.eval()
    with torch.no_grad():
        (out,), _, others = loaded.separator(noisy, lengths)
        (ref,), _, _ = separator.eval()(noisy, lengths)
    assert "latent_target" not in others and loaded.separator.teacher is None
    torch.testing.assert_close(out, ref)
    streamer = StreamingEnhancer(load_separator(stage2))
    streamed = np.concatenate(list(streamer.stream([noisy[0].numpy()])))
    assert np.abs(streamed - out[0].numpy()).max() <= 1e-5 * float(out.abs().max())

    # the command line: a file in, a file out, same samples as the offline pass
    import soundfile as sf

    from espnet_cffma.systems.cnunet_tb import streaming

    sf.write(tmp_path / "in.wav", noisy[0].numpy(), 16000, subtype="FLOAT")
    streaming.main(
        ["--model", str(stage2), "--block_size", "700",
         str(tmp_path / "in.wav"), str(tmp_path / "out.wav")]
    )  # fmt: skip
    written, fs = sf.read(tmp_path / "out.wav", dtype="float32")
    assert fs == 16000 and written.shape == (4000,)
    assert np.abs(written - out[0].numpy()).max() <= 1e-5 * float(out.abs().max())
    with pytest.raises(SystemExit, match="no config.yaml"):
        streaming.main(["--model", str(tmp_path), "a.wav", "b.wav"])


# ---------------------------------------------------------------- configs
RECIPE_CONFS = sorted(
    (Path(__file__).parents[1] / "egs2/voicebank/conf/tuning").glob(
        "train_cnunet*.yaml"
    )
)


@pytest.mark.parametrize("path", RECIPE_CONFS, ids=lambda p: p.stem)
def test_recipe_configs_build_through_espnet(path, tmp_path):
    """Every shipped config builds with ESPnet's task (SSL: a tiny local
    checkpoint in place of the hub preset; stage 2: a stage-1 teacher path)."""
    import yaml
    from espnet2.tasks.enh import EnhancementTask

    from espnet_cffma.registry import register_espnet_classes
    from espnet_cffma.ssl.checkpoints import build_random_checkpoint

    register_espnet_classes()
    conf = yaml.safe_load(path.read_text())
    sep_conf = conf["separator_conf"]
    if sep_conf.get("ssl_upstream"):
        sep_conf["ssl_upstream"] = "wavlm_local"
        sep_conf["ssl_path_or_url"] = str(
            build_random_checkpoint("wavlm", tmp_path / "ssl.pt")
        )
    if "teacher_config" in sep_conf:
        sep_conf["teacher_config"] = str(tmp_path / "stage1/config.yaml")
        sep_conf["teacher_model_file"] = str(tmp_path / "stage1/valid.loss.best.pth")
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(conf))
    args = EnhancementTask.get_parser().parse_args(
        ["--config", str(tmp_path / "train.yaml")]
    )
    model = EnhancementTask.build_model(args)
    assert model.separator.stft.win_length == 512
    names = [w.criterion.name for w in model.loss_wrappers]
    assert ("latent_mse" in names) == ("teacher_config" in sep_conf)


@pytest.mark.slow
def test_two_stage_training_through_espnet(tmp_path):
    """Stage 1 (SSL) then stage 2 (teacher from stage 1's folder) with ESPnet's
    trainer; the latent loss falls; inference runs without the SSL file."""
    import re

    import soundfile as sf
    import yaml
    from test_espnet_integration import FS, data_args, run, write_corpus

    from espnet_cffma.ssl.checkpoints import build_random_checkpoint

    lengths = write_corpus(tmp_path, np.random.default_rng(0))
    ssl = build_random_checkpoint("wavlm", tmp_path / "ssl.pt")
    data = data_args(tmp_path, "train") + data_args(tmp_path, "valid")
    common = {
        "optim": "adamw",
        "optim_conf": {"lr": 3e-3},
        "batch_type": "folded",
        "batch_size": 2,
        "num_workers": 0,
        "num_att_plot": 0,
        "use_tensorboard": False,
        "best_model_criterion": [["valid", "loss", "min"]],
    }
    shapes = [
        "--train_shape_file", tmp_path / "train_wav.scp",
        "--valid_shape_file", tmp_path / "valid_wav.scp",
    ]  # fmt: skip

    def train(name, conf, epochs):
        (tmp_path / f"{name}.yaml").write_text(
            yaml.safe_dump({**conf, **common, "max_epoch": epochs})
        )
        stats = tmp_path / f"stats_{name}"
        run("espnet_cffma.bin.enh_train", "--collect_stats", "true",
            "--config", tmp_path / f"{name}.yaml", *data, *shapes,
            "--output_dir", stats, cwd=tmp_path)  # fmt: skip
        exp = tmp_path / name
        result = run("espnet_cffma.bin.enh_train",
            "--config", tmp_path / f"{name}.yaml", *data,
            "--train_shape_file", stats / "train/speech_mix_shape",
            "--valid_shape_file", stats / "valid/speech_mix_shape",
            "--fold_length", 80000, "--output_dir", exp, cwd=tmp_path)  # fmt: skip
        return exp, result.stderr

    stage1, _ = train(
        "stage1",
        _conf({"ssl_upstream": "wavlm_local", "ssl_path_or_url": str(ssl)}),
        1,
    )
    stage2, log = train(
        "stage2",
        _conf(
            {
                "teacher_config": str(stage1 / "config.yaml"),
                "teacher_model_file": str(stage1 / "valid.loss.best.pth"),
            },
            latent=True,
        ),
        4,
    )
    per_epoch = [
        float(m) for m in re.findall(r"\[train\] .*?latent_mse=([0-9.e+-]+)", log)
    ]
    assert len(per_epoch) == 4 and per_epoch[-1] < per_epoch[0], per_epoch
    state = torch.load(stage2 / "valid.loss.best.pth", map_location="cpu")
    assert not [k for k in state if "ssl" in k or "teacher" in k]

    ssl.unlink()
    out = tmp_path / "enhanced"
    run("espnet_cffma.bin.enh_inference", "--fs", FS,
        "--data_path_and_name_and_type", f"{tmp_path}/valid_wav.scp,speech_mix,sound",
        "--key_file", tmp_path / "valid_wav.scp",
        "--train_config", stage2 / "config.yaml",
        "--model_file", stage2 / "valid.loss.best.pth",
        "--output_dir", out, cwd=tmp_path)  # fmt: skip
    for line in (out / "spk1.scp").read_text().splitlines():
        utt, path = line.split()
        audio, fs = sf.read(path)
        assert fs == FS and len(audio) == lengths[utt] and np.isfinite(audio).all()
