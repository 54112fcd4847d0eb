"""BSSE-SE's training augmentation: one random crop and one random gain per pair."""

from collections.abc import Sequence

import numpy as np
from espnet2.train.preprocessor import AbsPreprocessor


class RandomCropGainPreprocessor(AbsPreprocessor):
    """Crops each training utterance once at random and scales it at random.

    Registered as ESPnet preprocessor ``random_crop_gain``. The dataset calls
    it once per utterance per epoch, so with ``iterator_type: sequence`` every
    utterance gives one fresh random crop per epoch, as BSSE-SE's loader does
    (ESPnet's chunk iterator instead yields every chunk of every utterance).
    Utterances shorter than the crop are tiled (repeated from their start) up
    to the crop length rather than zero-padded. The mixture and all its
    references (every array as long as the mixture) share the crop offset and
    one gain drawn from ``U(gain_range)``. Validation and inference
    (``train=False``) see the data unchanged. Random numbers come from
    NumPy's global generator, which ESPnet seeds per epoch and data worker.

    Args:
        train: whether this is the training data (else nothing changes).
        crop_length: samples per crop (BSSE-SE: 1.28 s, 20480 at 16 kHz);
            ``None`` keeps whole utterances.
        gain_range: ``[low, high]`` of the uniform gain (BSSE-SE: 1 to 2.5);
            ``None`` for no gain.
        speech_name: name of the mixture in the data (ESPnet: ``speech_mix``).
    """

    def __init__(
        self,
        train: bool,
        crop_length: int | None = 20480,
        gain_range: Sequence[float] | None = (1.0, 2.5),
        speech_name: str = "speech_mix",
    ):
        super().__init__(train)
        if crop_length is not None and int(crop_length) <= 0:
            raise ValueError(
                f"random_crop_gain: crop_length must be positive, got {crop_length}"
            )
        if gain_range is not None:
            if len(gain_range) != 2 or not 0 < gain_range[0] <= gain_range[1]:
                raise ValueError(
                    "random_crop_gain: gain_range must be [low, high] with "
                    f"0 < low <= high, got {list(gain_range)}"
                )
            gain_range = (float(gain_range[0]), float(gain_range[1]))
        self.crop_length = None if crop_length is None else int(crop_length)
        self.gain_range = gain_range
        self.speech_name = speech_name

    def __call__(self, uid: str, data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Crops and scales ``data`` in place of the training pair.

        Args:
            uid: utterance id (for error messages).
            data: arrays of one utterance: the mixture ``[N]`` or ``[N, C]``
                under ``speech_name`` and references of the same length.

        Returns:
            ``data`` with every array as long as the mixture cropped (tiled) to
            ``crop_length`` samples and multiplied by the same gain.
        """
        if not self.train:
            return data
        if self.speech_name not in data:
            raise ValueError(
                f"random_crop_gain: utterance '{uid}' has no '{self.speech_name}' "
                f"(has {sorted(data)}): set preprocessor_conf speech_name"
            )
        num_samples = len(data[self.speech_name])
        signals = [
            k
            for k, v in data.items()
            if isinstance(v, np.ndarray)
            and v.dtype.kind == "f"
            and v.ndim >= 1
            and len(v) == num_samples
        ]
        index = None
        if self.crop_length is not None:
            if num_samples >= self.crop_length:
                start = np.random.randint(0, num_samples - self.crop_length + 1)
                index = np.arange(start, start + self.crop_length)
            else:  # tile the short clip, as BSSE-SE does
                index = np.arange(self.crop_length) % num_samples
        gain = None if self.gain_range is None else np.random.uniform(*self.gain_range)
        for key in signals:
            value = data[key] if index is None else data[key][index]
            data[key] = value if gain is None else (value * gain).astype(value.dtype)
        return data
