"""Stage 3: make sure the SSL upstream of a training config can be loaded.

The ``bss_cffma`` separator names its S3PRL upstream in ``separator_conf``
(``ssl_upstream``, ``ssl_path_or_url``). Before hours of training start:

- a local checkpoint (``wavlm_local`` / ``wav2vec2_local`` / ``hubert_local``
  with a path) must exist and load;
- a hub preset (``wavlm_large`` ...) is fetched by S3PRL into its cache; when
  that fails (no internet), the message says how to point to a checkpoint
  downloaded elsewhere (``--ssl_ckpt PATH``).

``--ssl_ckpt PATH`` overrides the config: the upstream becomes the ``*_local``
loader of the same model family. ``--print_args`` prints the ESPnet options
that apply such an override (the stage script adds them to training), without
loading anything. ``--build_random true`` first writes a tiny random-weight
checkpoint at ``--ssl_ckpt`` if none is there (demo and tests only: its
features are meaningless).

Usage::

    python -m espnet_cffma.recipe.ssl_check --config conf/train.yaml \
        [--ssl_ckpt /data/ckpt/WavLM-Large.pt] [--print_args]
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import yaml
from espnet2.utils.types import str2bool

# Option names of the bss_cffma separator (espnet_cffma/systems/bss_cffma/separator.py).
UPSTREAM_KEY = "ssl_upstream"
PATH_KEY = "ssl_path_or_url"
# Model families with an S3PRL local-checkpoint loader, by name prefix.
FAMILIES = ("wavlm", "wav2vec2", "hubert")


class SSLCheckError(RuntimeError):
    """The upstream cannot be used; the message says what to do."""


def read_ssl_settings(config_path: str | Path) -> tuple[str | None, str | None]:
    """Returns ``(upstream, path_or_url)`` from a training config.

    ``(None, None)`` when the config's separator has no SSL upstream.

    Raises:
        SSLCheckError: The config cannot be read.
    """
    try:
        with open(config_path, encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise SSLCheckError(f"cannot read config {config_path}: {exc}") from exc
    conf = config.get("separator_conf") or {}
    upstream = conf.get(UPSTREAM_KEY)
    if upstream is None:
        return None, None
    return str(upstream), conf.get(PATH_KEY)


def family_of(upstream: str) -> str:
    """Model family (``wavlm``, ``wav2vec2``, ``hubert``) of an S3PRL upstream name.

    Raises:
        SSLCheckError: No local-checkpoint loader exists for this upstream.
    """
    for family in FAMILIES:
        if upstream == family or upstream.startswith(family + "_"):
            return family
    raise SSLCheckError(
        f"upstream '{upstream}' has no local-checkpoint loader here; --ssl_ckpt "
        f"works with {', '.join(f + '_*' for f in FAMILIES)} upstreams"
    )


def resolve(
    upstream: str, path_or_url: str | None, ssl_ckpt: str | None
) -> tuple[str, str | None]:
    """Applies a ``--ssl_ckpt`` override: ``(upstream, path_or_url)`` to use."""
    if not ssl_ckpt:
        return upstream, path_or_url
    local = upstream if upstream.endswith("_local") else f"{family_of(upstream)}_local"
    return local, str(Path(ssl_ckpt).absolute())


def override_args(upstream: str, path_or_url: str | None) -> list[str]:
    """ESPnet command-line options that set the separator's upstream."""
    args = ["--separator_conf", f"{UPSTREAM_KEY}={upstream}"]
    if path_or_url:
        args += ["--separator_conf", f"{PATH_KEY}={path_or_url}"]
    return args


# Files S3PRL itself downloads for the presets the recipes use (S3PRL's format,
# loadable by the *_local upstreams).
_CONVERTED = "https://huggingface.co/s3prl/converted_ckpts/resolve/main/"
KNOWN_CHECKPOINTS = {
    "wavlm_base": _CONVERTED + "wavlm_base.pt",
    "wavlm_base_plus": _CONVERTED + "wavlm_base_plus.pt",
    "wavlm_large": _CONVERTED + "wavlm_large.pt",
    "wav2vec2_large_ll60k": _CONVERTED + "wav2vec_vox_new.pt",
    "wav2vec2_large_960": _CONVERTED + "libri960_big.pt",
    "wav2vec2_base_960": _CONVERTED + "wav2vec_small.pt",
    "hubert_base": _CONVERTED + "hubert_base_ls960.pt",
    "hubert_large_ll60k": _CONVERTED + "hubert_large_ll60k.pt",
}


def _hint(upstream: str) -> str:
    try:
        family = family_of(upstream)
    except SSLCheckError:
        family = "wavlm"
    source = KNOWN_CHECKPOINTS.get(upstream)
    where = (
        f"download {source}"
        if source
        else f"download the checkpoint S3PRL uses for '{upstream}'"
    )
    return (
        f"On a machine with internet access, {where} and copy it here, then rerun "
        f"with --ssl_ckpt /path/to/checkpoint.pt (the recipe then uses upstream "
        f"'{family}_local'), or set separator_conf {UPSTREAM_KEY}: {family}_local "
        f"and {PATH_KEY}: /path/to/checkpoint.pt in the config."
    )


def check_upstream(upstream: str, path_or_url: str | None) -> str:
    """Loads the upstream (fetching a hub preset if needed).

    Returns:
        A one-line description (layers, hidden size).

    Raises:
        SSLCheckError: Missing file, load failure or fetch failure, with advice.
    """
    if upstream.endswith("_local"):
        if not path_or_url:
            raise SSLCheckError(
                f"upstream '{upstream}' needs a checkpoint file: set {PATH_KEY} in "
                "the config or pass --ssl_ckpt PATH"
            )
        if not Path(path_or_url).is_file():
            raise SSLCheckError(
                f"SSL checkpoint not found: {path_or_url} (upstream '{upstream}'). "
                + _hint(upstream)
            )
    from espnet_cffma.ssl.loading import load_s3prl_upstream

    try:
        model = load_s3prl_upstream(upstream, path_or_url, {})
    except Exception as exc:
        msg = str(exc)
        if not upstream.endswith("_local"):
            raise SSLCheckError(
                f"S3PRL could not fetch upstream '{upstream}' ({msg}). "
                + _hint(upstream)
            ) from exc
        raise SSLCheckError(
            f"cannot load SSL checkpoint {path_or_url} with upstream '{upstream}': "
            f"{msg}"
        ) from exc
    sizes = sorted(set(model.hidden_sizes))
    size = sizes[0] if len(sizes) == 1 else sizes
    source = f" from {path_or_url}" if path_or_url else ""
    return (
        f"upstream '{upstream}'{source}: {model.num_layers} hidden states "
        f"of size {size}"
    )


def get_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(description="Check the SSL upstream of a config.")
    p.add_argument("--config", required=True, help="training config (YAML)")
    p.add_argument("--ssl_ckpt", default="", help="local checkpoint overriding it")
    p.add_argument(
        "--print_args",
        action="store_true",
        help="only print the ESPnet options for the override and exit",
    )
    p.add_argument(
        "--build_random",
        type=str2bool,
        default=False,
        help="write a random-weight checkpoint at --ssl_ckpt if missing (demo)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = get_parser().parse_args(argv)
    try:
        upstream, path = read_ssl_settings(args.config)
        if upstream is None:
            if not args.print_args:
                print(f"ssl_check: {args.config} uses no SSL upstream: nothing to do")
            return 0
        upstream, path = resolve(upstream, path, args.ssl_ckpt or None)
        if args.print_args:
            if args.ssl_ckpt:
                print(shlex.join(override_args(upstream, path)))
            return 0
        if args.build_random:
            if not args.ssl_ckpt:
                raise SSLCheckError("--build_random true needs --ssl_ckpt PATH")
            if not Path(path).is_file():
                from espnet_cffma.ssl.checkpoints import build_random_checkpoint

                build_random_checkpoint(family_of(upstream), path)
                print(
                    f"ssl_check: wrote a RANDOM-WEIGHT {family_of(upstream)} "
                    f"checkpoint for the demo: {path}"
                )
        print(f"ssl_check: OK, {check_upstream(upstream, path)}")
    except SSLCheckError as exc:
        print(f"ssl_check: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
