import os

import pytest

from espnet_cffma.fileio import (
    ScpFormatError,
    atomic_path,
    first_line,
    read_scp,
    write_lines_atomic,
    write_text_atomic,
)


def test_read_scp_keeps_order_and_rest_of_line(tmp_path):
    scp = tmp_path / "wav.scp"
    scp.write_text("b /x/b.wav\n\na /x/a file.wav\n")
    assert list(read_scp(scp).items()) == [("b", "/x/b.wav"), ("a", "/x/a file.wav")]


@pytest.mark.parametrize(
    "line, allowed, message",
    [
        ("u sox a.wav -t wav - |", {}, "command pipes"),
        ("u ark:/d/feats.ark:12", {}, "ark entries"),
        ("u /d/feats.ark:12", {}, "ark entries"),
        ("u", {}, "expected '<key> <value>'"),
    ],
)
def test_read_scp_refusals_name_file_and_line(tmp_path, line, allowed, message):
    scp = tmp_path / "wav.scp"
    scp.write_text(f"ok /a.wav\n{line}\n")
    with pytest.raises(ScpFormatError, match=message) as err:
        read_scp(scp, **allowed)
    assert f"{scp}:2" in str(err.value)


def test_read_scp_allows_pipes_and_ark_when_asked(tmp_path):
    scp = tmp_path / "wav.scp"
    scp.write_text("p sox a.wav -t wav - |\nk /d/feats.ark:12\n")
    entries = read_scp(scp, allow_pipes=True, allow_ark=True)
    assert entries == {"p": "sox a.wav -t wav - |", "k": "/d/feats.ark:12"}


def test_read_scp_duplicate_and_missing(tmp_path):
    scp = tmp_path / "wav.scp"
    scp.write_text("a /1.wav\na /2.wav\n")
    with pytest.raises(ScpFormatError, match="duplicate key 'a'"):
        read_scp(scp)
    with pytest.raises(ScpFormatError, match="not found"):
        read_scp(tmp_path / "nope.scp")


def test_atomic_writes_replace_whole_file_and_keep_old_on_error(tmp_path):
    out = tmp_path / "sub" / "list.txt"
    write_lines_atomic(out, ["a", "b"])
    assert out.read_text() == "a\nb\n"
    write_text_atomic(out, "new")
    assert out.read_text() == "new"
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            assert tmp.suffix == ".txt" and tmp.parent == out.parent
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert out.read_text() == "new"
    assert sorted(p.name for p in out.parent.iterdir()) == ["list.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_first_line():
    assert first_line(ValueError("\n  top line\nmore")) == "top line"
    assert first_line(KeyError()) == "KeyError"
