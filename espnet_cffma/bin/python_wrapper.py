"""``cffma-python``: a Python for ESPnet's own ``enh.sh`` that runs the plugin.

ESPnet's ``egs2/TEMPLATE/enh1/enh.sh`` calls every tool as ``${python} -m
espnet2.bin.<tool> ...`` and takes ``--python``. Given ``--python
cffma-python``, this command swaps ESPnet's enhancement training and inference
modules for the plugin's (same arguments, classes registered) and executes the
real Python on everything, so ``enh.sh`` needs no edit::

    ./enh.sh --python cffma-python ...       # in any ESPnet enh1 recipe

``espnet2.bin.launch`` (multi-GPU / multi-node) re-runs the command it is given
with the same ``${python}``, so its workers are rewritten too, and the plugin's
training module registers its classes at import, which covers the processes
``--multiprocessing_distributed`` spawns.
"""

import os
import sys

# ESPnet module -> plugin module with the same command line.
REPLACED_MODULES = {
    "espnet2.bin.enh_train": "espnet_cffma.bin.enh_train",
    "espnet2.bin.enh_inference": "espnet_cffma.bin.enh_inference",
}


def rewrite(argv: list[str]) -> list[str]:
    """Python arguments with ESPnet's enh modules replaced by the plugin's.

    Args:
        argv: arguments for Python (e.g. ``["-m", "espnet2.bin.enh_train", ...]``).

    Returns:
        The same arguments with the module after ``-m`` replaced when it is one
        of :data:`REPLACED_MODULES`.
    """
    argv = list(argv)
    for i, word in enumerate(argv[:-1]):
        if word == "-m":
            argv[i + 1] = REPLACED_MODULES.get(argv[i + 1], argv[i + 1])
            break
        if not word.startswith("-") or word == "-c":
            break  # a script or -c code: nothing to rewrite
    return argv


def console_main() -> None:
    """Replaces this process by Python with the rewritten arguments."""
    argv = rewrite(sys.argv[1:])
    os.execv(sys.executable, [sys.executable, *argv])


if __name__ == "__main__":
    console_main()
