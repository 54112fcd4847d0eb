"""fileio.iter_scp: one problem per line, the other lines still usable."""

import pytest

from espnet_cffma.fileio import ScpFormatError, iter_scp, read_scp


def test_iter_scp_reports_each_bad_line_and_keeps_the_rest(tmp_path):
    scp = tmp_path / "wav.scp"
    scp.write_text(
        "a a.wav\n\nb sox b.wav -t wav - |\nc feats.ark:12\nd\na again.wav\ne e.wav\n"
    )
    lines = list(iter_scp(scp))
    assert [(line.key, line.error is None) for line in lines] == [
        ("a", True),
        ("b", False),
        ("c", False),
        ("d", False),
        ("a", False),
        ("e", True),
    ]
    errors = {line.where: line.error for line in lines if line.error}
    assert "command pipes" in errors[f"{scp}:3"]
    assert "ark entries" in errors[f"{scp}:4"]
    assert "expected '<key> <value>'" in errors[f"{scp}:5"]
    assert "duplicate key 'a'" in errors[f"{scp}:6"]
    allowed = list(iter_scp(scp, allow_pipes=True, allow_ark=True))
    assert [line.key for line in allowed if line.error is None] == ["a", "b", "c", "e"]
    # read_scp stops at the first problem, naming it the same way.
    with pytest.raises(ScpFormatError, match=r"wav\.scp:3: command pipes"):
        read_scp(scp)


def test_iter_scp_missing_file_is_one_error(tmp_path):
    with pytest.raises(ScpFormatError, match="list file not found"):
        list(iter_scp(tmp_path / "none.scp"))
