"""Self-supervised speech front-end: S3PRL upstreams with a learnable layer sum."""
