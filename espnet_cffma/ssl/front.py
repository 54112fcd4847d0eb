"""S3PRL upstream with a learnable softmax-weighted sum of layer-normalised layers."""

import hashlib
import logging
from collections.abc import Sequence

import torch

from espnet_cffma.optim import flag_ssl_parameters
from espnet_cffma.ssl.loading import load_s3prl_upstream

FINETUNE_MODES = ("frozen", "pf", "ef")
BATCH_MODES = ("exact", "padded")

logger = logging.getLogger(__name__)


class _PretrainedReloader(torch.nn.Module):
    """Restores pretrained upstream weights after ESPnet's ``init:``.

    ESPnet's ``initialize`` re-initialises every parameter, then resets every
    LayerNorm / GroupNorm while walking ``model.modules()`` in pre-order, and
    calls ``espnet_initialization_fn`` on each module it meets. Registered as
    the last child of :class:`SSLFeatureExtractor`, this leaf is met after all
    upstream modules, so its reload is the last word.
    """

    def __init__(self, reload_fn):
        super().__init__()
        self._reload_fn = reload_fn

    def espnet_initialization_fn(self) -> None:
        self._reload_fn()


class SSLFeatureExtractor(torch.nn.Module):
    """Self-supervised features: any S3PRL upstream plus a learnable layer sum.

    Each selected hidden state gets its own LayerNorm; softmax weights
    (initialised equal) then sum them.

    Args:
        upstream: an S3PRL upstream name: a hub preset (``wavlm_large``,
            ``wav2vec2_large_ll60k``, ``hubert_base``, ...) or a local checkpoint
            loader (``wavlm_local``, ``wav2vec2_local``, ``hubert_local``).
        path_or_url: checkpoint path (required for ``*_local``) or URL.
        layers: indices of the hidden states to sum (0 is the CNN/projection
            output); ``None`` uses all.
        finetune: ``frozen`` (upstream fixed, always in eval mode), ``pf``
            (freeze the CNN feature extractor, fine-tune the transformer) or
            ``ef`` (fine-tune everything).
        batch_mode: ``exact`` runs the upstream on groups of equal-length
            utterances, so that no utterance ever sees padding; ``padded`` runs
            one padded batch (faster for mixed lengths, but features then depend
            on the batch: "default" CNNs (wav2vec2 / HuBERT / WavLM Base) apply
            a GroupNorm over the padded time axis, and fairseq-style upstreams
            count a frame as padding only when all of its samples are, so a
            partly padded frame leaks into attention).
        extra_conf: extra keyword arguments for the S3PRL upstream.
    """

    def __init__(
        self,
        upstream: str = "wavlm_local",
        path_or_url: str | None = None,
        layers: Sequence[int] | None = None,
        finetune: str = "frozen",
        batch_mode: str = "exact",
        extra_conf: dict | None = None,
    ):
        super().__init__()
        if finetune not in FINETUNE_MODES:
            raise ValueError(
                f"ssl_finetune must be one of {FINETUNE_MODES}, got '{finetune}'"
            )
        if batch_mode not in BATCH_MODES:
            raise ValueError(
                f"ssl_batch_mode must be one of {BATCH_MODES}, got '{batch_mode}'"
            )
        self.name = upstream
        self.path_or_url = path_or_url
        self.finetune = finetune
        self.extra_conf = dict(extra_conf or {})
        self.upstream = load_s3prl_upstream(upstream, path_or_url, self.extra_conf)
        flag_ssl_parameters(self.upstream)  # for optim: adam_ssl (ssl_lr)

        num_layers = self.upstream.num_layers
        if layers is None:
            layers = list(range(num_layers))
        layers = [int(i) for i in layers]
        bad = [i for i in layers if not 0 <= i < num_layers]
        if not layers or bad:
            raise ValueError(
                f"ssl_layers {layers} do not fit upstream '{upstream}', which has "
                f"{num_layers} hidden states (valid indices 0..{num_layers - 1})"
            )
        sizes = {self.upstream.hidden_sizes[i] for i in layers}
        rates = {self.upstream.downsample_rates[i] for i in layers}
        if len(sizes) != 1 or len(rates) != 1:
            raise ValueError(
                f"ssl_layers {layers} of '{upstream}' differ in size {sorted(sizes)} "
                f"or frame rate {sorted(rates)}: choose layers that match"
            )
        self.layers = layers
        self.output_dim = sizes.pop()
        self.downsample_rate = rates.pop()

        self.batch_mode = batch_mode

        cnn = self._cnn_extractor()
        self._cnn_convs = (
            [m for m in cnn.modules() if isinstance(m, torch.nn.Conv1d)] if cnn else []
        )
        # Shortest input giving one CNN frame, i.e. the receptive field.
        counts = self._cnn_frame_counts(torch.arange(1, 16001))
        self.min_samples = int(torch.nonzero(counts >= 1)[0]) + 1
        self.layer_norms = torch.nn.ModuleList(
            torch.nn.LayerNorm(self.output_dim) for _ in layers
        )
        self.layer_weights = torch.nn.Parameter(torch.zeros(len(layers)))
        self._apply_finetune_mode()
        # Checkpoints leave out the upstream weights that never train: they are
        # rebuilt from path_or_url, which this fingerprint of them checks.
        self.frozen_upstream_keys = sorted(
            name for name, p in self.upstream.named_parameters() if not p.requires_grad
        )
        self.register_buffer("ssl_fingerprint", self._fingerprint())
        self._register_state_dict_hook(_drop_frozen_upstream)
        self._register_load_state_dict_pre_hook(
            _restore_frozen_upstream, with_module=True
        )
        # Last child on purpose: see _PretrainedReloader.
        self.pretrained_reloader = _PretrainedReloader(self.reload_pretrained)

    def _cnn_extractor(self) -> torch.nn.Module | None:
        """The upstream's convolutional waveform encoder, if it has one."""
        candidates = [
            (name, module)
            for name, module in self.upstream.named_modules()
            if name.split(".")[-1] == "feature_extractor"
        ]
        return min(candidates, key=lambda c: len(c[0]))[1] if candidates else None

    def _apply_finetune_mode(self) -> None:
        cnn = self._cnn_extractor()
        if self.finetune == "frozen":
            self.upstream.requires_grad_(False)
        elif self.finetune == "pf":
            if cnn is None:
                raise ValueError(
                    f"ssl_finetune 'pf' freezes the CNN feature extractor, but "
                    f"upstream '{self.name}' has none: use 'frozen' or 'ef'"
                )
            self.upstream.requires_grad_(True)
            cnn.requires_grad_(False)
        else:
            self.upstream.requires_grad_(True)
            # S3PRL sets feature_grad_mult = 0, which silently stops gradients
            # into the CNN; EF means the CNN learns too.
            for module in self.upstream.modules():
                if hasattr(module, "feature_grad_mult"):
                    module.feature_grad_mult = 1.0
        if self.finetune != "frozen":
            self._freeze_unused_parameters()

    def _freeze_unused_parameters(self) -> None:
        """Freezes upstream parameters that the forward never uses.

        Pretraining-only parts (WavLM's and wav2vec2's ``mask_emb``, wav2vec2's
        quantiser and projection heads, HuBERT's label embeddings, layers past
        the last selected one) would otherwise require gradients that never
        come, which stops multi-GPU training (DDP with ESPnet's default
        ``find_unused_parameters: false``) at its second step. One backward
        pass on a short input finds them, whatever the upstream.
        """
        was_training = self.upstream.training
        self.upstream.train()
        self.upstream.zero_grad(set_to_none=True)
        num_samples = max(self.min_samples, 4 * self.downsample_rate)
        wav = 0.1 * torch.randn(
            1, num_samples, generator=torch.Generator().manual_seed(0)
        )
        with torch.enable_grad():
            states, _ = self.upstream(wav, torch.tensor([num_samples]))
            sum(states[i].sum() for i in self.layers).backward()
        unused = []
        for name, param in self.upstream.named_parameters():
            if param.requires_grad and param.grad is None:
                param.requires_grad_(False)
                unused.append(name)
            param.grad = None
        self.upstream.train(was_training)
        if unused:
            logger.info(
                "SSL upstream '%s': froze %d parameter(s) its forward never uses: %s",
                self.name,
                len(unused),
                ", ".join(unused),
            )

    def train(self, mode: bool = True):
        """Sets the mode, keeping the frozen parts in eval mode (no dropout)."""
        super().train(mode)
        if self.finetune == "frozen":
            self.upstream.eval()
        elif self.finetune == "pf":
            self._cnn_extractor().eval()
        return self

    def reload_pretrained(self) -> None:
        """Reloads the upstream's pretrained weights from its checkpoint."""
        fresh = load_s3prl_upstream(self.name, self.path_or_url, self.extra_conf)
        self.upstream.load_state_dict(fresh.state_dict())
        logger.info("Reloaded pretrained SSL weights of '%s'", self.name)

    def _fingerprint(self) -> torch.Tensor:
        """SHA-256 of the frozen upstream weights as four int64 words ``[4]``.

        int64, so that ESPnet's checkpoint averaging copies it unchanged.
        """
        digest = hashlib.sha256()
        params = dict(self.upstream.named_parameters())
        for name in self.frozen_upstream_keys:
            tensor = params[name].detach().cpu().contiguous()
            digest.update(name.encode())
            digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
        return torch.frombuffer(bytearray(digest.digest()), dtype=torch.int64).clone()

    def _cnn_frame_counts(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frames the CNN computes from real samples only, per length ``[B]``.

        S3PRL pads its output to ``(N - 1) // stride + 1`` frames; in a padded
        batch that last frame comes from the padding, in a solo run it repeats
        the previous one. Counting only frames computed from real samples, and
        repeating the last of them, makes both cases the same.
        """
        if not self._cnn_convs:
            return (
                torch.div(lengths - 1, self.downsample_rate, rounding_mode="floor") + 1
            )
        frames = lengths
        for conv in self._cnn_convs:
            span = conv.dilation[0] * (conv.kernel_size[0] - 1) + 1
            frames = (
                torch.div(
                    frames + 2 * conv.padding[0] - span,
                    conv.stride[0],
                    rounding_mode="floor",
                )
                + 1
            )
        return frames

    def _hidden_states(
        self, wav: torch.Tensor, lengths: torch.Tensor
    ) -> list[torch.Tensor]:
        """The selected hidden states, each ``[B, T', D]``."""
        if self.batch_mode == "padded" or bool((lengths == lengths[0]).all()):
            states, _ = self.upstream(wav, lengths)
            return [states[i] for i in self.layers]
        # Chunked training batches have one length: usually a single group.
        frames = (
            int(
                torch.div(
                    lengths.max() - 1, self.downsample_rate, rounding_mode="floor"
                )
            )
            + 1
        )
        selected = [
            wav.new_zeros(wav.size(0), frames, self.output_dim) for _ in self.layers
        ]
        for length in torch.unique(lengths).tolist():
            group = torch.nonzero(lengths == length).squeeze(1)
            states, _ = self.upstream(wav[group, :length], lengths[group])
            for out, i in zip(selected, self.layers):
                out[group, : states[i].size(1)] = states[i]
        return selected

    def forward(
        self, wav: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Extracts weighted-sum SSL features.

        Args:
            wav: 16 kHz waveforms ``[B, N]``.
            lengths: valid samples per utterance ``[B]``.

        Returns:
            Features ``[B, T', D]`` (one frame per ``downsample_rate`` samples)
            and, per utterance ``[B]``, the frames computed from its own samples
            (see :meth:`_cnn_frame_counts`; frames after them are not valid).
        """
        if int(lengths.min()) < self.min_samples:
            raise ValueError(
                f"Input of {int(lengths.min())} samples is shorter than the SSL "
                f"upstream's receptive field ({self.min_samples} samples)"
            )
        grad = torch.is_grad_enabled() and self.finetune != "frozen"
        with torch.set_grad_enabled(grad):
            states = self._hidden_states(wav, lengths)
        weights = torch.softmax(self.layer_weights, dim=0)
        features = sum(
            w * norm(h) for w, norm, h in zip(weights, self.layer_norms, states)
        )
        return features, self._cnn_frame_counts(lengths)


def _drop_frozen_upstream(module, state_dict, prefix, local_metadata):
    """``state_dict`` hook: leaves out upstream weights that never train."""
    for name in module.frozen_upstream_keys:
        state_dict.pop(f"{prefix}upstream.{name}", None)
    return state_dict


def _restore_frozen_upstream(
    module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors
):
    """``load_state_dict`` pre-hook: checks and fills in the frozen weights.

    A checkpoint without the frozen upstream weights gets them from the upstream
    this module loaded from ``path_or_url``, after checking that they are the
    ones it was trained with. Checkpoints that hold them (older ones) load as
    they are.
    """
    key = f"{prefix}ssl_fingerprint"
    stored = state_dict.get(key)
    if stored is None:
        state_dict[key] = module.ssl_fingerprint.clone()
    elif not torch.equal(stored.cpu(), module.ssl_fingerprint.cpu()):
        raise ValueError(
            f"The checkpoint was trained with other SSL weights than "
            f"'{module.path_or_url or module.name}' (upstream '{module.name}') "
            "now gives: its frozen upstream weights are not stored in it and are "
            "rebuilt from ssl_path_or_url, so point ssl_path_or_url (or "
            "--ssl_ckpt) at the SSL checkpoint the model was trained with"
        )
    params = dict(module.upstream.named_parameters())
    for name in module.frozen_upstream_keys:
        state_dict.setdefault(f"{prefix}upstream.{name}", params[name].detach())
