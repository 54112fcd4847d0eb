"""Pack a trained model into one archive (ESPnet's format).

Examples::

    python -m espnet_cffma.bin.pack --exp_dir exp/enh_train_bss_cffma \
        --output model.zip --bundle_ssl
    cffma-enhance --model model.zip noisy.wav -o enhanced/

The archive holds ``meta.yaml``, ``exp/<tag>/config.yaml`` and the checkpoint;
with ``--bundle_ssl`` also the SSL upstream checkpoint, else the config names
it by absolute path. ESPnet reads it too::

    python -c "from espnet2.main_funcs.pack_funcs import unpack; \
        print(unpack('model.zip', 'model_dir'))"
    python -m espnet_cffma.bin.enh_inference --train_config ... --model_file ...
"""

import argparse
import logging
import sys

from espnet_cffma.enhance.model_files import DEFAULT_CHECKPOINT


def get_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m espnet_cffma.bin.pack",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--exp_dir", help="experiment dir with config.yaml")
    parser.add_argument(
        "--checkpoint", default=DEFAULT_CHECKPOINT, help="checkpoint in --exp_dir"
    )
    parser.add_argument("--config", help="config.yaml (instead of --exp_dir)")
    parser.add_argument("--model_file", help=".pth (instead of --exp_dir)")
    parser.add_argument(
        "--output", required=True, help="archive: .zip, .tar, .tar.gz, .tgz, ..."
    )
    parser.add_argument(
        "--bundle_ssl",
        action="store_true",
        help="store the SSL checkpoint in the archive (default: refer to it)",
    )
    return parser


def main(argv=None) -> int:
    """Runs the command; returns the exit status."""
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    from espnet_cffma.enhance.errors import ModelLoadError
    from espnet_cffma.enhance.packing import pack_model

    try:
        path = pack_model(
            args.output,
            exp_dir=args.exp_dir,
            checkpoint=args.checkpoint,
            config=args.config,
            model_file=args.model_file,
            bundle_ssl=args.bundle_ssl,
        )
    except ModelLoadError as e:
        logging.error("%s", e)
        return 2
    print(f"Wrote {path}")
    return 0


def console_main() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    console_main()
