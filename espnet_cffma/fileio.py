"""Small file helpers every part of the plugin shares.

- Kaldi-style ``<key> <value>`` lists (``wav.scp``, ``spk1.scp``, ...), with
  command pipes and ``ark:`` entries allowed or refused explicitly;
- writing files atomically (a temporary file in the same folder, then
  ``os.replace``), so that a reader or a re-run stage sees the old file or the
  new one, never half of one;
- the first line of an error, for one-line messages that name the file.
"""

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

# "file.ark:1234": an entry inside a Kaldi archive, not a file of its own.
_ARK_OFFSET = re.compile(r"\.ark:\d+$")


class ScpFormatError(ValueError):
    """A list file is missing, malformed, or holds entries the caller refuses."""


def is_pipe_entry(value: str) -> bool:
    """True for a Kaldi command entry (``sox in.wav -t wav - |``)."""
    return value.rstrip().endswith("|")


def is_ark_entry(value: str) -> bool:
    """True for an entry read from a Kaldi archive (``ark:...`` or ``x.ark:123``)."""
    return value.startswith("ark:") or bool(_ARK_OFFSET.search(value))


@dataclass(frozen=True)
class ScpLine:
    """One non-empty line of a list: its key and value, or why it is refused.

    Attributes:
        where: ``file:line`` for messages.
        key: the first field ("" when the line has none).
        value: the rest of the line.
        error: the problem with this line (None when usable).
    """

    where: str
    key: str
    value: str
    error: str | None = None


def iter_scp(
    path: str | os.PathLike,
    *,
    allow_pipes: bool = False,
    allow_ark: bool = False,
) -> Iterator[ScpLine]:
    """Reads a Kaldi-style ``<key> <value>`` list line by line.

    Unlike :func:`read_scp`, a bad line does not stop the reading: it comes
    back with its ``error`` set, so callers that handle entries one by one
    (``cffma-enhance``) can report it and go on with the others.

    Args:
        path: the list.
        allow_pipes: accept ``command |`` entries (else an error line).
        allow_ark: accept ``ark:`` / ``file.ark:offset`` entries (else an error).

    Yields:
        One :class:`ScpLine` per non-empty line, in file order.

    Raises:
        ScpFormatError: the file itself is missing or unreadable.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScpFormatError(f"{path}: list file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ScpFormatError(f"{path}: cannot read list ({first_line(e)})") from e
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = line.split(maxsplit=1)
        where = f"{path}:{number}"
        key, value = parts if len(parts) == 2 else (parts[0], "")
        error = None
        if len(parts) != 2:
            error = f"expected '<key> <value>', got {line!r}"
        elif key in seen:
            error = f"duplicate key {key!r}"
        elif not allow_pipes and is_pipe_entry(value):
            error = (
                f"command pipes are not supported here ({value!r}): list audio files"
            )
        elif not allow_ark and is_ark_entry(value):
            error = (
                f"Kaldi ark entries are not supported here ({value!r}): "
                "list audio files"
            )
        seen.add(key)
        yield ScpLine(where, key, value, error)


def read_scp(
    path: str | os.PathLike,
    *,
    allow_pipes: bool = False,
    allow_ark: bool = False,
) -> dict[str, str]:
    """Reads a Kaldi-style ``<key> <value>`` list.

    Args:
        path: the list (``wav.scp``, ``spk1.scp``, a key file, ...).
        allow_pipes: accept ``command |`` entries (else refused with an error).
        allow_ark: accept ``ark:`` / ``file.ark:offset`` entries (else refused).

    Returns:
        Key -> rest of the line, in file order.

    Raises:
        ScpFormatError: the file is missing or unreadable, a line has no value,
            a key repeats, or an entry is of a refused kind. The message names
            the file and line.
    """
    entries: dict[str, str] = {}
    for line in iter_scp(path, allow_pipes=allow_pipes, allow_ark=allow_ark):
        if line.error is not None:
            raise ScpFormatError(f"{line.where}: {line.error}")
        entries[line.key] = line.value
    return entries


def default_file_mode() -> int:
    """The mode ``open()`` would give a new file (0666 minus the umask).

    ``tempfile.mkstemp`` creates files readable by their owner only; files
    renamed into place get the ordinary mode back.
    """
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yields a temporary path beside ``path``; renames it onto ``path`` on success.

    The temporary name keeps ``path``'s suffix, so writers that infer the
    format from it (soundfile, matplotlib, ``torch.save``) behave as for the
    final name. On an exception the temporary file is removed and ``path`` is
    left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".part{path.suffix}", dir=path.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Writes ``text`` to ``path`` so that readers see the old or the new file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_lines_atomic(path: str | os.PathLike, lines: Iterable[str]) -> None:
    """Writes newline-terminated ``lines`` to ``path`` atomically."""
    write_text_atomic(path, "".join(f"{line}\n" for line in lines))


def first_line(error: BaseException) -> str:
    """The first non-empty line of an error's message (or its type name)."""
    for line in str(error).splitlines():
        if line.strip():
            return line.strip()
    return type(error).__name__
