"""End of stage 1, espnet_cffma.recipe.data_dir: validating a Kaldi-style data dir."""

import numpy as np
import pytest
from recipe_checks import write_data_dir

from espnet_cffma.recipe import data_dir
from espnet_cffma.recipe.format_audio import FormatError


def test_validate_data_dir(tmp_path):
    data = write_data_dir(tmp_path, {"s_a": np.ones(100), "s_b": np.ones(100)}, 16000)
    (data / "spk2utt").write_text("s s_a s_b\n")
    assert data_dir.validate(data) == 2
    (data / "spk2utt").write_text("s s_a\n")
    with pytest.raises(FormatError, match="spk2utt does not match utt2spk"):
        data_dir.validate(data)
    (data / "spk2utt").unlink()
    lines = (data / "spk1.scp").read_text().splitlines()
    (data / "spk1.scp").write_text("\n".join(reversed(lines)) + "\n")
    with pytest.raises(FormatError, match="spk1.scp is not sorted"):
        data_dir.validate(data)
    (data / "spk1.scp").write_text(lines[0] + "\n")
    with pytest.raises(FormatError, match="spk1.scp and wav.scp list different"):
        data_dir.validate(data)
    (data / "spk1.scp").write_text("\n".join(lines) + "\n")
    (tmp_path / "src" / "s_b_c.wav").unlink()
    with pytest.raises(FormatError, match="1 audio file"):
        data_dir.validate(data)
    assert data_dir.main(["validate", str(tmp_path / "none")]) == 1
