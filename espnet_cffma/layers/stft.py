"""STFT analysis and synthesis that treat each utterance of a batch on its own.

A batched ``torch.stft`` with ``center=True`` reflect-pads the *batch* end, so
an utterance shorter than the batch sees zeros where its solo run sees its own
reflected samples; ``torch.istft`` normalises by the window envelope of every
frame in the tensor, including frames past an utterance's end. Both make an
utterance's output depend on what else is in its batch. Looping over the batch
here costs little next to the network and keeps outputs batch-independent.
"""

import torch

WINDOWS = {
    "hamming": torch.hamming_window,
    "hann": torch.hann_window,
    "blackman": torch.blackman_window,
}


class STFT(torch.nn.Module):
    """Per-utterance STFT / iSTFT with reflect padding (``center=True``).

    Args:
        n_fft: FFT size; the spectrum has ``n_fft // 2 + 1`` bins.
        win_length: window length in samples (``<= n_fft``).
        hop_length: frame shift in samples.
        window: one of ``hamming``, ``hann``, ``blackman``.
    """

    def __init__(
        self,
        n_fft: int = 400,
        win_length: int = 400,
        hop_length: int = 160,
        window: str = "hamming",
    ):
        super().__init__()
        if window not in WINDOWS:
            raise ValueError(
                f"Unknown STFT window '{window}': choose one of {sorted(WINDOWS)}"
            )
        if not 0 < win_length <= n_fft:
            raise ValueError(
                f"STFT win_length must be in (0, n_fft={n_fft}], got {win_length}"
            )
        if not 0 < hop_length <= win_length:
            raise ValueError(
                f"STFT hop_length must be in (0, win_length={win_length}], "
                f"got {hop_length}"
            )
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length
        self.register_buffer(
            "window", WINDOWS[window](win_length, periodic=True), persistent=False
        )

    @property
    def num_bins(self) -> int:
        """Number of frequency bins, ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def min_samples(self) -> int:
        """Shortest input that reflect padding accepts (``n_fft // 2 + 1``)."""
        return self.n_fft // 2 + 1

    def num_frames(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Frame count of ``center=True`` analysis for each length ``[B]``."""
        return torch.div(num_samples, self.hop_length, rounding_mode="floor") + 1

    def forward(
        self, wav: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Analyses each utterance up to its own length.

        Args:
            wav: waveforms ``[B, N]``.
            lengths: valid samples per utterance ``[B]``.

        Returns:
            Complex spectra ``[B, T, F]`` (zero past each utterance's frames) and
            frame counts ``[B]``.
        """
        frame_lengths = self.num_frames(lengths)
        spec = wav.new_zeros(
            wav.size(0), int(frame_lengths.max()), self.num_bins, dtype=torch.cfloat
        )
        window = self.window.to(wav.dtype)
        for b, n in enumerate(lengths.tolist()):
            utt_spec = torch.stft(
                wav[b, :n],
                n_fft=self.n_fft,
                hop_length=self.hop_length,
                win_length=self.win_length,
                window=window,
                center=True,
                pad_mode="reflect",
                return_complex=True,
            )
            spec[b, : utt_spec.size(-1)] = utt_spec.transpose(0, 1)
        return spec, frame_lengths

    def inverse(self, spec: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Synthesises each utterance back to its own sample count.

        Args:
            spec: complex spectra ``[B, T, F]``.
            lengths: output samples per utterance ``[B]``.

        Returns:
            Waveforms ``[B, N]``, zero past each utterance's length.
        """
        frame_lengths = self.num_frames(lengths)
        wav = spec.real.new_zeros(spec.size(0), int(lengths.max()))
        window = self.window.to(wav.dtype)
        for b, (n, t) in enumerate(zip(lengths.tolist(), frame_lengths.tolist())):
            wav[b, :n] = torch.istft(
                spec[b, :t].transpose(0, 1),
                n_fft=self.n_fft,
                hop_length=self.hop_length,
                win_length=self.win_length,
                window=window,
                center=True,
                length=n,
            )
        return wav
