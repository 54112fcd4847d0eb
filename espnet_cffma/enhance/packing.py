"""Model archives in ESPnet's format, optionally with the SSL checkpoint inside.

Archives are written by ``espnet2.main_funcs.pack_funcs.pack`` itself, so
``espnet2.main_funcs.pack_funcs.unpack`` (and ``espnet_model_zoo``) read them:
``meta.yaml`` maps ``train_config`` / ``model_file`` (the keyword names of
ESPnet's ``SeparateSpeech``) to members under ``exp/<tag>/``. The SSL upstream
checkpoint named in the config (``separator_conf.ssl_path_or_url``) is either

* bundled: stored as an extra member ``exp/<tag>/ssl/<name>`` and the config
  pointed at that member name; ``unpack`` rewrites every config value equal to
  a member name into the unpacked file's path, so the SSL path works wherever
  the archive is unpacked; or
* referenced: the config gets the checkpoint's absolute path, which must then
  exist where the archive is used.

``pack`` stores paths relative to the working directory (absolute ones would
break ``unpack``), so the archive is assembled in a staging folder
(hard links where possible) and packed from there.
"""

import contextlib
import hashlib
import io
import logging
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from espnet_cffma.enhance.errors import ModelLoadError
from espnet_cffma.enhance.model_files import (
    ARCHIVE_DOUBLE_SUFFIXES,
    DEFAULT_CHECKPOINT,
    ModelFiles,
    find_ssl_paths,
    is_archive,
    locate_ssl_file,
    read_config,
    resolve_model_files,
    set_in,
)

logger = logging.getLogger(__name__)

# Written last into an unpack folder: a folder without it is incomplete.
_COMPLETE_MARKER = ".unpack_complete"


@contextlib.contextmanager
def _working_directory(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:  # other filesystem, or links not allowed
        shutil.copy2(src, dst)


def pack_model(
    output: str | Path,
    exp_dir: str | Path | None = None,
    checkpoint: str = DEFAULT_CHECKPOINT,
    config: str | Path | None = None,
    model_file: str | Path | None = None,
    bundle_ssl: bool = False,
) -> Path:
    """Packs a trained model into one archive that ESPnet can unpack.

    Args:
        output: archive path (``.zip``, ``.tar``, ``.tar.gz``, ``.tgz``, ...).
        exp_dir: experiment directory (``exp/<tag>``) with ``config.yaml``.
        checkpoint: the ``.pth`` in ``exp_dir`` to pack.
        config: explicit config (instead of ``exp_dir``; with ``model_file``).
        model_file: explicit state_dict file.
        bundle_ssl: put the SSL checkpoint(s) named in the config inside the
            archive; otherwise the config refers to them by absolute path.

    Returns:
        The archive path (written atomically).

    Raises:
        ModelLoadError: missing inputs, an SSL checkpoint that cannot be found,
            or an unsupported archive name.
    """
    from espnet2.main_funcs.pack_funcs import pack

    output = Path(output).absolute()
    if not is_archive(output):
        raise ModelLoadError(
            f"Archive name {output.name} has no supported extension "
            "(.zip, .tar, .tgz, .tar.gz, .tar.bz2, .tar.xz)"
        )
    files = resolve_model_files(
        exp_dir, checkpoint=checkpoint, config=config, model_file=model_file
    )
    train_config = read_config(files.config)
    tag = (Path(exp_dir) if exp_dir is not None else files.model_file.parent).resolve()
    root = Path("exp") / (tag.name or "model")

    ssl_members = []
    for key_path, value in find_ssl_paths(train_config):
        found = locate_ssl_file(value, files.config)
        if found is None:
            raise ModelLoadError(
                f"SSL checkpoint '{value}' named in {files.config} "
                f"({'.'.join(map(str, key_path))}) not found"
            )
        if bundle_ssl:
            member = root / "ssl" / found.name
            ssl_members.append((found.resolve(), member))
            set_in(train_config, key_path, member.as_posix())
        else:
            set_in(train_config, key_path, str(found.resolve()))
            logger.warning(
                "The archive refers to the SSL checkpoint %s; it must exist where "
                "the archive is used (or pack with --bundle_ssl)",
                found.resolve(),
            )

    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pack-", dir=output.parent) as stage:
        stage = Path(stage)
        config_member = root / "config.yaml"
        model_member = root / Path(checkpoint if exp_dir else files.model_file).name
        (stage / root).mkdir(parents=True)
        with (stage / config_member).open("w", encoding="utf-8") as f:
            yaml.safe_dump(train_config, f, allow_unicode=True, sort_keys=False)
        # resolve(): ESPnet's valid.loss.best.pth is a symlink to "N epoch.pth".
        _link_or_copy(files.model_file.resolve(), stage / model_member)
        for src, member in ssl_members:
            _link_or_copy(src, stage / member)
        double = tuple(output.suffixes[-2:]) in ARCHIVE_DOUBLE_SUFFIXES
        suffix = "".join(output.suffixes[-2:]) if double else output.suffix
        tmp_output = stage / f"archive{suffix}"
        with _working_directory(stage), contextlib.redirect_stdout(io.StringIO()):
            pack(
                files={"model_file": model_member.as_posix()},
                yaml_files={"train_config": config_member.as_posix()},
                outpath=tmp_output.name,
                option=[member.as_posix() for _, member in ssl_members],
            )
        os.replace(tmp_output, output)
    logger.info("Packed %s (%s, ssl bundled: %s)", output, files.model_file, bundle_ssl)
    return output


def default_unpack_dir(archive: Path) -> Path:
    """A cache folder per archive (path, size and mtime), under XDG_CACHE_HOME."""
    stat = archive.stat()
    key = f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    name = archive.name.split(".")[0] or "model"
    return cache / "espnet_cffma" / "models" / f"{name}-{digest}"


def _check_members(archive: Path) -> None:
    """Refuses archives with absolute, parent-relative or special members."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                names = z.namelist()
                bad_crc = z.testzip()
            if bad_crc is not None:
                raise ModelLoadError(f"Archive {archive} is corrupt ({bad_crc})")
            special = []
        else:
            with tarfile.open(archive) as t:
                members = t.getmembers()
            names = [m.name for m in members]
            special = [m.name for m in members if not (m.isfile() or m.isdir())]
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as e:
        raise ModelLoadError(f"Cannot read archive {archive}: {e}") from None
    unsafe = [n for n in names if Path(n).is_absolute() or ".." in Path(n).parts]
    if unsafe or special:
        raise ModelLoadError(
            f"Archive {archive} has unsafe members: {(unsafe + special)[:3]}"
        )


def unpack_model(archive: str | Path, dest: str | Path | None = None) -> ModelFiles:
    """Unpacks an archive with ESPnet's ``unpack`` (reusing a complete earlier one).

    Args:
        archive: the archive.
        dest: target folder (default: :func:`default_unpack_dir`).

    Returns:
        The unpacked config and model file.

    Raises:
        ModelLoadError: unreadable archive, or not an ESPnet model archive.
    """
    from espnet2.main_funcs.pack_funcs import unpack

    archive = Path(archive)
    if not archive.is_file():
        raise ModelLoadError(f"Model archive not found: {archive}")
    dest = Path(dest) if dest is not None else default_unpack_dir(archive)
    marker = dest / _COMPLETE_MARKER
    if marker.is_file():
        result = yaml.safe_load(marker.read_text(encoding="utf-8"))
        files = ModelFiles(Path(result["train_config"]), Path(result["model_file"]))
        if files.config.is_file() and files.model_file.is_file():
            return files
    _check_members(archive)
    if dest.exists():
        shutil.rmtree(dest)  # an interrupted earlier unpack
    dest.mkdir(parents=True)
    try:
        result = unpack(archive, dest, use_cache=False)
    except (RuntimeError, KeyError, AssertionError, yaml.YAMLError) as e:
        shutil.rmtree(dest, ignore_errors=True)
        raise ModelLoadError(
            f"{archive} is not an ESPnet model archive (no valid meta.yaml: {e})"
        ) from None
    if "train_config" not in result or "model_file" not in result:
        raise ModelLoadError(
            f"{archive} is not an enhancement model archive: meta.yaml lists "
            f"{sorted(result)}, expected train_config and model_file"
        )
    marker.write_text(yaml.safe_dump(result), encoding="utf-8")
    logger.info("Unpacked %s into %s", archive, dest)
    return ModelFiles(Path(result["train_config"]), Path(result["model_file"]))
