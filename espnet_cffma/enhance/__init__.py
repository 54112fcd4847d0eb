"""Enhance audio files, folders and Kaldi lists with a trained ESPnet model.

Entry points: ``cffma-enhance`` / ``python -m espnet_cffma.bin.enhance`` for
enhancement and ``python -m espnet_cffma.bin.pack`` for model archives. The
modules here hold one concept each: model files (finding, unpacking) and
checkpoints, packing, the model runner (one padded forward pass), audio I/O,
input discovery, chunked overlap-add, and the engine that plans batches and
ties them together. Resampling is shared: :mod:`espnet_cffma.resampling`.
"""
