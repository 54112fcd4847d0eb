"""Enhance audio files, folders and Kaldi lists with a trained ESPnet model.

Entry points: ``cffma-enhance`` / ``python -m espnet_cffma.bin.enhance`` for
enhancement and ``python -m espnet_cffma.bin.pack`` for model archives. The
modules here hold one concept each: model files and checkpoints, the batched
model runner, audio I/O, input discovery, resampling, chunked overlap-add, and
the engine that ties them together.
"""
