"""The CNUNet-TB-TS separator (ESPnet name ``cnunet_tb``).

Causal two-branch complex nested U-Net (Seorim Hwang et al., "Causal speech
enhancement based on a two-branch nested U-Net architecture using
self-supervised speech embeddings", ICASSP 2025), trained in two stages:

* stage 1 (``ssl_upstream`` set): a frozen S3PRL upstream's softmax-weighted
  layer sum, interpolated to the STFT frame rate, is fused into the outer
  bottleneck;
* stage 2 (``ssl_upstream: null`` and ``teacher_config`` /
  ``teacher_model_file`` set): the same network without SSL learns, besides
  the spectral loss, to reproduce the stage-1 bottleneck output for the same
  input (criterion ``latent_mse`` with wrapper ``latent_distill``).

Signal path: waveform -> causal STFT (512/256 Hamming, left padded) -> drop DC
-> compress ``|X|**0.2`` (phase kept) -> network -> mask branch (bounded polar
mask on the compressed noisy spectrum) and mapping branch (compressed clean
spectrum) -> decompress each (``|.|**5``) -> average -> put DC back (zero) ->
overlap-add. Without SSL the whole path is strictly causal: output sample ``n``
depends on input samples before ``n + win_length`` only (32 ms algorithmic
latency), and :meth:`forward_streaming` runs it one hop at a time.

It takes the waveform: configure ESPnet with ``encoder: same``/``decoder:
same``. ``init: null`` keeps the pretrained SSL weights.

Why the stage-1 model is loaded frozen (rather than its latents dumped to
disk, as the authors do): the latents then always match the exact crops,
gains and batches the student sees (ESPnet's chunk iterator cuts random
chunks, which dumped per-utterance latents would have to be cut alike), no
recipe stage and no disk space are needed, and the cost is one no-grad
stage-1 forward per step. The teacher is held outside the module tree, so it
is neither trained nor saved: the stage-2 checkpoint holds the student only,
and the teacher (with its SSL upstream) is only loaded when training starts,
never at inference.
"""

from collections import OrderedDict
from collections.abc import Sequence

import torch
from espnet2.enh.separator.abs_separator import AbsSeparator

from espnet_cffma.layers.causal import assign_state_keys
from espnet_cffma.layers.causal_stft import CausalSTFT
from espnet_cffma.systems.cnunet_tb.network import BRANCHES, CNUNetTB

SSL_INPUTS = ("noisy", "clean")


class CNUNetTBSeparator(AbsSeparator):
    """CNUNet-TB(-TS): causal complex nested U-Net with optional SSL / teacher.

    Args:
        input_dim: ESPnet encoder output size (unused: ``encoder: same``).
        num_spk: must be 1.
        fs: sampling rate (16000; SSL upstreams expect it).
        n_fft: FFT size (512); ``n_fft // 2`` bins are fed (DC dropped).
        win_length: window (512 = 32 ms, the algorithmic latency).
        hop_length: hop (256); must divide ``win_length``.
        window: ``hamming`` (authors).
        compress_exponent: spectral magnitude compression (0.2).
        channels: outer channels per complex part (32: the authors' out_ch 64
            counts both parts).
        mid_channels: inner U-Net channels per part (16: their mid_ch 32).
        encoder_depths: inner U-Net depth of each encoder stage (6,5,4,4,4,3).
        decoder_depths: per decoder stage (null: encoder depths reversed).
        inner_dense_layers: layers of each inner dense bottleneck (6).
        bottleneck_layers: layers of the outer dense bottleneck (6).
        branches: ``[mask, mapping]`` (TB) or one of them (single branch).
        complex_valued: complex convolutions (true) or real ones (ablation).
        norm: ``cumulative`` (causal stand-in for the authors' utterance-wide
            GroupNorm) or ``frame``.
        ctfa_kernel: CTFA time kernel (17), causal here.
        ctfa_window: CTFA moving-average frames (32).
        ssl_upstream: S3PRL upstream for stage 1 (null: no SSL).
        ssl_path_or_url: its checkpoint.
        ssl_layers: hidden states in the weighted sum (null: all).
        ssl_finetune: ``frozen`` (authors), ``pf`` or ``ef``.
        ssl_extra_conf: extra S3PRL upstream arguments.
        ssl_input: what the upstream hears: ``noisy`` (deployable) or ``clean``
            (the authors' privileged teacher; needs the clean reference as
            ``additional["speech_ref1"]``).
        teacher_config: stage 2: the stage-1 experiment's ``config.yaml``.
        teacher_model_file: stage 2: the stage-1 checkpoint (``*.pth``).
    """

    def __init__(
        self,
        input_dim: int = 0,
        num_spk: int = 1,
        fs: int = 16000,
        n_fft: int = 512,
        win_length: int = 512,
        hop_length: int = 256,
        window: str = "hamming",
        compress_exponent: float = 0.2,
        channels: int = 32,
        mid_channels: int = 16,
        encoder_depths: Sequence[int] = (6, 5, 4, 4, 4, 3),
        decoder_depths: Sequence[int] | None = None,
        inner_dense_layers: int = 6,
        bottleneck_layers: int = 6,
        branches: Sequence[str] = BRANCHES,
        complex_valued: bool = True,
        norm: str = "cumulative",
        ctfa_kernel: int = 17,
        ctfa_window: int = 32,
        ssl_upstream: str | None = None,
        ssl_path_or_url: str | None = None,
        ssl_layers: Sequence[int] | None = None,
        ssl_finetune: str = "frozen",
        ssl_extra_conf: dict | None = None,
        ssl_input: str = "noisy",
        teacher_config: str | None = None,
        teacher_model_file: str | None = None,
    ):
        super().__init__()
        if num_spk != 1:
            raise ValueError(
                f"cnunet_tb enhances one speaker (num_spk: 1), got num_spk={num_spk}"
            )
        if not 0 < compress_exponent <= 1:
            raise ValueError(
                f"compress_exponent must be in (0, 1], got {compress_exponent}"
            )
        if ssl_input not in SSL_INPUTS:
            raise ValueError(
                f"ssl_input must be one of {SSL_INPUTS}, got '{ssl_input}'"
            )
        if (teacher_config is None) != (teacher_model_file is None):
            raise ValueError(
                "cnunet_tb stage 2 needs both teacher_config and teacher_model_file "
                "(the stage-1 experiment's config.yaml and checkpoint)"
            )
        if teacher_config is not None and ssl_upstream is not None:
            raise ValueError(
                "cnunet_tb: a stage-2 model (teacher_config set) has no SSL "
                "upstream: set ssl_upstream: null"
            )
        self._num_spk = num_spk
        self.fs = fs
        self.compress_exponent = compress_exponent
        self.stft = CausalSTFT(n_fft, win_length, hop_length, window)
        self.ssl = None
        self.ssl_input = ssl_input
        if ssl_upstream is not None:
            from espnet_cffma.ssl.front import SSLFeatureExtractor

            self.ssl = SSLFeatureExtractor(
                ssl_upstream,
                ssl_path_or_url,
                ssl_layers,
                ssl_finetune,
                "exact",
                ssl_extra_conf,
            )
        self.network = CNUNetTB(
            num_bins=n_fft // 2,
            channels=channels,
            mid_channels=mid_channels,
            encoder_depths=encoder_depths,
            decoder_depths=decoder_depths,
            inner_dense_layers=inner_dense_layers,
            bottleneck_layers=bottleneck_layers,
            branches=branches,
            complex_valued=complex_valued,
            norm=norm,
            ctfa_kernel=ctfa_kernel,
            ctfa_window=ctfa_window,
            ssl_dim=self.ssl.output_dim if self.ssl is not None else 0,
        )
        assign_state_keys(self.network)
        self.teacher_config = teacher_config
        self.teacher_model_file = teacher_model_file
        # A plain list keeps the teacher out of parameters() and state_dict().
        self._teacher: list[torch.nn.Module] = []

    @property
    def num_spk(self) -> int:
        """Number of outputs (1)."""
        return self._num_spk

    @property
    def latency_samples(self) -> int:
        """Algorithmic latency: one window (output ``n`` needs inputs < ``n + win``)."""
        return self.stft.win_length

    # ----------------------------------------------------------------- spectra
    def compress(self, spec: torch.Tensor) -> torch.Tensor:
        """``[B, T, F]`` complex -> ``[B, 2, F-1, T]``: DC dropped, ``|X|**p``."""
        spec = spec[..., 1:]
        mag = spec.abs().clamp(min=1e-12)
        spec = spec * mag.pow(self.compress_exponent - 1)
        return torch.stack([spec.real, spec.imag], dim=1).transpose(2, 3)

    def decompress(self, parts: torch.Tensor) -> torch.Tensor:
        """``[B, 2, F-1, T]`` compressed -> ``[B, T, F]`` complex, zero DC."""
        spec = torch.complex(parts[:, 0], parts[:, 1]).transpose(1, 2)
        power = 1.0 / self.compress_exponent - 1
        spec = spec * spec.abs().pow(power)
        return torch.nn.functional.pad(spec, (1, 0))

    def combine(
        self, compressed: torch.Tensor, estimates: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """Turns branch outputs into the enhanced spectrum ``[B, T, F]``.

        Mask branch: ``|X_c| tanh|M|`` with phase ``angle X_c + angle M``
        (computed as ``X_c tanh|M| M/|M|``, which avoids ``atan2``); mapping
        branch: the estimate itself. Decompressed spectra are averaged (the
        authors average the branch waveforms; the iSTFT is linear).
        """
        spectra = []
        if "mask" in estimates:
            m = estimates["mask"]
            m_abs = torch.sqrt(m.pow(2).sum(dim=1, keepdim=True) + 1e-8)
            gain = torch.tanh(m_abs) / m_abs
            mr, mi = (m * gain).unbind(dim=1)
            xr, xi = compressed.unbind(dim=1)
            masked = torch.stack([xr * mr - xi * mi, xr * mi + xi * mr], dim=1)
            spectra.append(self.decompress(masked))
        if "mapping" in estimates:
            spectra.append(self.decompress(estimates["mapping"]))
        return sum(spectra) / len(spectra)

    # --------------------------------------------------------------------- SSL
    def ssl_features(
        self, wav: torch.Tensor, ilens: torch.Tensor, num_frames: int
    ) -> torch.Tensor:
        """SSL layer sum linearly interpolated to the STFT frames: ``[B, D, T]``.

        SSL frame ``j`` is centred on sample ``rate * j + receptive / 2``
        (``320 j + 200`` for WavLM); STFT frame ``t`` on ``t * hop``. Each
        STFT frame takes the linear interpolation between its two nearest SSL
        frames of its own utterance (clamped at the ends), so padding in the
        batch never leaks in. Not causal (nor is the
        upstream): stage 1 is the offline teacher.
        """
        feats, counts = self.ssl(wav, ilens)  # [B, T', D]
        rate = self.ssl.downsample_rate
        centres = torch.arange(num_frames, device=wav.device) * self.stft.hop_length
        pos = (centres.to(feats.dtype) - self.ssl.min_samples / 2) / rate  # [T]
        out = []
        for b, count in enumerate(counts.tolist()):
            p = pos.clamp(0, max(count - 1, 0))
            lo = p.floor().long()
            hi = (lo + 1).clamp(max=max(count - 1, 0))
            w = (p - lo).unsqueeze(-1)
            out.append(feats[b, lo] * (1 - w) + feats[b, hi] * w)
        return torch.stack(out).transpose(1, 2)

    # ----------------------------------------------------------------- teacher
    @property
    def teacher(self) -> torch.nn.Module | None:
        """The frozen stage-1 separator (loaded on first training use)."""
        return self._teacher[0] if self._teacher else None

    def load_teacher(self, device: torch.device) -> torch.nn.Module:
        """Loads the frozen stage-1 separator from its experiment files."""
        if not self._teacher:
            from espnet_cffma.systems.cnunet_tb.teacher import load_stage1_separator

            self._teacher.append(
                load_stage1_separator(
                    self.teacher_config, self.teacher_model_file, self
                )
            )
        teacher = self._teacher[0]
        if next(teacher.parameters()).device != device:
            teacher.to(device)
        return teacher

    # ----------------------------------------------------------------- forward
    def enhance(
        self,
        input: torch.Tensor,
        ilens: torch.Tensor,
        additional: dict | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Enhanced waveforms ``[B, N]``, bottleneck ``[B, 2C, F_b, T]``, frames."""
        if input.dim() != 2 or torch.is_complex(input):
            raise ValueError(
                "cnunet_tb takes single-channel waveforms [B, N] (use 'encoder: "
                f"same' and 'decoder: same'), got shape {tuple(input.shape)}"
            )
        ilens = ilens.to(input.device).long()
        spec = self.stft(input)  # [B, T, F]
        compressed = self.compress(spec)
        ssl = None
        if self.ssl is not None:
            ssl_wav = input
            if self.ssl_input == "clean":
                ssl_wav = (additional or {}).get("speech_ref1")
                if ssl_wav is None:
                    raise ValueError(
                        "cnunet_tb with ssl_input: clean needs the clean reference "
                        "as additional['speech_ref1'] (ESPnet's enhancement model "
                        "does not pass it): use ssl_input: noisy"
                    )
            ssl = self.ssl_features(ssl_wav, ilens, spec.size(1))
        estimates, latent = self.network(compressed, ssl)
        enhanced = self.stft.inverse(self.combine(compressed, estimates), input.size(1))
        keep = torch.arange(input.size(1), device=input.device) < ilens.unsqueeze(1)
        frames = self.stft.num_frames(ilens)
        return enhanced * keep, latent, frames

    def forward(
        self,
        input: torch.Tensor,
        ilens: torch.Tensor,
        additional: dict | None = None,
    ) -> tuple[list[torch.Tensor], torch.Tensor, OrderedDict]:
        """Enhances a batch of waveforms.

        Args:
            input: noisy waveforms ``[B, N]``.
            ilens: valid samples per utterance ``[B]``.
            additional: ``speech_ref1`` for ``ssl_input: clean``.

        Returns:
            ``[enhanced [B, N]]``, ``ilens``, and ``others`` with ``latent``
            (bottleneck output ``[B, 2C, F_b, T]``), ``latent_frames`` ``[B]``
            and, in stage 2 once the teacher is loaded, ``latent_target``
            (the stage-1 bottleneck for the same input, no gradient).
        """
        enhanced, latent, frames = self.enhance(input, ilens, additional)
        others = OrderedDict(latent=latent, latent_frames=frames)
        if self.teacher_config is not None and (self.training or self._teacher):
            teacher = self.load_teacher(input.device)
            with torch.no_grad():
                _, target, _ = teacher.enhance(input, ilens, additional)
            if target.shape != latent.shape:
                raise ValueError(
                    f"cnunet_tb stage 2: the stage-1 bottleneck {tuple(target.shape)} "
                    f"and this model's {tuple(latent.shape)} differ: use the same "
                    f"channels, n_fft and encoder_depths as {self.teacher_config}"
                )
            others["latent_target"] = target
        return [enhanced], ilens, others

    # --------------------------------------------------------------- streaming
    def forward_streaming(
        self, input_frame: torch.Tensor, states: dict | None = None
    ) -> tuple[list[torch.Tensor], dict, OrderedDict]:
        """Enhances the next hop(s) of samples, carrying an explicit state.

        Args:
            input_frame: the next ``k * hop_length`` input samples
                ``[B, k * hop]``, ``k >= 1`` (one hop: frame by frame; more:
                the same result for a chunk at once).
            states: the state returned by the previous call (None at the start).

        Returns:
            ``[output [B, k * hop]]``, the new state, ``{}``. The output lags
            the input by ``win_length - hop_length`` samples beyond the hop
            being read (the first ``win - hop`` output samples are the start-up
            delay; :mod:`espnet_cffma.systems.cnunet_tb.streaming` trims them).
            The state holds the last input samples, every convolution's cache,
            the cumulative norms' running sums and the overlap-add buffer; the
            old state is left untouched.
        """
        if self.ssl is not None:
            raise NotImplementedError(
                "cnunet_tb stage 1 (with an SSL upstream) is not causal and cannot "
                "stream: stream the stage-2 model"
            )
        hop = self.stft.hop_length
        if (
            input_frame.dim() != 2
            or input_frame.size(1) % hop
            or not input_frame.size(1)
        ):
            raise ValueError(
                f"forward_streaming takes [B, k * {hop}] sample blocks (whole hops), "
                f"got shape {tuple(input_frame.shape)}"
            )
        states = dict(states or {})
        net_state = dict(states.get("network", {}))
        spec, states["analysis"] = self.stft.analyse_step(
            input_frame, states.get("analysis")
        )
        compressed = self.compress(spec)
        estimates, _ = self.network(compressed, None, net_state)
        out, states["synthesis"] = self.stft.synthesise_step(
            self.combine(compressed, estimates), states.get("synthesis")
        )
        states["network"] = net_state
        return [out], states, OrderedDict()
