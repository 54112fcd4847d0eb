"""cffma-enhance: inputs, formats, bad files, chunking, packing (tiny models, CPU)."""

import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
import torch
import yaml
from tiny_models import write_tiny_experiment

from espnet_cffma.bin import enhance as enhance_cli
from espnet_cffma.bin import pack as pack_cli
from espnet_cffma.enhance.audio_io import AtomicAudioWriter, OutputSpec
from espnet_cffma.enhance.engine import EnhanceOptions, Enhancer, plan_batches
from espnet_cffma.enhance.errors import ModelLoadError
from espnet_cffma.enhance.inputs import collect_jobs
from espnet_cffma.enhance.model_files import resolve_model_files, unpack_model
from espnet_cffma.enhance.overlap_add import OverlapAdd, crossfade
from espnet_cffma.enhance.packing import pack_model
from espnet_cffma.enhance.runner import ModelRunner, declares_padding_invariance

REPO = Path(__file__).resolve().parents[1]


def speechlike(seconds: float, rate: int, channels: int = 1, seed: int = 0):
    """A modulated tone plus noise ``[N, C]`` (float32, peak well below 1)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    cols = []
    for c in range(channels):
        tone = np.sin(2 * np.pi * (200 + 50 * c) * t) * (1 + np.sin(2 * np.pi * t))
        cols.append(0.1 * tone + 0.03 * rng.standard_normal(len(t)))
    return np.stack(cols, axis=1).astype(np.float32)


def no_partial_files(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".part")]


@pytest.fixture(scope="module")
def local_exp(tmp_path_factory):
    return write_tiny_experiment(tmp_path_factory.mktemp("exp") / "local", "local")


@pytest.fixture(scope="module")
def cffma_exp(tmp_path_factory):
    return write_tiny_experiment(tmp_path_factory.mktemp("exp") / "cffma", "bss_cffma")


@pytest.fixture(scope="module")
def local_runner(local_exp):
    return ModelRunner.from_files(resolve_model_files(local_exp))


@pytest.fixture(scope="module")
def cffma_runner(cffma_exp):
    return ModelRunner.from_files(resolve_model_files(cffma_exp))


def run_cli(*args) -> int:
    return enhance_cli.main([str(a) for a in args] + ["--quiet"])


# ----------------------------------------------------------------- formats
FORMAT_CASES = [
    # name, rate, channels, format, subtype
    ("mono8k.wav", 8000, 1, "WAV", "PCM_16"),
    ("stereo44k.wav", 44100, 2, "WAV", "PCM_24"),
    ("mono48k_int32.wav", 48000, 1, "WAV", "PCM_32"),
    ("mono16k_float.wav", 16000, 1, "WAV", "FLOAT"),
    ("mono22k_double.wav", 22050, 1, "WAV", "DOUBLE"),
    ("stereo48k.flac", 48000, 2, "FLAC", "PCM_16"),
    ("mono44k_24.flac", 44100, 1, "FLAC", "PCM_24"),
]


def test_rates_channels_formats_are_preserved(local_exp, local_runner, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    signals = {}
    for i, (name, rate, channels, fmt, subtype) in enumerate(FORMAT_CASES):
        x = speechlike(0.7 + 0.1 * i, rate, channels, seed=i)
        sf.write(src / name, x, rate, format=fmt, subtype=subtype)
        signals[name] = sf.read(src / name, dtype="float32", always_2d=True)[0]
    out = tmp_path / "out"
    assert run_cli("--model", local_exp, src, "-o", out) == 0
    for name, rate, channels, fmt, subtype in FORMAT_CASES:
        info = sf.info(out / name)
        assert (info.samplerate, info.channels, info.format, info.subtype) == (
            rate,
            channels,
            fmt,
            subtype,
        ), name
        assert info.frames == len(signals[name]), name
        y = sf.read(out / name, dtype="float32", always_2d=True)[0]
        assert np.isfinite(y).all()
        assert not np.allclose(y, signals[name], atol=1e-3), f"{name} unchanged"

    # The float 16 kHz file went straight through the model: same as calling it.
    x = signals["mono16k_float.wav"][:, 0]
    expected = local_runner.forward([x])[0]
    y = sf.read(out / "mono16k_float.wav", dtype="float32")[0]
    np.testing.assert_allclose(y, expected, atol=1e-6)
    # The 44.1 kHz stereo file: soxr there, each channel enhanced, soxr back.
    x = signals["stereo44k.wav"]
    at16k = soxr.resample(x, 44100, 16000)
    enhanced = np.stack(local_runner.forward(list(at16k.T)), axis=1)
    back = soxr.resample(enhanced, 16000, 44100)[: len(x)]
    y = sf.read(out / "stereo44k.wav", dtype="float32")[0]
    np.testing.assert_allclose(y, back, atol=2.0 / 2**23)  # PCM_24 rounding


def test_mixdown_writes_mono(local_exp, tmp_path):
    sf.write(tmp_path / "st.wav", speechlike(0.5, 16000, 2), 16000)
    assert (
        run_cli(
            "--model", local_exp, tmp_path / "st.wav", "--mixdown", "-o", tmp_path / "o"
        )
        == 0
    )
    info = sf.info(tmp_path / "o" / "st.wav")
    assert info.channels == 1 and info.frames == 8000


def test_subtype_override_and_skip_existing(local_exp, tmp_path):
    sf.write(tmp_path / "a.wav", speechlike(0.5, 16000), 16000, subtype="PCM_16")
    out = tmp_path / "o"
    assert (
        run_cli(
            "--model", local_exp, tmp_path / "a.wav", "--subtype", "float", "-o", out
        )
        == 0
    )
    assert sf.info(out / "a.wav").subtype == "FLOAT"
    before = (out / "a.wav").stat().st_mtime_ns
    assert (
        run_cli("--model", local_exp, tmp_path / "a.wav", "--skip_existing", "-o", out)
        == 0
    )
    assert (out / "a.wav").stat().st_mtime_ns == before


# ------------------------------------------------------------------ inputs
def test_folder_tree_is_mirrored(local_exp, tmp_path):
    src = tmp_path / "corpus"
    for rel in ("a.wav", "spk1/b.wav", "spk1/deep/c.flac"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        sf.write(src / rel, speechlike(0.4, 16000), 16000)
    (src / "spk1" / "notes.txt").write_text("not audio, ignored in folders")
    out = src / "enhanced"  # inside the input folder: its files are not inputs
    assert run_cli("--model", local_exp, src, "-o", out) == 0
    written = sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()
    )
    assert written == ["a.wav", "spk1/b.wav", "spk1/deep/c.flac"]
    assert run_cli("--model", local_exp, src, "-o", out) == 0  # rerun: same set
    assert len([p for p in out.rglob("*") if p.is_file()]) == 3


def test_wav_scp_list(local_exp, tmp_path, caplog, capsys):
    recipe = tmp_path / "recipe"
    (recipe / "wavs").mkdir(parents=True)
    (recipe / "data" / "test").mkdir(parents=True)
    for key in ("utt1", "utt2"):
        sf.write(recipe / "wavs" / f"{key}.wav", speechlike(0.5, 16000), 16000)
    scp = recipe / "data" / "test" / "wav.scp"
    scp.write_text(
        "utt1 wavs/utt1.wav\n"  # relative to the recipe dir, as in Kaldi dirs
        f"utt2 {recipe / 'wavs' / 'utt2.wav'}\n"
        "utt3 sox noisy.wav -t wav - |\n"
        "utt4 feats.ark:123\n"
        "utt5\n"
    )
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        code = run_cli("--model", local_exp, scp, "-o", out)
    assert code == 1  # utt3 .. utt5 failed, each with its line
    report = capsys.readouterr().err
    assert f"{scp}:3: command pipes are not supported" in report
    assert f"{scp}:4: Kaldi ark entries are not supported" in report
    assert f"{scp}:5: expected '<key> <value>'" in report
    assert (out / "utt1.wav").is_file() and (out / "utt2.wav").is_file()
    lines = (out / "wav.scp").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["utt1", "utt2"]
    assert all(Path(line.split()[1]).is_file() for line in lines)


# -------------------------------------------------------------- bad inputs
def test_bad_inputs_fail_alone_with_clear_messages(local_exp, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    sf.write(src / "good.wav", speechlike(0.5, 16000), 16000)
    sf.write(src / "empty.wav", np.zeros((0, 1), np.float32), 16000)
    sf.write(src / "tiny.wav", speechlike(0.005, 16000), 16000)
    sf.write(src / "silence.wav", np.zeros(8000, np.float32), 16000)
    nan = speechlike(0.5, 16000)
    nan[100] = np.nan
    sf.write(src / "nan.wav", nan, 16000, subtype="FLOAT")
    clipped = np.clip(speechlike(0.5, 16000) * 30, -1, 1)
    sf.write(src / "clipped.wav", clipped, 16000)
    (src / "text.wav").write_text("this is not audio\n" * 50)
    (src / "no_audio").mkdir()
    os.mkfifo(src / "fifo.wav")  # would block a naive reader
    (src / "dangling.wav").symlink_to(tmp_path / "gone.wav")
    missing = tmp_path / "missing.wav"

    out = tmp_path / "out"
    code = run_cli("--model", local_exp, *sorted(src.iterdir()), missing, "-o", out)
    report = capsys.readouterr().err
    assert code == 1
    expected = {
        "empty.wav": "empty audio file",
        "tiny.wav": "too short",
        "nan.wav": "NaN or infinite",
        "text.wav": "not a readable audio file",
        "no_audio": "folder holds no audio files",
        "fifo.wav": "not a regular file",
        "dangling.wav": "broken symbolic link",
        "missing.wav": "no such file",
    }
    for name, message in expected.items():
        line = next(
            line for line in report.splitlines() if name in line and ":" in line
        )
        assert message in line, (name, line)
    assert "clipped.wav: input looks clipped" in report
    written = sorted(p.name for p in out.iterdir())
    assert written == ["clipped.wav", "good.wav", "silence.wav"]
    silence = sf.read(out / "silence.wav")[0]
    assert np.isfinite(silence).all() and not silence.any()
    assert no_partial_files(out)


def test_nan_in_a_streamed_file_leaves_no_output(local_exp, tmp_path):
    x = speechlike(6.0, 16000)
    x[-100] = np.inf
    sf.write(tmp_path / "long.wav", x, 16000, subtype="FLOAT")
    out = tmp_path / "out"
    code = run_cli(
        "--model", local_exp, tmp_path / "long.wav", "--chunk_seconds", "1", "-o", out
    )
    assert code == 1
    assert not (out / "long.wav").exists() and no_partial_files(out)


# ----------------------------------------------------------- model loading
def test_model_errors_name_the_file(local_exp, cffma_exp, tmp_path, caplog):
    wav = tmp_path / "a.wav"
    sf.write(wav, speechlike(0.3, 16000), 16000)
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(local_exp / "config.yaml", bad / "config.yaml")
    data = (local_exp / "valid.loss.best.pth").read_bytes()
    (bad / "valid.loss.best.pth").write_bytes(data[: len(data) // 2])
    (bad / "empty.pth").write_bytes(b"")
    torch.save({"model": object()}, bad / "object.pth")
    shutil.copy(cffma_exp / "valid.loss.best.pth", bad / "other.pth")

    cases = {
        "valid.loss.best.pth": "corrupt or truncated",
        "empty.pth": "empty",
        "object.pth": "--allow_pickle",
        "other.pth": "does not match",
        "nope.pth": "available: empty.pth, object.pth, other.pth",
    }
    for checkpoint, message in cases.items():
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            code = run_cli(
                "--model", bad, "--checkpoint", checkpoint, wav, "-o", tmp_path / "o"
            )
        assert code == 2, checkpoint
        assert message in caplog.text, (checkpoint, caplog.text)
        if checkpoint != "nope.pth":
            assert str(bad / checkpoint) in caplog.text
    with pytest.raises(ModelLoadError, match="Model not found"):
        resolve_model_files(tmp_path / "nowhere")


def test_other_ssl_weights_than_trained_with_are_refused(tmp_path, caplog):
    """A frozen upstream is rebuilt from ssl_path_or_url at load: a different
    file there is a clear load error (exit 2), not a silently different model."""
    from espnet_cffma.ssl.checkpoints import build_random_checkpoint

    exp = write_tiny_experiment(tmp_path / "exp", "bss_cffma")
    build_random_checkpoint("wavlm", exp / "ssl" / "wavlm_tiny.pt", seed=1)
    wav = tmp_path / "a.wav"
    sf.write(wav, speechlike(0.5, 16000), 16000)
    with caplog.at_level(logging.ERROR):
        code = run_cli("--model", exp, wav, "-o", tmp_path / "o")
    assert code == 2
    assert "other SSL weights" in caplog.text
    assert str(exp / "valid.loss.best.pth") in caplog.text


# --------------------------------------------------------------- batching
def test_plan_batches_by_budget_and_length():
    sizes = [(1, 100), (2, 300), (1, 300), (1, 200)]  # (rows, frames)
    assert plan_batches(sizes, 1000, mixed_lengths=False) == [[1, 2], [3], [0]]
    assert plan_batches(sizes, 1000, mixed_lengths=True) == [[1, 2], [3, 0]]
    assert plan_batches(sizes, 500, mixed_lengths=True) == [[1], [2], [3, 0]]
    assert plan_batches([(4, 1000)], 100, mixed_lengths=True) == [[0]]


@pytest.mark.parametrize("which", ["local_runner", "cffma_runner"])
def test_padding_invariance_decides_mixed_batches(which, request):
    runner = request.getfixturevalue(which)
    rows = [speechlike(s, 16000, seed=i)[:, 0] for i, s in enumerate((0.6, 1.3, 0.9))]
    batched = runner.forward(rows)
    same = all(
        np.allclose(out, runner.forward([row])[0], atol=1e-5)
        for row, out in zip(rows, batched)
    )
    # The separator of bss_cffma masks padding; ESPnet's STFT + TCN does not,
    # which is why only a model that declares it gets mixed-length batches.
    assert same == (which == "cffma_runner")
    # bss_cffma declares it (ssl_batch_mode: exact); ESPnet's TCN does not.
    assert runner.mixed_lengths == (which == "cffma_runner")
    assert declares_padding_invariance(runner.model) == (which == "cffma_runner")
    assert not ModelRunner(runner.model, fs=16000, mixed_lengths=False).mixed_lengths
    if which == "local_runner":
        separator = runner.model.separator
        separator.padding_invariant = True
        try:
            assert ModelRunner(runner.model, fs=runner.fs).mixed_lengths
        finally:
            del separator.padding_invariant


def test_mixed_lengths_option_gives_the_same_files(local_exp, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i, seconds in enumerate((0.4, 0.7, 0.7)):
        sf.write(src / f"{i}.wav", speechlike(seconds, 16000, seed=i), 16000)
    outputs = {}
    for flag in ("true", "false"):
        out = tmp_path / flag
        assert (
            run_cli("--model", local_exp, src, "-o", out, "--batch_mixed_lengths", flag)
            == 0
        )
        outputs[flag] = {p.name: sf.read(p)[0] for p in sorted(out.glob("*.wav"))}
    # The equally long files share a batch either way; the local model sees the
    # padding of the short one only when mixed lengths are allowed.
    np.testing.assert_allclose(
        outputs["true"]["1.wav"], outputs["false"]["1.wav"], atol=1e-6
    )
    assert not np.allclose(
        outputs["true"]["0.wav"], outputs["false"]["0.wav"], atol=1e-6
    )


# ---------------------------------------------------------------- chunking
def test_crossfade_sums_to_one_and_identity_is_exact():
    fade_in, fade_out = crossfade(37)
    np.testing.assert_allclose(fade_in + fade_out, 1.0, atol=1e-7)
    x = np.random.default_rng(0).standard_normal((1000, 2)).astype(np.float32)
    ola = OverlapAdd(lambda c: c.copy(), chunk=128, overlap=32)
    blocks = [b for i in range(0, 1000, 77) for b in ola.push(x[i : i + 77])]
    y = np.concatenate(blocks + list(ola.finish()))
    np.testing.assert_allclose(y, x, atol=1e-6)


def chunk_edges(enhancer: Enhancer, n: int) -> np.ndarray:
    hop = enhancer.chunk - enhancer.overlap
    starts = np.arange(0, n, hop)
    return np.concatenate([starts[1:], starts + enhancer.chunk])


def enhance_both_ways(runner, wav: Path, tmp_path: Path):
    outs = {}
    for name, chunk in (("whole", 100.0), ("chunked", 2.0)):
        enhancer = Enhancer(
            runner, EnhanceOptions(chunk_seconds=chunk, overlap_seconds=0.25)
        )
        summary = enhancer.run(collect_jobs([wav], tmp_path / name), progress=False)
        assert not summary.failed, summary.report()
        outs[name] = sf.read(tmp_path / name / wav.name, dtype="float64")[0]
    return outs["whole"], outs["chunked"], enhancer


@pytest.mark.parametrize("rate", [16000, 44100])
def test_chunked_equals_whole_for_a_local_model(local_runner, tmp_path, rate):
    wav = tmp_path / "x.wav"
    sf.write(wav, speechlike(7.3, rate), rate, subtype="FLOAT")
    whole, chunked, enhancer = enhance_both_ways(local_runner, wav, tmp_path)
    assert enhancer.chunk < len(whole)  # really chunked
    # Distance of each sample from a chunk edge, in model-rate samples.
    position = np.arange(len(whole)) * 16000 / rate
    edges = chunk_edges(enhancer, int(position[-1]) + 1)
    distance = np.min(np.abs(position[:, None] - edges[None, :]), axis=1)
    # The TCN sees +-3 frames of 64 samples, each frame 256 samples: ~450 samples.
    far = distance > 1024
    error = np.abs(whole - chunked)
    scale = np.sqrt(np.mean(whole**2))
    assert error[far].max() < 1e-6 * max(scale, 1e-3) * 100  # float32 rounding
    assert error.max() < 0.05 * scale  # close at the borders too
    assert len(chunked) == len(whole) == int(7.3 * rate)


def test_chunked_close_to_whole_for_bss_cffma(cffma_runner, tmp_path):
    wav = tmp_path / "x.wav"
    sf.write(wav, speechlike(6.0, 16000), 16000, subtype="FLOAT")
    whole, chunked, enhancer = enhance_both_ways(cffma_runner, wav, tmp_path)
    assert enhancer.chunk == 32000 and enhancer.overlap == 3840  # 320-sample grid
    error = whole - chunked
    snr = 10 * np.log10(np.sum(whole**2) / np.sum(error**2))
    worst = np.abs(error).max()
    print(f"bss_cffma chunked vs whole: SNR {snr:.1f} dB, max |err| {worst:.2e}")
    # Self-attention spans the whole chunk, so outputs differ everywhere a little.
    assert snr > 30.0


# ----------------------------------------------------------------- packing
@pytest.mark.slow  # ESPnet inference end to end on the unpacked archive
def test_pack_roundtrip_with_espnet_inference(cffma_exp, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    archive = tmp_path / "model.zip"
    assert (
        pack_cli.main(
            ["--exp_dir", str(cffma_exp), "--output", str(archive), "--bundle_ssl"]
        )
        == 0
    )
    with zipfile.ZipFile(archive) as z:
        names = set(z.namelist())
    tag = cffma_exp.name
    assert {
        "meta.yaml",
        f"exp/{tag}/config.yaml",
        f"exp/{tag}/valid.loss.best.pth",
    } <= names
    assert f"exp/{tag}/ssl/wavlm_tiny.pt" in names

    # The bundled SSL copy is used: the original is gone.
    moved = tmp_path / "moved"
    shutil.move(cffma_exp / "ssl", moved)
    try:
        from espnet2.main_funcs.pack_funcs import unpack

        files = unpack(archive, tmp_path / "unpacked")
        config = yaml.safe_load(Path(files["train_config"]).read_text())
        ssl_path = Path(config["separator_conf"]["ssl_path_or_url"])
        assert ssl_path.is_file() and (tmp_path / "unpacked") in ssl_path.parents

        wav = tmp_path / "a.wav"
        sf.write(wav, speechlike(1.0, 16000), 16000, subtype="FLOAT")
        (tmp_path / "wav.scp").write_text(f"a {wav}\n")
        from espnet_cffma.bin import enh_inference

        enh_inference.main(
            [
                "--train_config",
                files["train_config"],
                "--model_file",
                files["model_file"],
                "--data_path_and_name_and_type",
                f"{tmp_path / 'wav.scp'},speech_mix,sound",
                "--output_dir",
                str(tmp_path / "espnet_out"),
                "--fs",
                "16000",
            ]
        )
        espnet_path = (tmp_path / "espnet_out" / "spk1.scp").read_text().split()[1]
        espnet_out = sf.read(espnet_path, dtype="float32")[0]

        assert run_cli("--model", archive, wav, "-o", tmp_path / "ours") == 0
        ours = sf.read(tmp_path / "ours" / "a.wav", dtype="float32")[0]
        np.testing.assert_allclose(ours, espnet_out, atol=1e-4)
        cached = unpack_model(archive)  # second use: the cached, complete unpack
        assert cached.model_file.is_file()
    finally:
        shutil.move(moved, cffma_exp / "ssl")


def test_pack_referencing_ssl_and_bad_archives(cffma_exp, tmp_path):
    archive = pack_model(tmp_path / "ref.tar.gz", exp_dir=cffma_exp)
    files = unpack_model(archive, tmp_path / "unpacked")
    config = yaml.safe_load(files.config.read_text())
    ssl = Path(config["separator_conf"]["ssl_path_or_url"])
    assert ssl.is_absolute() and ssl == (cffma_exp / "ssl" / "wavlm_tiny.pt").resolve()

    broken = tmp_path / "broken.zip"
    broken.write_bytes(archive.read_bytes()[:100])
    with pytest.raises(ModelLoadError, match="broken.zip"):
        unpack_model(broken, tmp_path / "u2")
    with pytest.raises(ModelLoadError, match="no supported extension"):
        pack_model(tmp_path / "model.rar", exp_dir=cffma_exp)


# ------------------------------------------------------------- plumbing
def test_integer_output_is_clipped_not_wrapped(tmp_path):
    spec = OutputSpec(tmp_path / "c.wav", 16000, 1, "WAV", "PCM_16")
    with AtomicAudioWriter(spec, 4) as writer:
        writer.write(np.array([[1.5], [-2.0], [0.5]], np.float32))
    y = sf.read(tmp_path / "c.wav")[0]
    assert writer.clipped == 2 and len(y) == 4  # zero-filled to the length
    assert y[0] > 0.99 and y[1] < -0.99 and y[3] == 0


def test_module_entry_point_and_exit_codes(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "espnet_cffma.bin.enhance", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0 and "--chunk_seconds" in result.stdout
    assert (
        run_cli("--model", tmp_path / "none", tmp_path / "a.wav", "-o", tmp_path) == 2
    )
    script = Path(sys.executable).parent / "cffma-enhance"
    assert script.is_file() and os.access(script, os.X_OK)
