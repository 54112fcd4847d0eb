"""Simulated rooms: shoebox geometry, positions and impulse responses.

The WHAMR!-style demo reverberates every utterance, the VoiceBank-style demo a
share of them (``reverb_share``). Rooms follow WHAMR!'s ranges (5-10 x 5-10 x
3-4 m, RT60 0.2-1.0 s, source 0.7-2 m from the microphone); pyroomacoustics
simulates them (image sources up to order 3, then seeded ray tracing). The
direct-path RIR of the same geometry gives the anechoic target, whose direct
path lies on the very samples of the reverberant signal's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

SR = 16000
RT60_RANGE = (0.2, 1.0)


@dataclass(frozen=True)
class Room:
    """A shoebox room.

    Attributes:
        dims: ``(length, width, height)`` in metres.
        rt60: Target reverberation time in seconds.
    """

    dims: tuple[float, float, float]
    rt60: float


def draw_room(rng: np.random.Generator) -> Room:
    """Draws a WHAMR!-like room (5-10 x 5-10 x 3-4 m, RT60 0.2-1.0 s)."""
    dims = (rng.uniform(5, 10), rng.uniform(5, 10), rng.uniform(3, 4))
    return Room(
        tuple(round(float(d), 3) for d in dims),
        round(float(rng.uniform(*RT60_RANGE)), 3),
    )


def draw_positions(
    room: Room, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draws microphone and source positions in ``room``.

    Returns:
        ``(mic [3], source [3])`` in metres; the source is 0.7-2 m from the
        microphone and at least 0.3 m from every wall.
    """
    length, width, _ = room.dims
    mic = np.array(
        [
            rng.uniform(0.3 * length, 0.7 * length),
            rng.uniform(0.3 * width, 0.7 * width),
            rng.uniform(1.0, 1.5),
        ]
    )
    for _ in range(1000):
        dist, azimuth = rng.uniform(0.7, 2.0), rng.uniform(0, 2 * np.pi)
        height = rng.uniform(1.4, 1.9)
        horizontal = math.sqrt(max(dist**2 - (height - mic[2]) ** 2, 0.0))
        src = mic + np.array(
            [horizontal * np.cos(azimuth), horizontal * np.sin(azimuth), 0.0]
        )
        src[2] = height
        if np.all(src[:2] > 0.3) and np.all(src[:2] < np.array(room.dims[:2]) - 0.3):
            return mic, src
    raise ValueError(f"cannot place a source in room {room}")


def room_impulse_responses(
    room: Room, mic: np.ndarray, src: np.ndarray, seed: int, sr: int = SR
) -> tuple[np.ndarray, np.ndarray]:
    """Simulates the full and the direct-path-only RIR of one source/mic pair.

    Args:
        room: The room.
        mic: Microphone position ``[3]``.
        src: Source position ``[3]``.
        seed: Seeds pyroomacoustics' ray tracer (reproducible RIRs).
        sr: Sample rate.

    Returns:
        ``(h_full [N], h_direct [M])``: both include the same direct path at the
        same sample position (propagation delay plus pyroomacoustics' 40-sample
        filter delay).
    """
    import pyroomacoustics as pra

    absorption, _ = pra.inverse_sabine(room.rt60, list(room.dims))

    def simulate(max_order: int, ray_tracing: bool) -> np.ndarray:
        shoebox = pra.ShoeBox(
            list(room.dims),
            fs=sr,
            materials=pra.Material(absorption),
            max_order=max_order,
            ray_tracing=ray_tracing,
            air_absorption=False,
        )
        if ray_tracing:
            shoebox.set_ray_tracing(energy_thres=1e-5)  # tail to -50 dB: enough
        shoebox.add_source(list(src))
        shoebox.add_microphone(list(mic))
        shoebox.compute_rir()
        return np.asarray(shoebox.rir[0][0])

    pra.random.seed(seed)
    return simulate(max_order=3, ray_tracing=True), simulate(0, ray_tracing=False)


def direct_path_lag(anechoic: np.ndarray, reverberant: np.ndarray, max_lag: int) -> int:
    """Lag (samples) of ``reverberant`` relative to ``anechoic`` (GCC-PHAT).

    The direct path is the strongest single copy of the source in a
    reverberant signal. The phase transform whitens the cross-spectrum, so the
    cross-correlation peaks sharply at each copy's delay and the direct path
    wins; a plain cross-correlation of voiced, repetitive speech (sustained
    vowels, spelled letters) can peak on the summed late reverberation instead.

    Args:
        anechoic: Anechoic (direct-path) signal ``[T]``.
        reverberant: Reverberant signal ``[T']``.
        max_lag: Largest lag searched, in samples.

    Returns:
        ``k`` such that ``reverberant[t + k]`` best matches ``anechoic[t]``.
    """
    n_fft = 1 << (len(anechoic) + len(reverberant) - 1).bit_length()
    cross = np.fft.rfft(reverberant, n_fft) * np.conj(np.fft.rfft(anechoic, n_fft))
    xcorr = np.fft.irfft(cross / (np.abs(cross) + 1e-12), n_fft)
    # Lags -max_lag .. max_lag (negative lags wrap to the end).
    window = np.concatenate([xcorr[n_fft - max_lag :], xcorr[: max_lag + 1]])
    return int(np.argmax(window)) - max_lag


def measured_rt60(h: np.ndarray, sr: int = SR) -> float:
    """RT60 extrapolated from the RIR's first 30 dB of decay (NaN if unmeasurable)."""
    import pyroomacoustics as pra

    try:
        return float(pra.experimental.measure_rt60(h, fs=sr, decay_db=30))
    except (ValueError, IndexError):
        return float("nan")


def reverberate(
    dry: np.ndarray, h_full: np.ndarray, h_direct: np.ndarray, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """The anechoic (direct-path) and reverberant versions of a dry signal.

    Args:
        dry: Dry signal ``[T]``.
        h_full: Full RIR ``[N]`` (:func:`room_impulse_responses`).
        h_direct: Direct-path RIR ``[M]``.
        length: Length of both outputs (zero-padded or cut).

    Returns:
        ``(anechoic [length], reverberant [length])`` float32.
    """
    anechoic = np.zeros(length, np.float32)
    reverb = np.zeros(length, np.float32)
    a = fftconvolve(dry, h_direct)[:length]
    r = fftconvolve(dry, h_full)[:length]
    anechoic[: len(a)], reverb[: len(r)] = a, r
    return anechoic, reverb
