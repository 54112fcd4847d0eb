"""Finding a model's config and checkpoint: experiment dir, archive or files.

A trained model is an ESPnet ``config.yaml`` plus a ``.pth`` state_dict. It
can be given as an experiment directory (``exp/<tag>/``), a packed archive
(written by :mod:`espnet_cffma.enhance.packing`, unpacked here with ESPnet's
``unpack``), or the two files. SSL checkpoint paths
in the config (``separator_conf.ssl_path_or_url``) are often relative to the
recipe directory the model was trained in; they are looked up there too.
"""

import hashlib
import logging
import os
import shutil
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from espnet_cffma.enhance.errors import ModelLoadError
from espnet_cffma.fileio import write_text_atomic

logger = logging.getLogger(__name__)

DEFAULT_CHECKPOINT = "valid.loss.best.pth"
# Config keys that hold an SSL upstream checkpoint: ours (bss_cffma) and the one
# of ESPnet's S3prlFrontend / our SSLFeatureExtractor.
SSL_PATH_KEYS = ("ssl_path_or_url", "path_or_url")
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tbz2", ".txz")
ARCHIVE_DOUBLE_SUFFIXES = ((".tar", ".gz"), (".tar", ".bz2"), (".tar", ".xz"))
# Written last into an unpack folder: a folder without it is incomplete.
_COMPLETE_MARKER = ".unpack_complete"


@dataclass(frozen=True)
class ModelFiles:
    """A model's training config and state_dict file."""

    config: Path
    model_file: Path


def is_archive(path: str | Path) -> bool:
    """True for file names ESPnet's ``pack``/``unpack`` understand."""
    path = Path(path)
    return path.suffix in ARCHIVE_SUFFIXES or tuple(path.suffixes) in (
        ARCHIVE_DOUBLE_SUFFIXES
    )


def resolve_model_files(
    model: str | Path | None = None,
    checkpoint: str = DEFAULT_CHECKPOINT,
    config: str | Path | None = None,
    model_file: str | Path | None = None,
    unpack_dir: str | Path | None = None,
) -> ModelFiles:
    """Finds config and checkpoint from what the user gave.

    Args:
        model: an experiment directory or a packed archive.
        checkpoint: with an experiment directory, the ``.pth`` inside it (or a
            path to one elsewhere).
        config: explicit ``config.yaml`` (with ``model_file``).
        model_file: explicit ``.pth``; alone, its folder's ``config.yaml`` is used.
        unpack_dir: where archives are unpacked (default: a per-archive cache).

    Raises:
        ModelLoadError: nothing usable given, or files missing.
    """
    if model is not None and (config is not None or model_file is not None):
        raise ModelLoadError(
            "Give either a model (experiment dir or archive) or --config/--model_file"
        )
    if model is not None:
        model = Path(model)
        if model.is_dir():
            return _from_exp_dir(model, checkpoint)
        if model.is_file() and is_archive(model):
            return unpack_model(model, unpack_dir)
        if not model.exists():
            raise ModelLoadError(f"Model not found: {model}")
        raise ModelLoadError(
            f"Model {model} is neither an experiment directory nor an archive "
            f"({', '.join(ARCHIVE_SUFFIXES)}, .tar.gz, ...)"
        )
    if model_file is None:
        raise ModelLoadError(
            "No model given: pass an experiment dir / archive, or --model_file "
            "(and --config)"
        )
    model_file = Path(model_file)
    config = Path(config) if config is not None else model_file.parent / "config.yaml"
    _require_file(config, "Model config")
    _require_file(model_file, "Model checkpoint")
    return ModelFiles(config, model_file)


def _from_exp_dir(exp_dir: Path, checkpoint: str) -> ModelFiles:
    config = exp_dir / "config.yaml"
    _require_file(config, "Model config")
    candidate = Path(checkpoint)
    model_file = candidate if candidate.is_file() else exp_dir / checkpoint
    if not model_file.is_file():
        available = sorted(p.name for p in exp_dir.glob("*.pth"))
        raise ModelLoadError(
            f"Checkpoint '{checkpoint}' not found in {exp_dir}; available: "
            f"{', '.join(available) if available else 'no .pth files'}"
        )
    return ModelFiles(config, model_file)


def _require_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise ModelLoadError(f"{what} not found: {path}")


def read_config(path: str | Path) -> dict[str, Any]:
    """Reads a training ``config.yaml`` as a dict.

    Raises:
        ModelLoadError: unreadable or not a YAML mapping.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            config = yaml.safe_load(f)
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as e:
        raise ModelLoadError(f"Cannot read model config {path}: {e}") from None
    if not isinstance(config, dict):
        raise ModelLoadError(f"Model config {path} is not a YAML mapping")
    return config


def find_ssl_paths(config: Any, prefix: tuple = ()) -> list[tuple[tuple, str]]:
    """Lists SSL checkpoint references in a config.

    Returns:
        ``(key_path, value)`` for each SSL path key with a local (non-URL) value,
        ``key_path`` being the chain of dict keys / list indices.
    """
    found = []
    if isinstance(config, dict):
        for key, value in config.items():
            if key in SSL_PATH_KEYS and isinstance(value, str) and "://" not in value:
                found.append((prefix + (key,), value))
            else:
                found.extend(find_ssl_paths(value, prefix + (key,)))
    elif isinstance(config, list):
        for i, value in enumerate(config):
            found.extend(find_ssl_paths(value, prefix + (i,)))
    return found


def set_in(config: Any, key_path: tuple, value: Any) -> None:
    """Sets ``config[k1][k2]... = value`` along ``key_path``."""
    for key in key_path[:-1]:
        config = config[key]
    config[key_path[-1]] = value


def locate_ssl_file(value: str, config_path: Path) -> Path | None:
    """Finds a config's SSL checkpoint on disk.

    Relative paths are tried from the current directory, then from the config's
    folder and each of its parents (a recipe writes ``exp/<tag>/config.yaml``
    with paths relative to the recipe dir).

    Returns:
        The existing file, or None.
    """
    path = Path(value).expanduser()
    if path.is_absolute():
        return path if path.is_file() else None
    if path.is_file():
        return path.resolve()
    for base in config_path.resolve().parents:
        if (base / path).is_file():
            return base / path
    return None


def localize_ssl_paths(config: dict[str, Any], config_path: Path) -> dict[str, Any]:
    """Rewrites relative SSL checkpoint paths to files that exist.

    Paths that cannot be found are left alone: building the model then fails
    with S3PRL's own message, which :func:`espnet_cffma.enhance.runner` wraps.
    """
    for key_path, value in find_ssl_paths(config):
        found = locate_ssl_file(value, config_path)
        if found is not None and str(found) != value:
            logger.info("SSL checkpoint %s -> %s", value, found)
            set_in(config, key_path, str(found))
    return config


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
    write_text_atomic(marker, yaml.safe_dump(result))
    logger.info("Unpacked %s into %s", archive, dest)
    return ModelFiles(Path(result["train_config"]), Path(result["model_file"]))
