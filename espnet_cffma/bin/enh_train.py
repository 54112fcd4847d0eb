"""ESPnet enhancement training with the plugin's classes registered.

Takes exactly the arguments of ``python -m espnet2.bin.enh_train`` (including
``--collect_stats true`` and the multi-GPU options), e.g.::

    python -m espnet_cffma.bin.enh_train --config conf/tuning/train_demo.yaml \
        --train_data_path_and_name_and_type dump/train/wav.scp,speech_mix,sound ...
"""

from espnet_cffma.registry import register_espnet_classes

# At import, not in main(): multi-GPU workers re-import this module and need it too.
register_espnet_classes()


def main(cmd=None) -> None:
    """Runs ESPnet's ``enh_train`` main with ``cmd`` (default: ``sys.argv``)."""
    from espnet2.bin.enh_train import main as espnet_main

    espnet_main(cmd)


def console_main() -> None:
    """Console-script entry point."""
    main()


if __name__ == "__main__":
    main()
