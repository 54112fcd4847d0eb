"""DNSMOS (non-intrusive): P.835 SIG/BAK/OVRL and P.808 MOS through ``speechmos``.

Microsoft's DNSMOS predicts listening-test scores from the enhanced signal
alone (no reference), which is what the TF-GridNet-PL and CNUNet-TB-TS
papers report. ``speechmos`` bundles the ONNX models (``sig_bak_ovr.onnx``
with its polynomial calibration, and ``model_v8.onnx`` for P.808) and runs
them on 9.01 s windows with a 1 s hop (shorter clips are repeated to 9.01 s),
averaging over windows, as Microsoft's reference script does.

Scores a ``wav.scp`` into ESPnet's scoring layout: ``DNSMOS_SIG_spk1``,
``DNSMOS_BAK_spk1``, ``DNSMOS_OVRL_spk1``, ``DNSMOS_P808_spk1`` with
``utt value`` lines, then ``result.txt`` / ``result.json`` with the means of
every score file in the directory (:func:`espnet_cffma.metrics.scoring.summarize`).

Usage::

    python -m espnet_cffma.metrics.dnsmos --wav_scp exp/.../test/spk1.scp \
        --output_dir exp/.../scoring/test
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from espnet_cffma.metrics.scoring import load_audio, read_scp, summarize, write_scores
from espnet_cffma.metrics.validation import MetricInputError

#: The model's rate; other rates are resampled (soxr, very high quality).
DNSMOS_FS = 16000
#: Output names, in the order they are written.
DNSMOS_METRICS = ("DNSMOS_SIG", "DNSMOS_BAK", "DNSMOS_OVRL", "DNSMOS_P808")


class DNSMOSScorer:
    """Holds the two ONNX sessions; call it on one 16 kHz signal.

    Args:
        personalized: use the personalized DNSMOS P.835 model (interfering
            talkers count as noise) instead of the standard one.
    """

    def __init__(self, personalized: bool = False):
        try:
            from speechmos import dnsmos
        except ImportError as err:  # speechmos, onnxruntime or librosa missing
            raise ImportError(
                f"DNSMOS needs the packages speechmos, onnxruntime and librosa "
                f"(tools/requirements.txt): {err}"
            ) from None
        models = Path(dnsmos.__file__).parent
        primary = (
            models
            / ("pdnsmos_models" if personalized else "dnsmos_models")
            / "sig_bak_ovr.onnx"
        )
        self.personalized = personalized
        self._model = dnsmos.DNSMOS(
            str(primary), str(models / "dnsmos_models/model_v8.onnx")
        )

    def __call__(self, audio: np.ndarray, fs: int) -> dict[str, float]:
        """Scores one signal.

        Args:
            audio: mono waveform ``[N]``, float in [-1, 1] (values outside are
                clipped, as writing a 16-bit file would).
            fs: its sampling rate.

        Returns:
            ``{"DNSMOS_SIG": ..., "DNSMOS_BAK": ..., "DNSMOS_OVRL": ...,
            "DNSMOS_P808": ...}``.
        """
        audio = np.asarray(audio, dtype=np.float64)
        if audio.ndim != 1 or audio.size == 0:
            raise ValueError(
                f"DNSMOS: expected a non-empty mono signal, got {audio.shape}"
            )
        if fs != DNSMOS_FS:
            import soxr

            audio = soxr.resample(audio, fs, DNSMOS_FS, quality="VHQ")
        audio = np.clip(audio, -1.0, 1.0).astype(np.float32)
        scores = self._model(audio, DNSMOS_FS, self.personalized)
        return {
            "DNSMOS_SIG": float(scores["sig_mos"]),
            "DNSMOS_BAK": float(scores["bak_mos"]),
            "DNSMOS_OVRL": float(scores["ovrl_mos"]),
            "DNSMOS_P808": float(scores["p808_mos"]),
        }


def score_wav_scp(
    wav_scp: str | Path, personalized: bool = False
) -> list[dict[str, float]]:
    """Scores every utterance of a ``wav.scp``; rows ``{"utt_id", METRIC...}``."""
    scorer = DNSMOSScorer(personalized=personalized)
    rows = []
    for utt, value in read_scp(wav_scp).items():
        audio, fs = load_audio(value, str(wav_scp), utt)
        try:
            scores = scorer(audio, fs)
        except ValueError as err:
            raise MetricInputError(f"{wav_scp}: utterance {utt!r}: {err}") from None
        rows.append({"utt_id": utt, **scores})
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """CLI; returns the exit code."""
    parser = argparse.ArgumentParser(
        description="DNSMOS P.835 (SIG, BAK, OVRL) and P.808 of a wav.scp, "
        "in ESPnet's scoring layout (METRIC_spk1 files + result.txt)."
    )
    parser.add_argument("--wav_scp", required=True, help="signals to score")
    parser.add_argument("--output_dir", required=True, type=Path)
    parser.add_argument(
        "--personalized",
        action="store_true",
        help="personalized DNSMOS (other talkers count as noise)",
    )
    args = parser.parse_args(argv)
    try:
        rows = score_wav_scp(args.wav_scp, personalized=args.personalized)
    except (MetricInputError, ImportError, ValueError) as err:
        print(f"dnsmos: {err}", file=sys.stderr)
        return 1
    write_scores(args.output_dir, rows)
    summary = summarize(args.output_dir)
    for name in DNSMOS_METRICS:
        print(f"{name}: {summary[name]['mean']:.4f} ({summary[name]['count']} utt)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
