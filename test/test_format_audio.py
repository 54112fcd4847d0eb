"""Stage 2, espnet_cffma.recipe.format_audio: resample once, check, filter."""

import numpy as np
import pytest
import soundfile as sf
from recipe_checks import write_data_dir

from espnet_cffma.fileio import ScpFormatError
from espnet_cffma.recipe import format_audio
from espnet_cffma.recipe.format_audio import FormatError


def test_format_resamples_once_with_high_quality(tmp_path):
    fs_in, n = 48000, 48000 + 7
    t = np.arange(n) / fs_in
    tone = 0.5 * np.sin(2 * np.pi * 1000.0 * t)
    data = write_data_dir(tmp_path, {"s1_a": tone, "s1_b": tone[:24000]}, fs_in)
    counts = format_audio.format_data_dir(
        data, tmp_path / "out", fs=16000, scps=["wav.scp", "spk1.scp"], nj=2
    )
    assert counts["kept"] == 2
    out = tmp_path / "out"
    x, fs = sf.read(out / "audio" / "wav" / "s1_a.wav", dtype="float64")
    assert fs == 16000
    assert len(x) == round(n / 3)
    assert (out / "utt2num_samples").read_text() == f"s1_a {len(x)}\ns1_b 8000\n"
    # Compare with the ideal 16 kHz tone away from the edges: one good resampling
    # step (plus 16-bit rounding) leaves the error near -90 dB.
    ideal = 0.5 * np.sin(2 * np.pi * 1000.0 * np.arange(len(x)) / 16000)
    mid = slice(800, len(x) - 800)
    err_db = 10 * np.log10(
        np.mean((x[mid] - ideal[mid]) ** 2) / np.mean(ideal[mid] ** 2)
    )
    assert err_db < -70
    assert sf.info(out / "audio" / "wav" / "s1_a.wav").subtype == "PCM_16"
    for name in ("wav.scp", "spk1.scp"):
        lines = (out / name).read_text().splitlines()
        assert [line.split()[0] for line in lines] == ["s1_a", "s1_b"]
    assert (out / "spk2utt").read_text() == "s1 s1_a s1_b\n"


def test_format_copies_audio_already_at_target_rate(tmp_path):
    rng = np.random.default_rng(0)
    x = np.round(rng.uniform(-0.5, 0.5, 16000) * 32767) / 32768
    data = write_data_dir(tmp_path, {"s_a": x}, 16000)
    format_audio.format_data_dir(data, tmp_path / "out", fs=16000)
    y, fs = sf.read(tmp_path / "out" / "audio" / "wav" / "s_a.wav", dtype="float64")
    assert fs == 16000 and np.array_equal(x, y)


def make_bad_corpus(tmp_path):
    good = 0.1 * np.ones(16000)
    data = write_data_dir(tmp_path, {"a_ok": good, "b_nan": good, "c_st": good}, 16000)
    sf.write(
        tmp_path / "src" / "b_nan_n.wav", np.full(16000, np.nan), 16000, subtype="FLOAT"
    )
    sf.write(tmp_path / "src" / "c_st_c.wav", np.zeros((16000, 2)), 16000)
    sf.write(tmp_path / "src" / "d_empty_n.wav", np.zeros(0), 16000)
    sf.write(tmp_path / "src" / "d_empty_c.wav", np.zeros(0), 16000)
    sf.write(tmp_path / "src" / "e_len_n.wav", good, 16000)
    sf.write(tmp_path / "src" / "e_len_c.wav", good[:8000], 16000)
    with open(data / "wav.scp", "a") as f:
        f.write(
            f"d_empty {tmp_path}/src/d_empty_n.wav\ne_len {tmp_path}/src/e_len_n.wav\n"
        )
        f.write(f"f_gone {tmp_path}/src/nothing.wav\n")
    with open(data / "spk1.scp", "a") as f:
        f.write(
            f"d_empty {tmp_path}/src/d_empty_c.wav\ne_len {tmp_path}/src/e_len_c.wav\n"
        )
        f.write(f"f_gone {tmp_path}/src/c_st_c.wav\n")
    with open(data / "utt2spk", "a") as f:
        f.write("d_empty d\ne_len e\nf_gone f\n")
    return data


def test_format_reports_bad_files_by_name(tmp_path):
    data = make_bad_corpus(tmp_path)
    with pytest.raises(FormatError) as err:
        format_audio.format_data_dir(data, tmp_path / "out", scps=["spk1.scp"])
    msg = str(err.value)
    assert "5 utterance(s)" in msg and "--skip_bad true" in msg
    assert "b_nan_n.wav\tcontains NaN or Inf samples" in msg
    assert "c_st_c.wav\tmulti-channel (2 channels)" in msg
    assert "d_empty_n.wav\tempty (0 samples)" in msg
    assert "e_len_c.wav\tlength mismatch" in msg
    assert "nothing.wav\tfile does not exist" in msg
    assert not (tmp_path / "out" / "wav.scp").exists()  # nothing half-written
    bad = (tmp_path / "out" / "bad_files.txt").read_text().splitlines()
    assert len(bad) == 7  # one line per bad file: d_empty and f_gone have two
    assert len({line.split("\t")[0] for line in bad}) == 5
    counts = format_audio.format_data_dir(
        data, tmp_path / "out", scps=["spk1.scp"], skip_bad=True
    )
    assert counts["kept"] == 1 and counts["bad"] == 5
    assert (tmp_path / "out" / "wav.scp").read_text().split()[0] == "a_ok"


def test_format_cli_exit_code_and_duration_filter(tmp_path, capsys):
    sig = {"s_short": np.ones(800) * 0.1, "s_mid": np.ones(16000) * 0.1}
    sig["s_long"] = np.ones(48000) * 0.1
    data = write_data_dir(tmp_path, sig, 16000)
    args = ["--in_dir", str(data), "--out_dir", str(tmp_path / "out")]
    code = format_audio.main(
        args
        + [
            "--scps",
            "wav.scp",
            "spk1.scp",
            "--min_duration",
            "0.1",
            "--max_duration",
            "2",
        ]
    )
    assert code == 0
    assert "kept 1, too long 1, too short 1" in capsys.readouterr().out
    assert (tmp_path / "out" / "wav.scp").read_text().split()[0] == "s_mid"
    filtered = (tmp_path / "out" / "filtered_utts.txt").read_text()
    assert "s_short\t0.050\ttoo short" in filtered
    # Rerun without filters: all kept, the stale report is gone, no duplicates.
    assert format_audio.main(args + ["--min_duration", "none"]) == 0
    keys = [
        line.split()[0]
        for line in (tmp_path / "out" / "wav.scp").read_text().splitlines()
    ]
    assert keys == ["s_long", "s_mid", "s_short"]
    assert not (tmp_path / "out" / "filtered_utts.txt").exists()
    (data / "utt2spk").write_text("s_mid s\n")
    assert format_audio.main(args) == 1
    assert (
        "utt2spk does not match wav.scp: 2 utterance(s) missing"
        in capsys.readouterr().err
    )


def test_format_rejects_pipes_and_duplicate_ids_by_line(tmp_path, capsys):
    data = write_data_dir(tmp_path, {"s_a": np.ones(1600) * 0.1}, 16000)
    args = ["--in_dir", str(data), "--out_dir", str(tmp_path / "out")]
    (data / "wav.scp").write_text("s_a sox x.wav -t wav - |\n")
    with pytest.raises(ScpFormatError, match="wav.scp:1: command pipes are not"):
        format_audio.format_data_dir(data, tmp_path / "out")
    (data / "wav.scp").write_text(f"s_a {tmp_path}/src/s_a_n.wav\ns_a x.wav\n")
    assert format_audio.main(args) == 1
    assert "wav.scp:2: duplicate key 's_a'" in capsys.readouterr().err
    assert not (tmp_path / "out" / "wav.scp").exists()
