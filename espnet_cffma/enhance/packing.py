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
import io
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from espnet_cffma.enhance.errors import ModelLoadError
from espnet_cffma.enhance.model_files import (
    ARCHIVE_DOUBLE_SUFFIXES,
    DEFAULT_CHECKPOINT,
    find_ssl_paths,
    is_archive,
    locate_ssl_file,
    read_config,
    resolve_model_files,
    set_in,
)

logger = logging.getLogger(__name__)


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
        # The staging folder is beside the output, so this rename is atomic; a
        # fileio.atomic_path name would not do: ESPnet's pack picks the archive
        # format from the exact suffixes (".tar.gz").
        os.replace(tmp_output, output)
    logger.info("Packed %s (%s, ssl bundled: %s)", output, files.model_file, bundle_ssl)
    return output
