"""Training-time preprocessors registered in ESPnet's enhancement task."""
