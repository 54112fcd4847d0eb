"""The one place that reconciles s3prl with torchaudio >= 2.9.

``s3prl.hub`` imports every upstream; in s3prl 0.4.18 two of them use
torchaudio names that torchaudio 2.9 removed (``torchaudio.set_audio_backend``
and the ``torchaudio.sox_effects`` module). ESPnet's fork ``espnet-s3prl``,
which tools/install.sh installs, no longer needs them, but a user's own
environment may have the original s3prl. Where the names are missing they are
defined here, before s3prl is imported: the backend switch becomes a no-op
(audio I/O goes through soundfile) and sox effects raise a clear error. None of
the upstreams this project loads (WavLM, wav2vec 2.0, HuBERT) use either name.
"""

import sys
import types


def _sox_effects_unavailable(*args, **kwargs):
    raise RuntimeError(
        "torchaudio.sox_effects was removed in torchaudio 2.9; this s3prl upstream "
        "needs an older torchaudio"
    )


def patch_torchaudio_for_s3prl() -> None:
    """Defines the torchaudio names s3prl 0.4.18 imports, where they are missing."""
    import torchaudio

    if not hasattr(torchaudio, "set_audio_backend"):
        torchaudio.set_audio_backend = lambda *args, **kwargs: None
    if "torchaudio.sox_effects" not in sys.modules:
        try:
            import torchaudio.sox_effects  # noqa: F401
        except ImportError:
            module = types.ModuleType("torchaudio.sox_effects")
            module.apply_effects_tensor = _sox_effects_unavailable
            module.apply_effects_file = _sox_effects_unavailable
            sys.modules["torchaudio.sox_effects"] = module
            torchaudio.sox_effects = module


def import_s3prl_upstream():
    """Returns ``s3prl.nn.S3PRLUpstream``, importing s3prl safely."""
    patch_torchaudio_for_s3prl()
    from s3prl.nn import S3PRLUpstream

    return S3PRLUpstream
