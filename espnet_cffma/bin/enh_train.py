"""ESPnet enhancement training with the plugin's classes registered.

Takes exactly the arguments of ``python -m espnet2.bin.enh_train`` (including
``--collect_stats true`` and the multi-GPU options), e.g.::

    python -m espnet_cffma.bin.enh_train --config conf/tuning/train_demo.yaml \
        --train_data_path_and_name_and_type dump/train/wav.scp,speech_mix,sound ...

Only one training runs per ``--output_dir``: a second start there stops with a
message naming the running process (see
:mod:`espnet_cffma.recipe.experiment_lock`).
"""

import sys

from espnet_cffma.registry import register_espnet_classes

# At import, not in main(): multi-GPU workers re-import this module and need it too.
register_espnet_classes()


def _output_dir(argv: list[str]) -> str | None:
    """The value of ``--output_dir`` in ``argv`` (both ``--x v`` and ``--x=v``)."""
    value = None
    for i, word in enumerate(argv):
        if word == "--output_dir" and i + 1 < len(argv):
            value = argv[i + 1]
        elif word.startswith("--output_dir="):
            value = word.split("=", 1)[1]
    return value


def main(cmd=None) -> None:
    """Runs ESPnet's ``enh_train`` main with ``cmd`` (default: ``sys.argv``)."""
    from espnet2.bin.enh_train import main as espnet_main

    from espnet_cffma.recipe.experiment_lock import (
        ExperimentBusyError,
        acquire_experiment_lock,
    )

    argv = sys.argv[1:] if cmd is None else list(cmd)
    output_dir = _output_dir(argv)
    if output_dir:
        try:
            acquire_experiment_lock(output_dir, " ".join(["enh_train", *argv]))
        except ExperimentBusyError as e:
            sys.exit(f"ERROR: {e}")
    espnet_main(cmd)


def console_main() -> None:
    """Console-script entry point."""
    main()


if __name__ == "__main__":
    main()
