"""ESPnet enhancement inference with the plugin's classes registered.

Takes exactly the arguments of ``python -m espnet2.bin.enh_inference``. Pass
the real sampling rate with ``--fs`` (ESPnet's default is 8000).
"""

from espnet_cffma.registry import register_espnet_classes

register_espnet_classes()


def main(cmd=None) -> None:
    """Runs ESPnet's ``enh_inference`` main with ``cmd`` (default: ``sys.argv``)."""
    from espnet2.bin.enh_inference import main as espnet_main

    espnet_main(cmd)


def console_main() -> None:
    """Console-script entry point."""
    main()


if __name__ == "__main__":
    main()
