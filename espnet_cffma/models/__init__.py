"""ESPnet model subclasses (the enh task's ``enh_model`` choices)."""
