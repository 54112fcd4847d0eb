"""BSS-CFFMA speech enhancement as an ESPnet plugin.

Importing the package is cheap; ESPnet registration happens in
:mod:`espnet_cffma.registry`, which the ``espnet_cffma.bin`` entry points call.
"""

__version__ = "0.1.0"
