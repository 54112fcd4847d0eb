"""TF-GridNet with output heads after chosen blocks (progressive learning).

The blocks, encoder, embedding convolution and output deconvolution are
ESPnet's own (``espnet2.enh.separator.tfgridnetv2_separator``); this module only
adds heads after intermediate blocks and the optional dense-by-sum wiring.
"""

from collections import OrderedDict
from collections.abc import Sequence

import torch
from espnet2.enh.decoder.stft_decoder import STFTDecoder
from espnet2.enh.encoder.stft_encoder import STFTEncoder
from espnet2.enh.layers.complex_utils import new_complex_like
from espnet2.enh.separator.abs_separator import AbsSeparator
from espnet2.enh.separator.tfgridnetv2_separator import GridNetV2Block

#: Key in ``others`` of the intermediate waveforms, earliest block first.
INTERMEDIATE_KEY = "intermediate_outputs"
#: Key in ``others`` of the (unnormalised) input waveform ``[B, N]``.
MIXTURE_KEY = "mixture"


class TFGridNetPLSeparator(AbsSeparator):
    """TF-GridNet (ESPnet's v2 blocks) with progressive-learning output heads.

    Registered as ESPnet separator ``tfgridnet_pl``; use it with
    ``encoder: same`` / ``decoder: same``: it takes the waveform and owns its
    STFT, like ESPnet's ``tfgridnetv2``. With ``output_blocks`` naming only the
    last block and ``dense_sum: false`` it is direct learning and computes
    exactly what ``tfgridnetv2`` computes (same parameter names, so a
    ``tfgridnetv2`` state dict loads into it).

    Args:
        input_dim: unused (ESPnet passes the encoder's output size).
        n_srcs: number of output sources.
        n_fft: STFT size (window length = n_fft).
        stride: STFT hop.
        window: STFT window.
        n_imics: number of input channels.
        n_layers: number of TF-GridNet blocks.
        lstm_hidden_units: LSTM hidden units H.
        attn_n_head: attention heads.
        attn_approx_qk_dim: approximate query/key size (ESPnet's E).
        emb_dim: embedding size D.
        emb_ks: unfold kernel size I.
        emb_hs: unfold hop J.
        activation: activation (ESPnet's v2 blocks support ``prelu``).
        eps: normalisation epsilon.
        use_builtin_complex: ESPnet STFT option.
        output_blocks: 1-based indices of the blocks followed by an output head;
            must end with ``n_layers`` (the final, clean-target output).
            ``None`` = only the last block (direct learning).
        dense_sum: if true, block i's input is the encoder embedding plus the
            sum of the outputs of blocks 1..i-1 (the authors' progressive
            wiring); if false, blocks are chained as in TF-GridNet.
    """

    def __init__(
        self,
        input_dim: int,
        n_srcs: int = 1,
        n_fft: int = 512,
        stride: int = 256,
        window: str = "hann",
        n_imics: int = 1,
        n_layers: int = 5,
        lstm_hidden_units: int = 100,
        attn_n_head: int = 4,
        attn_approx_qk_dim: int = 512,
        emb_dim: int = 32,
        emb_ks: int = 4,
        emb_hs: int = 1,
        activation: str = "prelu",
        eps: float = 1.0e-5,
        use_builtin_complex: bool = False,
        output_blocks: Sequence[int] | None = None,
        dense_sum: bool = False,
    ):
        super().__init__()
        if n_fft % 2 != 0:
            raise ValueError(f"tfgridnet_pl: n_fft must be even, got {n_fft}")
        if output_blocks is None:
            output_blocks = [n_layers]
        output_blocks = [int(b) for b in output_blocks]
        if (
            not output_blocks
            or output_blocks[-1] != n_layers
            or any(b < 1 or b > n_layers for b in output_blocks)
            or sorted(set(output_blocks)) != output_blocks
        ):
            raise ValueError(
                "tfgridnet_pl: output_blocks must be strictly increasing block "
                f"indices in 1..{n_layers} ending with {n_layers} (the final "
                f"output), got {output_blocks}"
            )
        self.n_srcs = n_srcs
        self.n_layers = n_layers
        self.n_imics = n_imics
        self.output_blocks = output_blocks
        self.dense_sum = dense_sum
        n_freqs = n_fft // 2 + 1

        self.enc = STFTEncoder(
            n_fft, n_fft, stride, window=window, use_builtin_complex=use_builtin_complex
        )
        self.dec = STFTDecoder(n_fft, n_fft, stride, window=window)
        ks, padding = (3, 3), (1, 1)
        self.conv = torch.nn.Sequential(
            torch.nn.Conv2d(2 * n_imics, emb_dim, ks, padding=padding),
            torch.nn.GroupNorm(1, emb_dim, eps=eps),
        )
        self.blocks = torch.nn.ModuleList(
            GridNetV2Block(
                emb_dim,
                emb_ks,
                emb_hs,
                n_freqs,
                lstm_hidden_units,
                n_head=attn_n_head,
                approx_qk_dim=attn_approx_qk_dim,
                activation=activation,
                eps=eps,
            )
            for _ in range(n_layers)
        )
        # The final head keeps tfgridnetv2's name ("deconv") so its weights load.
        self.deconv = torch.nn.ConvTranspose2d(emb_dim, n_srcs * 2, ks, padding=padding)
        self.intermediate_deconvs = torch.nn.ModuleList(
            torch.nn.ConvTranspose2d(emb_dim, n_srcs * 2, ks, padding=padding)
            for _ in output_blocks[:-1]
        )

    @property
    def num_spk(self) -> int:
        """Number of output sources."""
        return self.n_srcs

    def forward(
        self,
        input: torch.Tensor,
        ilens: torch.Tensor,
        additional: dict | None = None,
    ) -> tuple[list[torch.Tensor], torch.Tensor, OrderedDict]:
        """Enhances a batch of waveforms.

        Args:
            input: waveforms ``[B, N]`` (or ``[B, N, M]`` with ``n_imics`` > 1).
            ilens: lengths ``[B]``.
            additional: unused.

        Returns:
            The final estimates (list of ``n_srcs`` tensors ``[B, N]``), ``ilens``
            and ``others`` with ``intermediate_outputs`` (one list of ``n_srcs``
            waveforms ``[B, N]`` per intermediate head, earliest first) and
            ``mixture`` (the input ``[B, N]``, first channel).
        """
        n_samples = input.shape[1]
        if input.dim() == 2:
            if self.n_imics != 1:
                raise ValueError(
                    f"tfgridnet_pl: n_imics={self.n_imics} but the input is "
                    "single-channel [B, N]"
                )
            mixture = input
            input = input[..., None]  # [B, N, 1]
        else:
            mixture = input[..., 0]
        mix_std = torch.std(input, dim=(1, 2), keepdim=True)  # [B, 1, 1]
        input = input / mix_std  # RMS normalisation, undone at the output

        spec = self.enc(input, ilens)[0]  # [B, T, M, F]
        spec = spec.transpose(1, 2)  # [B, M, T, F]
        emb = self.conv(torch.cat((spec.real, spec.imag), dim=1))  # [B, D, T, F]

        heads = list(self.intermediate_deconvs) + [self.deconv]
        head_of_block = dict(zip(self.output_blocks, heads))
        outputs = []
        batch = emb
        block_sum = None
        for index, block in enumerate(self.blocks, start=1):
            if self.dense_sum and block_sum is not None:
                batch = block(emb + block_sum)
            else:
                batch = block(batch)
            if self.dense_sum:
                block_sum = batch if block_sum is None else block_sum + batch
            if index in head_of_block:
                outputs.append(
                    self._head(head_of_block[index], batch, spec, ilens, n_samples)
                    * mix_std
                )
        waves = [[out[:, src] for src in range(self.n_srcs)] for out in outputs]
        others = OrderedDict()
        others[INTERMEDIATE_KEY] = waves[:-1]
        others[MIXTURE_KEY] = mixture
        return waves[-1], ilens, others

    def _head(
        self,
        deconv: torch.nn.Module,
        batch: torch.Tensor,
        spec: torch.Tensor,
        ilens: torch.Tensor,
        n_samples: int,
    ) -> torch.Tensor:
        """Output head: ``[B, D, T, F]`` embedding -> ``[B, n_srcs, N]`` waveforms."""
        n_batch, _, n_frames, n_freqs = batch.shape
        out = deconv(batch).view([n_batch, self.n_srcs, 2, n_frames, n_freqs])
        out = new_complex_like(spec, (out[:, :, 0], out[:, :, 1]))
        wav = self.dec(out.view(-1, n_frames, n_freqs), ilens)[0]
        wav = wav.view([n_batch, self.n_srcs, -1])
        return torch.nn.functional.pad(wav, (0, n_samples - wav.shape[-1]))

    def forward_streaming(self, input_frame: torch.Tensor, buffer=None):
        """Not supported: TF-GridNet's blocks see the whole utterance."""
        raise NotImplementedError("tfgridnet_pl is an offline (non-causal) model")
