"""The BSS-CFFMA separator (ESPnet name ``bss_cffma``; arXiv 2408.06851).

Signal path: noisy waveform -> (a) STFT log1p magnitude, (b) S3PRL upstream
with a weighted layer sum -> MSCFF fusion -> RHMA blocks -> sigmoid mask on the
log1p magnitude -> ``expm1`` with the noisy phase -> iSTFT to the input length.

It owns its STFT and SSL upstream, so configure ESPnet with ``encoder: same``
and ``decoder: same``::

    encoder: same
    decoder: same
    separator: bss_cffma
    separator_conf:
        ssl_upstream: wavlm_local          # any S3PRL upstream name
        ssl_path_or_url: /path/to/WavLM-Large.pt
        ssl_layers: null                   # all hidden states
        ssl_finetune: frozen               # frozen | pf | ef
        num_blocks: 2
        attention_dim: 512
        num_heads: 4
        ffn_dim: 2048
        fusion_dim: 960
        fusion_hidden_dim: 480
        gate_kernel_sizes: [3, 5, 7]
        gate_dilations: [1, 1, 1]
        n_fft: 400
        hop_length: 160
    criterions:
      - name: log1p_mask_l1                # the paper's loss, on the prediction
        wrapper: fixed_order_others        # hands the separator's others over
        wrapper_conf: {weight: 1.0}
    init: xavier_normal                    # SSL weights and norms are restored

Padded frames are masked in every layer that mixes time and the SSL upstream
never sees padding (``ssl_batch_mode: exact``), so an utterance's output does
not depend on the rest of its batch.
"""

from collections import OrderedDict
from collections.abc import Sequence

import torch
from espnet2.enh.separator.abs_separator import AbsSeparator

from espnet_cffma.layers.norms import MaskedGlobalLayerNorm
from espnet_cffma.layers.padding import valid_frames
from espnet_cffma.layers.stft import STFT
from espnet_cffma.ssl.front import SSLFeatureExtractor
from espnet_cffma.systems.bss_cffma.mscff import MSCFF
from espnet_cffma.systems.bss_cffma.rhma import RHMA

# Keys of the separator's ``others`` that the ``log1p_mask_l1`` loss reads.
PREDICTION_KEY = "log1p_magnitude_spk{}"  # masked log1p magnitude [B, T, F]
LENGTHS_KEY = "log1p_input_lengths"  # input samples per utterance [B]
ANALYSIS_KEY = "log1p_analysis"  # the separator's own log1p-STFT analysis


class BSSCFFMASeparator(AbsSeparator):
    """BSS-CFFMA single-channel speech enhancement.

    Args:
        input_dim: ESPnet's encoder output size (unused: with ``encoder: same``
            the separator receives the waveform).
        num_spk: number of outputs; only 1 (enhancement) is supported.
        fs: sampling rate the model works at (SSL upstreams expect 16000).
        n_fft: STFT size (paper: 400, i.e. 201 bins).
        win_length: STFT window length (paper: 400).
        hop_length: STFT hop (paper: 160); must divide the SSL frame stride.
        window: STFT window (paper: ``hamming``).
        ssl_upstream: S3PRL upstream name (``wavlm_local``, ``wav2vec2_local``,
            ``hubert_local`` for local files; hub presets such as
            ``wavlm_large``).
        ssl_path_or_url: checkpoint file or URL of the upstream.
        ssl_layers: hidden-state indices for the weighted sum (``None``: all).
        ssl_finetune: ``frozen``, ``pf`` (freeze the CNN) or ``ef`` (all).
        ssl_batch_mode: ``exact`` (default) or ``padded``; see
            :class:`~espnet_cffma.ssl.front.SSLFeatureExtractor`.
        ssl_extra_conf: extra keyword arguments for the S3PRL upstream.
        fusion_dim: MSCFF output size (paper: 960).
        fusion_hidden_dim: MSCFF gate branch size (paper: 480).
        gate_kernel_sizes: MSCFF spectrogram / SSL / fused gate kernels.
        gate_dilations: MSCFF gate dilations.
        attention_dim: RHMA feature size (paper: 512).
        num_blocks: number of RHMA blocks (paper demo: 2).
        num_heads: self-attention heads (paper: 4).
        ffn_dim: feed-forward hidden size (paper: 2048).
        dropout: dropout in RHMA (paper: 0.1).
        scta_reduction: SCTA channel MLP bottleneck ratio (paper: 2).
        scta_time_kernel_sizes: SCTA time convolutions, joint and shared.
    """

    def __init__(
        self,
        input_dim: int = 0,
        num_spk: int = 1,
        fs: int = 16000,
        n_fft: int = 400,
        win_length: int = 400,
        hop_length: int = 160,
        window: str = "hamming",
        ssl_upstream: str = "wavlm_local",
        ssl_path_or_url: str | None = None,
        ssl_layers: Sequence[int] | None = None,
        ssl_finetune: str = "frozen",
        ssl_batch_mode: str = "exact",
        ssl_extra_conf: dict | None = None,
        fusion_dim: int = 960,
        fusion_hidden_dim: int = 480,
        gate_kernel_sizes: Sequence[int] = (3, 5, 7),
        gate_dilations: Sequence[int] = (1, 1, 1),
        attention_dim: int = 512,
        num_blocks: int = 2,
        num_heads: int = 4,
        ffn_dim: int = 2048,
        dropout: float = 0.1,
        scta_reduction: int = 2,
        scta_time_kernel_sizes: Sequence[int] = (5, 3),
    ):
        super().__init__()
        if num_spk != 1:
            raise ValueError(
                f"bss_cffma enhances one speaker (num_spk: 1), got num_spk={num_spk}"
            )
        self._num_spk = num_spk
        self.fs = fs
        self.stft = STFT(n_fft, win_length, hop_length, window)
        self.ssl = SSLFeatureExtractor(
            ssl_upstream,
            ssl_path_or_url,
            ssl_layers,
            ssl_finetune,
            ssl_batch_mode,
            ssl_extra_conf,
        )
        if self.ssl.downsample_rate % hop_length:
            raise ValueError(
                f"STFT hop_length {hop_length} must divide the SSL frame stride "
                f"{self.ssl.downsample_rate} of '{ssl_upstream}' so that frames align"
            )
        self.ssl_repeat = self.ssl.downsample_rate // hop_length
        self.mscff = MSCFF(
            self.stft.num_bins,
            self.ssl.output_dim,
            fusion_dim,
            fusion_hidden_dim,
            gate_kernel_sizes,
            gate_dilations,
        )
        self.rhma = RHMA(
            fusion_dim,
            attention_dim,
            num_blocks,
            num_heads,
            ffn_dim,
            dropout,
            scta_reduction,
            scta_time_kernel_sizes,
        )
        self.mask_head = torch.nn.Linear(attention_dim, self.stft.num_bins)

    @property
    def num_spk(self) -> int:
        """Number of outputs (1)."""
        return self._num_spk

    @property
    def padding_invariant(self) -> bool:
        """Whether an utterance's output is the same in any padded batch.

        True with ``ssl_batch_mode: exact`` (every layer masks padded frames and
        the upstream never sees padding; tested to 1e-4), so ``cffma-enhance``
        may batch files of different lengths.
        """
        return self.ssl.batch_mode == "exact"

    @property
    def min_samples(self) -> int:
        """Shortest input the model accepts (STFT and SSL receptive fields)."""
        return max(self.stft.min_samples, self.ssl.min_samples)

    def log1p_magnitude(
        self, wav: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The model's spectral feature, used for its input and its loss target.

        Args:
            wav: waveforms ``[B, N]``.
            lengths: valid samples per utterance ``[B]``.

        Returns:
            ``log1p|STFT|`` ``[B, T, F]`` (zero past each utterance), the complex
            spectrum ``[B, T, F]`` and frame counts ``[B]``.
        """
        spec, frames = self.stft(wav, lengths)
        return torch.log1p(spec.abs()), spec, frames

    def espnet_initialization_fn(self) -> None:
        """Puts norms, PReLU slopes and SSL layer weights back after ``init:``.

        ESPnet's ``initialize`` draws every parameter again; its ``chainer``
        mode draws 1-D ones (norm gains, PReLU slopes) at random and resets no
        norm, and no mode knows :class:`MaskedGlobalLayerNorm`. The SSL upstream
        is reloaded separately (``SSLFeatureExtractor``'s reloader).
        """
        upstream = set(self.ssl.upstream.modules())
        for module in self.modules():
            if module in upstream:
                continue
            if isinstance(module, MaskedGlobalLayerNorm):
                torch.nn.init.ones_(module.gamma)
                torch.nn.init.zeros_(module.beta)
            elif isinstance(module, (torch.nn.LayerNorm, torch.nn.PReLU)):
                module.reset_parameters()
        torch.nn.init.zeros_(self.ssl.layer_weights)  # equal weights, as in the paper

    def align_ssl_frames(
        self, ssl: torch.Tensor, ssl_frames: torch.Tensor, num_frames: int
    ) -> torch.Tensor:
        """Repeats SSL frames to the STFT frame rate.

        Each SSL frame covers ``ssl_repeat`` STFT frames; STFT frames past an
        utterance's last SSL frame repeat it (pad), extra SSL frames are dropped
        (trim).

        Args:
            ssl: SSL features ``[B, T', D]``.
            ssl_frames: valid SSL frames per utterance ``[B]``.
            num_frames: STFT frames ``T`` of the batch.

        Returns:
            ``[B, T, D]``.
        """
        steps = torch.arange(num_frames, device=ssl.device) // self.ssl_repeat
        last = (ssl_frames - 1).clamp(min=0).unsqueeze(1)
        index = torch.minimum(steps.unsqueeze(0), last)  # [B, T]
        return torch.gather(ssl, 1, index.unsqueeze(-1).expand(-1, -1, ssl.size(-1)))

    def forward(
        self,
        input: torch.Tensor,
        ilens: torch.Tensor,
        additional: dict | None = None,
    ) -> tuple[list[torch.Tensor], torch.Tensor, OrderedDict]:
        """Enhances a batch of waveforms.

        Args:
            input: noisy waveforms ``[B, N]`` at ``fs``.
            ilens: valid samples per utterance ``[B]``.
            additional: unused (ESPnet interface).

        Returns:
            ``[enhanced]`` with enhanced ``[B, N]`` (zero past each length),
            ``ilens``, and ``others``: ``mask_spk1`` (the mask on the log1p
            magnitude ``[B, T, F]``), ``log1p_magnitude_spk1`` (the masked log1p
            magnitude, the paper's loss input ``[B, T, F]``),
            ``log1p_input_lengths`` (``ilens``) and ``log1p_analysis`` (this
            model's :meth:`log1p_magnitude`, so that the loss analyses the
            reference with the very same STFT).
        """
        if input.dim() != 2:
            raise ValueError(
                "bss_cffma takes single-channel waveforms [B, N], got shape "
                f"{tuple(input.shape)}: select or mix down one channel"
            )
        if torch.is_complex(input):
            raise ValueError(
                "bss_cffma takes waveforms: use 'encoder: same' and 'decoder: same'"
            )
        ilens = ilens.to(input.device).long()
        if int(ilens.min()) < self.min_samples:
            raise ValueError(
                f"bss_cffma needs at least {self.min_samples} samples "
                f"({1000 * self.min_samples / self.fs:.1f} ms) per utterance, got "
                f"{int(ilens.min())}"
            )
        log_mag, spec, frames = self.log1p_magnitude(input, ilens)  # [B, T, F]
        mask = valid_frames(frames, spec.size(1))

        ssl, ssl_frames = self.ssl(input, ilens)
        ssl = self.align_ssl_frames(ssl, ssl_frames, spec.size(1))

        hidden = self.rhma(self.mscff(log_mag, ssl, mask), mask)
        tf_mask = torch.sigmoid(self.mask_head(hidden))
        predicted = tf_mask * log_mag
        enhanced_mag = torch.expm1(predicted)
        enhanced = self.stft.inverse(torch.polar(enhanced_mag, spec.angle()), ilens)
        others = OrderedDict(mask_spk1=tf_mask)
        others[PREDICTION_KEY.format(1)] = predicted
        others[LENGTHS_KEY] = ilens
        others[ANALYSIS_KEY] = self.log1p_magnitude
        return [enhanced], ilens, others

    def forward_streaming(self, input_frame: torch.Tensor, states=None):
        """Not supported: self-attention over the utterance is not causal."""
        raise NotImplementedError(
            "bss_cffma has no streaming mode: its self-attention spans the whole "
            "utterance. Use chunked inference (segment_size) for long inputs."
        )
