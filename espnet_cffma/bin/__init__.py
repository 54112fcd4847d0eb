"""Command-line entry points that register the plugin, then run ESPnet."""
