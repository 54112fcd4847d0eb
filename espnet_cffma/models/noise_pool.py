"""A pool of noise-only recordings that clips of any length are drawn from."""

import numpy as np
import soundfile as sf
import torch

from espnet_cffma.fileio import read_scp


class NoisePool:
    """Noise-only recordings listed in a Kaldi-style scp, read once on first use.

    Args:
        scp: ``<id> <wav path>`` list of noise-only recordings (mono, at ``fs``).
        fs: sampling rate the model works at; recordings must match it.
    """

    def __init__(self, scp: str, fs: int):
        self.scp = str(scp)
        self.fs = fs
        self._signals: list[torch.Tensor] | None = None

    def _load(self) -> list[torch.Tensor]:
        signals = []
        for key, path in read_scp(self.scp).items():
            try:
                audio, rate = sf.read(path, dtype="float32", always_2d=True)
            except (OSError, RuntimeError) as error:
                raise ValueError(
                    f"noise pool {self.scp}: cannot read '{key}' ({path}): {error}"
                ) from None
            if rate != self.fs:
                raise ValueError(
                    f"noise pool {self.scp}: '{key}' ({path}) is at {rate} Hz, "
                    f"the model at {self.fs} Hz"
                )
            if audio.shape[1] != 1:
                raise ValueError(
                    f"noise pool {self.scp}: '{key}' ({path}) has {audio.shape[1]} "
                    "channels; use mono recordings"
                )
            if not np.any(audio):
                raise ValueError(f"noise pool {self.scp}: '{key}' ({path}) is silent")
            signals.append(torch.from_numpy(audio[:, 0].copy()))
        if not signals:
            raise ValueError(f"noise pool {self.scp} lists no recordings")
        return signals

    def __len__(self) -> int:
        if self._signals is None:
            self._signals = self._load()
        return len(self._signals)

    def sample(self, num_samples: int) -> torch.Tensor:
        """A random clip ``[num_samples]`` of a random recording.

        It starts at a random offset; a recording shorter than asked is
        repeated end to end first.

        Uses torch's global generator (seeded by ESPnet's ``--seed``).
        """
        index = int(torch.randint(len(self), ()))
        signal = self._signals[index]
        if signal.numel() < num_samples:
            repeats = -(-num_samples // signal.numel())
            signal = signal.repeat(repeats)
        start = int(torch.randint(signal.numel() - num_samples + 1, ()))
        return signal[start : start + num_samples]
