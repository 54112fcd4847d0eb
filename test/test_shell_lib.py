"""scripts/utils/lib.sh: atomic sorted writes, scp splitting, done markers."""

from recipe_checks import TEMPLATE, bash

LIB = f". {TEMPLATE}/scripts/utils/lib.sh\n"


def test_write_sorted_is_atomic_and_deduplicates(tmp_path):
    out = tmp_path / "d" / "wav.scp"
    script = LIB + 'printf "b 2\\na 1\\nb 2\\n" | write_sorted "$1"; cat "$1"'
    for _ in range(2):  # rerunning gives the same file
        res = bash(script, out)
        assert res.returncode == 0, res.stderr
        assert res.stdout == "a 1\nb 2\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["wav.scp"]  # no tmp left
    dup = bash(LIB + 'printf "a 1\\na 2\\n" > "$1"; check_unique_keys "$1"', out)
    assert dup.returncode == 1 and "appear more than once: a" in dup.stderr


def test_split_scp_covers_input_in_order(tmp_path):
    scp = tmp_path / "in.scp"
    scp.write_text("".join(f"u{i:02d} x\n" for i in range(10)))
    res = bash(LIB + 'split_scp "$1" 3 "$2"/keys', scp, tmp_path)
    assert res.returncode == 0, res.stderr
    pieces = [(tmp_path / f"keys.{n}.scp").read_text() for n in (1, 2, 3)]
    assert all(pieces) and "".join(pieces) == scp.read_text()
    res = bash(LIB + 'split_scp "$1" 11 "$2"/keys', scp, tmp_path)
    assert res.returncode == 1 and "cannot split" in res.stderr


def test_done_markers_compare_signatures(tmp_path):
    script = LIB + (
        'is_done "$1" sig1 && echo before; mark_done "$1" sig1; '
        'is_done "$1" sig1 && echo same; is_done "$1" sig2 || echo changed'
    )
    res = bash(script, tmp_path / "step")
    assert res.stdout.split() == ["same", "changed"]
