"""cffma-enhance --streaming: a causal model hop by hop, equal to a whole-file pass."""

import numpy as np
import pytest
import soundfile as sf
import torch
from tiny_models import write_tiny_experiment

from espnet_cffma.bin import enhance as enhance_cli
from espnet_cffma.enhance.causal_stream import CausalStream, streaming_separator
from espnet_cffma.enhance.errors import ModelLoadError
from espnet_cffma.enhance.model_files import resolve_model_files
from espnet_cffma.enhance.runner import ModelRunner


@pytest.fixture(scope="module")
def causal_exp(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cnunet") / "exp"
    write_tiny_experiment(folder, "cnunet_tb")
    # Random norm gains, biases and slopes too: an untrained model is too bland.
    files = resolve_model_files(str(folder))
    runner = ModelRunner.from_files(files)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in runner.model.parameters():
            p.add_(0.2 * torch.randn(p.shape, generator=gen))
    torch.save(runner.model.state_dict(), files.model_file)
    return folder


@pytest.fixture(scope="module")
def causal_runner(causal_exp):
    return ModelRunner.from_files(resolve_model_files(str(causal_exp)))


def signal(frames: int, channels: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 220 * t)[:, None]
    return (tone + 0.1 * rng.standard_normal((frames, channels))).astype(np.float32)


def test_streamed_files_equal_a_whole_file_pass(causal_exp, causal_runner, tmp_path):
    """Mono and stereo at the model's rate, read in blocks that are not whole
    hops: every channel's output equals the separator on the whole file."""
    x = signal(16000 * 3 + 123, 2, seed=1)
    sf.write(tmp_path / "stereo.wav", x, 16000, subtype="FLOAT")
    sf.write(tmp_path / "mono.wav", x[:, 0], 16000, subtype="FLOAT")
    status = enhance_cli.main(
        ["--model", str(causal_exp), "--streaming", "--quiet",
         str(tmp_path / "stereo.wav"), str(tmp_path / "mono.wav"),
         "-o", str(tmp_path / "out")]
    )  # fmt: skip
    assert status == 0
    whole = causal_runner.forward([x[:, 0], x[:, 1]])
    stereo, fs = sf.read(tmp_path / "out/stereo.wav", dtype="float32")
    mono, _ = sf.read(tmp_path / "out/mono.wav", dtype="float32")
    assert fs == 16000 and stereo.shape == x.shape and mono.shape == x[:, 0].shape
    scale = max(np.abs(w).max() for w in whole)
    assert scale > 1e-3
    for channel in range(2):
        err = np.abs(stereo[:, channel] - whole[channel]).max()
        assert err <= 1e-5 * scale, (channel, err)
    assert np.abs(mono - whole[0]).max() <= 1e-5 * scale


def test_other_rates_are_resampled_and_length_kept(causal_exp, tmp_path):
    x = signal(8000 * 2 + 7, 1, seed=2)[:, 0]
    sf.write(tmp_path / "in8k.wav", x, 8000, subtype="PCM_16")
    status = enhance_cli.main(
        ["--model", str(causal_exp), "--streaming", "--quiet",
         str(tmp_path / "in8k.wav"), "-o", str(tmp_path / "out")]
    )  # fmt: skip
    assert status == 0
    info = sf.info(tmp_path / "out/in8k.wav")
    assert (info.samplerate, info.frames, info.subtype) == (8000, len(x), "PCM_16")


def test_causal_stream_is_bounded_and_blocks_do_not_matter(causal_runner):
    """One sample at a time or a whole second at once: the same samples; the
    output lags the input by at most one window plus one hop."""
    separator = streaming_separator(causal_runner.model)
    x = signal(4000, 2, seed=3)
    outs = {}
    for block in (1, 777, 4000):
        stream = CausalStream(separator, channels=2)
        pieces, lag = [], 0
        for start in range(0, len(x), block):
            pieces += list(stream.push(x[start : start + block]))
            lag = max(lag, min(start + block, len(x)) - stream.frames_done)
        assert lag <= stream.latency_samples + separator.stft.hop_length
        pieces += list(stream.finish())
        outs[block] = np.concatenate(pieces)
        assert outs[block].shape == x.shape
    tolerance = 1e-5 * np.abs(outs[4000]).max()
    np.testing.assert_allclose(outs[1], outs[4000], rtol=0, atol=tolerance)
    np.testing.assert_allclose(outs[777], outs[4000], rtol=0, atol=tolerance)


def test_models_that_cannot_stream_are_refused(tmp_path, caplog):
    local = write_tiny_experiment(tmp_path / "local", "local")
    sf.write(tmp_path / "a.wav", signal(8000, 1, seed=4), 16000)
    status = enhance_cli.main(
        ["--model", str(local), "--streaming", "--quiet", str(tmp_path / "a.wav"),
         "-o", str(tmp_path / "out")]
    )  # fmt: skip
    assert status == 2
    assert "--streaming needs a causal cnunet_tb model" in caplog.text
    assert not (tmp_path / "out" / "a.wav").exists()
    runner = ModelRunner.from_files(resolve_model_files(str(local)))
    with pytest.raises(ModelLoadError, match="TCNSeparator"):
        streaming_separator(runner.model)
