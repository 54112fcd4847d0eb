"""STFT analysis and overlap-add synthesis that can run one hop at a time.

Frame ``t`` covers input samples ``[t*hop - (win - hop), t*hop + hop)``: the
signal is padded with ``win - hop`` zeros on the left, never reflected, so a
frame only needs samples that have already arrived once its last hop is in.
Synthesis is a weighted overlap-add with the analysis window, normalised by the
summed squared windows (``torch.istft``'s rule). Output sample ``n`` is final
once the frames covering it are in, i.e. after input sample
``n + win - 1`` in the worst case: the algorithmic latency is one window
(512 samples = 32 ms for the 512/256 setting).

:class:`CausalSTFT` holds the offline transforms; :meth:`CausalSTFT.analyse_step`
and :meth:`CausalSTFT.synthesise_step` do the same one hop at a time with an
explicit state, and agree with the offline ones to float rounding.
"""

import torch

from espnet_cffma.layers.stft import WINDOWS


class CausalSTFT(torch.nn.Module):
    """Causal (left-padded) STFT and overlap-add iSTFT.

    Args:
        n_fft: FFT size (``>= win_length``; the spectrum has ``n_fft//2 + 1`` bins).
        win_length: window length; a multiple of ``hop_length``.
        hop_length: frame shift.
        window: ``hamming``, ``hann`` or ``blackman``.
    """

    def __init__(
        self,
        n_fft: int = 512,
        win_length: int = 512,
        hop_length: int = 256,
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
        if hop_length <= 0 or win_length % hop_length:
            raise ValueError(
                f"STFT hop_length ({hop_length}) must divide win_length "
                f"({win_length}) for frame-by-frame streaming"
            )
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length
        win = WINDOWS[window](win_length, periodic=True)
        self.register_buffer("window", win, persistent=False)
        # Summed squared windows seen by each sample position within a hop once
        # all overlapping frames are in (periodic in the interior).
        envelope = win.pow(2).reshape(-1, hop_length).sum(dim=0)
        self.register_buffer("envelope", envelope, persistent=False)

    @property
    def num_bins(self) -> int:
        """``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def lookback(self) -> int:
        """Samples of the past each frame needs beyond its own hop."""
        return self.win_length - self.hop_length

    def num_frames(self, num_samples: torch.Tensor) -> torch.Tensor:
        """Frames whose overlap-add completes every sample, per length ``[B]``.

        ``ceil((N + win - hop) / hop)``: the last ones reach past the end, into
        zeros, so that the final samples get all their overlapping frames.
        """
        return torch.div(
            num_samples + self.lookback + self.hop_length - 1,
            self.hop_length,
            rounding_mode="floor",
        )

    def _spectrum(self, frames: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft(frames * self.window.to(frames.dtype), n=self.n_fft)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """Analyses waveforms ``[B, N]`` into complex spectra ``[B, T, F]``.

        ``T`` as :meth:`num_frames`; samples past the end are zeros.
        """
        num_frames = -(-(wav.size(-1) + self.lookback) // self.hop_length)
        total = (num_frames - 1) * self.hop_length + self.win_length
        padded = torch.nn.functional.pad(
            wav, (self.lookback, total - self.lookback - wav.size(-1))
        )
        frames = padded.unfold(-1, self.win_length, self.hop_length)
        return self._spectrum(frames)

    def _frames_back(self, spec: torch.Tensor) -> torch.Tensor:
        frames = torch.fft.irfft(spec, n=self.n_fft)[..., : self.win_length]
        return frames * self.window.to(frames.dtype)

    def inverse(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """Overlap-adds spectra ``[B, T, F]`` back to waveforms ``[B, length]``."""
        frames = self._frames_back(spec)  # [B, T, win]
        b, t, _ = frames.shape
        total = (t - 1) * self.hop_length + self.win_length
        wav = torch.nn.functional.fold(
            frames.transpose(1, 2),
            output_size=(1, total),
            kernel_size=(1, self.win_length),
            stride=(1, self.hop_length),
        ).reshape(b, total)
        envelope = self.envelope.to(wav.dtype).repeat(total // self.hop_length)
        wav = wav[:, self.lookback :] / envelope[self.lookback :]
        if wav.size(-1) < length:
            wav = torch.nn.functional.pad(wav, (0, length - wav.size(-1)))
        return wav[:, :length]

    def analyse_step(
        self, block: torch.Tensor, past: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Analyses ``k >= 1`` hops of new samples.

        Args:
            block: the next ``k * hop_length`` samples ``[B, k * hop]``.
            past: the previous ``win - hop`` samples ``[B, win - hop]`` (None at
                the start: zeros).

        Returns:
            The ``k`` new frames' spectra ``[B, k, F]`` and the new ``past``.
        """
        if block.size(-1) % self.hop_length or block.size(-1) == 0:
            raise ValueError(
                f"Streaming STFT blocks must hold whole hops of {self.hop_length} "
                f"samples, got {block.size(-1)}"
            )
        if past is None:
            past = block.new_zeros(block.size(0), self.lookback)
        signal = torch.cat([past, block], dim=-1)
        frames = signal.unfold(-1, self.win_length, self.hop_length)
        return self._spectrum(frames), signal[:, signal.size(-1) - self.lookback :]

    def synthesise_step(
        self, spec: torch.Tensor, pending: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Overlap-adds ``k`` frames and returns the ``k`` hops they complete.

        Args:
            spec: the frames' spectra ``[B, k, F]``.
            pending: the partial sums of the next ``win - hop`` samples (None at
                the start).

        Returns:
            ``k * hop_length`` finished samples ``[B, k * hop]`` (they lag the
            input by ``win - hop`` samples) and the new ``pending``.
        """
        frames = self._frames_back(spec)  # [B, k, win]
        b, k, _ = frames.shape
        total = (k - 1) * self.hop_length + self.win_length
        signal = torch.nn.functional.fold(
            frames.transpose(1, 2),
            output_size=(1, total),
            kernel_size=(1, self.win_length),
            stride=(1, self.hop_length),
        ).reshape(b, total)
        if pending is not None:
            signal = signal + torch.nn.functional.pad(
                pending, (0, total - self.lookback)
            )
        done = k * self.hop_length
        envelope = self.envelope.to(signal.dtype).repeat(k)
        return signal[:, :done] / envelope, signal[:, done:]
