"""The shared resampler: 1-D and [N, C] signals, whole and streamed alike."""

import numpy as np
import pytest
import soxr

from espnet_cffma.resampling import StreamResampler, fix_length, resample


@pytest.mark.parametrize("shape", [(4410,), (4410, 2)])
def test_resample_keeps_the_layout_and_matches_soxr(shape):
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    y = resample(x, 44100, 16000)
    assert y.dtype == np.float32 and y.shape == (1600,) + shape[1:]
    np.testing.assert_array_equal(y, soxr.resample(x, 44100, 16000, quality="HQ"))
    assert resample(x.astype(np.float64), 16000, 16000).dtype == np.float32


def test_streamed_equals_whole():
    x = np.random.default_rng(1).standard_normal((8000, 2)).astype(np.float32)
    stream = StreamResampler(8000, 16000, channels=2)
    parts = [stream.process(x[i : i + 1000]) for i in range(0, len(x), 1000)]
    streamed = np.concatenate(parts + [stream.flush()])
    np.testing.assert_allclose(streamed, resample(x, 8000, 16000), atol=1e-6)
    assert fix_length(streamed, 16005).shape == (16005, 2)
    assert fix_length(streamed, 10).shape == (10, 2)
