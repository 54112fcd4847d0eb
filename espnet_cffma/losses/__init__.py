"""Training criteria registered in ESPnet."""
