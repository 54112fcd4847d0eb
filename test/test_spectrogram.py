"""Stage 7, espnet_cffma.recipe.spectrogram: noisy/enhanced/clean pictures."""

import numpy as np
import pytest
import soundfile as sf

from espnet_cffma.recipe import spectrogram
from espnet_cffma.recipe.format_audio import FormatError


def test_spectrogram_pictures(tmp_path):
    rng = np.random.default_rng(0)
    scps = {}
    for name in ("noisy", "enhanced", "clean"):
        lines = []
        for i in range(5):
            path = tmp_path / f"{name}_{i}.wav"
            sf.write(path, 0.1 * rng.standard_normal(8000), 16000)
            lines.append(f"u{i} {path}\n")
        scps[name] = tmp_path / f"{name}.scp"
        scps[name].write_text("".join(lines))
    code = spectrogram.main(
        ["--noisy_scp", str(scps["noisy"]), "--enhanced_scp", str(scps["enhanced"]),
         "--clean_scp", str(scps["clean"]), "--num", "3",
         "--output_dir", str(tmp_path / "img")]
    )  # fmt: skip
    assert code == 0
    pngs = sorted(p.name for p in (tmp_path / "img").iterdir())
    assert pngs == ["u0.png", "u2.png", "u4.png"]
    assert (tmp_path / "img" / "u0.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(FormatError, match="not in all three lists"):
        spectrogram.make_pictures(*scps.values(), tmp_path / "img", keys=["zz"])
