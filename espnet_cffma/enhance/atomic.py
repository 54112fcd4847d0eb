"""Writing small text files atomically (temporary file, then ``os.replace``)."""

import os
import tempfile
from pathlib import Path


def default_file_mode() -> int:
    """The mode ``open()`` would give a new file (0666 minus the umask).

    ``tempfile.mkstemp`` creates files readable by their owner only; outputs
    renamed into place get the ordinary mode back.
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_text_atomic(path: str | Path, text: str) -> None:
    """Writes ``text`` to ``path`` so that readers see the old or the new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
