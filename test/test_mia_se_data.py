"""Data dirs of MIA-SE's comparison (espnet_cffma.recipe.mia_se_data)."""

import numpy as np
import soundfile as sf

from espnet_cffma.fileio import read_scp
from espnet_cffma.recipe.mia_se_data import main

FS = 16000


def make_dir(root):
    rng = np.random.default_rng(0)
    (root / "src").mkdir()
    noisy, clean = [], []
    for i in range(3):
        speech = 0.3 * np.sin(2 * np.pi * 200 * np.arange(FS // 2) / FS)
        sf.write(root / f"c{i}.wav", speech, FS)
        sf.write(root / f"n{i}.wav", speech + 0.1 * rng.standard_normal(FS // 2), FS)
        noisy.append(f"u{i} {root}/n{i}.wav\n")
        clean.append(f"u{i} {root}/c{i}.wav\n")
    (root / "src/wav.scp").write_text("".join(noisy))
    (root / "src/spk1.scp").write_text("".join(clean))
    (root / "src/utt2spk").write_text("".join(f"u{i} s\n" for i in range(3)))
    (root / "noise").mkdir()
    sf.write(root / "noise/hum.wav", 0.1 * rng.standard_normal(FS // 4), FS)
    sf.write(root / "noise/silent.wav", np.zeros(FS // 4), FS)


def test_noisy_only_drops_every_reference(tmp_path):
    make_dir(tmp_path)
    assert (
        main(["noisy_only", "--src", f"{tmp_path}/src", "--dst", f"{tmp_path}/dst"])
        == 0
    )
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == [
        "utt2spk",
        "wav.scp",
    ]


def test_noise_pool_and_noise2noise(tmp_path, capsys):
    make_dir(tmp_path)
    out = tmp_path / "pool"
    assert (
        main(["noise_pool", "--out", str(out), "--noise_dir", f"{tmp_path}/noise"]) == 0
    )
    pool = read_scp(out / "noise_pool.scp")
    assert list(pool) == ["noise_hum"]  # the silent recording is left out
    argv = ["noise2noise", "--src", f"{tmp_path}/src", "--dst", f"{tmp_path}/n2n",
            "--noise_pool", str(out / "noise_pool.scp"), "--snrs", "5"]  # fmt: skip
    assert main(argv) == 0
    n2n = tmp_path / "n2n"
    assert (n2n / "wav.scp").read_text() == (tmp_path / "src/wav.scp").read_text()
    for utt, path in read_scp(n2n / "spk1.scp").items():
        second, _ = sf.read(path)
        clean, _ = sf.read(tmp_path / f"c{utt[1]}.wav")
        noise = second - clean
        snr = 10 * np.log10(np.sum(clean**2) / np.sum(noise**2))
        assert abs(snr - 5) < 0.2  # 16-bit rounding
        first, _ = sf.read(tmp_path / f"n{utt[1]}.wav")
        assert not np.allclose(first, second)  # an independent second copy
    assert main(["noise_pool", "--out", str(out)]) == 1
    assert "exactly one of" in capsys.readouterr().err
