r"""Score enhanced speech against references: one pair, or Kaldi ``wav.scp`` lists.

Metric names and units follow ESPnet's ``espnet2.bin.enh_scoring`` score files,
so both tools can write into one directory:

========  ===============================================  ======
name      definition                                       unit
========  ===============================================  ======
PESQ_WB   ``pesq(16000, ref, deg, 'wb')`` (P.862.2)         MOS
          (PESQ_NB, ``pesq(8000, ..., 'nb')``, at 8 kHz)
STOI      ``pystoi.stoi(..., extended=False)``              % (x100)
ESTOI     ``pystoi.stoi(..., extended=True)``               % (x100)
SI_SNR    zero-mean SI-SDR (as ESPnet / fast_bss_eval)      dB
SDR       ``mir_eval`` ``bss_eval_sources`` (as ESPnet)      dB
CSIG      Loizou composite, signal distortion               1..5
CBAK      Loizou composite, background intrusiveness        1..5
COVL      Loizou composite, overall quality                 1..5
LLR       log-likelihood ratio (95 % lowest frames)
WSS       weighted spectral slope (95 % lowest frames)
SEGSNR    segmental SNR, frames clamped to [-10, 35]        dB
========  ===============================================  ======

Command line (``--metrics all`` computes everything in this package)::

    python -m espnet_cffma.metrics.scoring --ref_scp data/test/spk1.scp \
        --inf_scp exp/enhanced_test/spk1.scp --output_dir exp/scoring_test --nj 4

Combining with ESPnet's scorer (the recipe's stage 7): ESPnet writes STOI,
ESTOI, SI_SNR, SDR (and SAR, SIR, wav) files without PESQ, then this module
adds PESQ_WB and the composite measures to the same directory (PESQ is
computed once per utterance and serves both: the composite measures are
regressions on it; the value is the same ``pesq(16000, ref, deg, 'wb')``
ESPnet's ``--use_pesq true`` writes) and summarises every ``*_spk1`` file there
into ``result.txt`` and ``result.json``::

    python -m espnet2.bin.enh_scoring --key_file ref.scp --ref_scp ref.scp \
        --inf_scp inf.scp --output_dir DIR --use_pesq false
    python -m espnet_cffma.metrics.scoring --ref_scp ref.scp --inf_scp inf.scp \
        --output_dir DIR --metrics pesq_composite --nj 4

Utterances where PESQ finds no speech get a warning and no line in the PESQ
and composite files (ESPnet's convention); means are over the lines present.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import multiprocessing
import os
import re
import sys
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from espnet_cffma import fileio
from espnet_cffma.metrics.composite import composite
from espnet_cffma.metrics.stoi import estoi, stoi
from espnet_cffma.metrics.validation import MetricInputError, check_pair

logger = logging.getLogger(__name__)

COMPOSITE_METRICS = ("CSIG", "CBAK", "COVL", "LLR", "WSS", "SEGSNR")
ESPNET_METRICS = ("PESQ_WB", "STOI", "ESTOI", "SI_SNR", "SDR")
METRIC_SETS = {
    "all": ESPNET_METRICS + COMPOSITE_METRICS,
    "composite": COMPOSITE_METRICS,
    # Stage 7: what ESPnet's enh_scoring --use_pesq false leaves out.
    "pesq_composite": ("PESQ_WB",) + COMPOSITE_METRICS,
}


# ----------------------------------------------------------------------------
# One pair
# ----------------------------------------------------------------------------


def si_snr(ref, deg, fs: int = 16000, utt_id: str | None = None) -> float:
    """Scale-invariant SNR in dB, zero-mean, as ESPnet's ``SISNRLoss`` (negated).

    ESPnet delegates to ``fast_bss_eval.si_sdr_loss``; the same projection is
    written out here because importing fast_bss_eval pulls in torch (~2 s in
    every worker process).

    Args:
        ref: Reference signal [T].
        deg: Degraded signal [T].
        fs: Sampling rate (only validated).
        utt_id: Utterance id for error messages.

    Returns:
        float: SI-SNR in dB; inf for a perfect estimate, NaN (with a warning)
        when either signal is constant.
    """
    ref, deg = check_pair(ref, deg, fs, utt_id)
    ref = ref - ref.mean()
    deg = deg - deg.mean()
    if not np.any(ref) or not np.any(deg):
        logger.warning("SI-SNR: utterance %r: a signal is constant -> NaN", utt_id)
        return math.nan
    # Optimal scaling of the reference: the part of deg explained by ref.
    target = (deg @ ref) / (ref @ ref) * ref
    residual = deg - target
    with np.errstate(divide="ignore"):
        return float(10.0 * np.log10(np.sum(target**2) / np.sum(residual**2)))


def sdr(ref, deg, fs: int = 16000, utt_id: str | None = None) -> float:
    """BSS-Eval SDR in dB (``mir_eval.separation.bss_eval_sources``, as ESPnet).

    Args:
        ref: Reference signal [T].
        deg: Degraded signal [T].
        fs: Sampling rate (only validated).
        utt_id: Utterance id for error messages.

    Returns:
        float: SDR in dB (512-tap distortion filter allowed).
    """
    from mir_eval.separation import bss_eval_sources

    ref, deg = check_pair(ref, deg, fs, utt_id)
    if not np.any(ref) or not np.any(deg):
        # mir_eval refuses all-zero sources.
        logger.warning("SDR: utterance %r: a signal is all zeros -> NaN", utt_id)
        return math.nan
    with warnings.catch_warnings():
        # mir_eval 0.8 marks the function deprecated; ESPnet still uses it.
        warnings.simplefilter("ignore", FutureWarning)
        result = bss_eval_sources(ref[None], deg[None], compute_permutation=True)
    return float(result[0][0])


def score_pair(
    ref,
    deg,
    fs: int,
    utt_id: str | None = None,
    metrics: str | Sequence[str] = "all",
    length_mismatch: str = "error",
) -> dict[str, float]:
    """Every metric the recipes report, for one reference/degraded pair.

    Args:
        ref: Reference signal [T].
        deg: Degraded (noisy or enhanced) signal [T].
        fs: Sampling rate: 16000 (or 8000, with narrow-band PESQ in the
            composite measures, returned as PESQ_NB, as ESPnet names it).
        utt_id: Utterance id for warnings and errors.
        metrics: ``"all"``, ``"composite"`` or a list of names (see module doc).
        length_mismatch: ``"error"`` or ``"trim"`` (to the shorter signal).

    Returns:
        dict: metric name -> value (NaN for PESQ-based ones when PESQ fails).
    """
    names = _metric_names(metrics)
    ref, deg = check_pair(ref, deg, fs, utt_id, length_mismatch)
    out: dict[str, float] = {}
    if {"PESQ_WB", *COMPOSITE_METRICS} & set(names):
        comp = composite(ref, deg, fs, utt_id)
        out.update(
            PESQ_WB=comp["pesq"],
            CSIG=comp["csig"],
            CBAK=comp["cbak"],
            COVL=comp["covl"],
            LLR=comp["llr"],
            WSS=comp["wss"],
            SEGSNR=comp["segsnr"],
        )
    if "STOI" in names:
        out["STOI"] = 100.0 * stoi(ref, deg, fs, utt_id)
    if "ESTOI" in names:
        out["ESTOI"] = 100.0 * estoi(ref, deg, fs, utt_id)
    if "SI_SNR" in names:
        out["SI_SNR"] = si_snr(ref, deg, fs, utt_id)
    if "SDR" in names:
        out["SDR"] = sdr(ref, deg, fs, utt_id)
    scores = {name: out[name] for name in names}
    if fs == 8000:  # narrow-band PESQ, under ESPnet's name for it
        scores = {("PESQ_NB" if n == "PESQ_WB" else n): v for n, v in scores.items()}
    return scores


def _metric_names(metrics: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(metrics, str):
        if metrics not in METRIC_SETS:
            raise ValueError(
                f"metrics must be one of {sorted(METRIC_SETS)} or a list, "
                f"got {metrics!r}"
            )
        return METRIC_SETS[metrics]
    known = METRIC_SETS["all"]
    unknown = [m for m in metrics if m not in known]
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; known: {list(known)}")
    return tuple(metrics)


# ----------------------------------------------------------------------------
# Kaldi scp lists
# ----------------------------------------------------------------------------


def read_scp(path: str | os.PathLike) -> dict[str, str]:
    """Read a Kaldi-style ``uttid value`` list (:func:`espnet_cffma.fileio.read_scp`).

    Command pipes and ``ark`` entries are allowed: :func:`load_audio` decodes
    them with kaldiio, as ESPnet's scorer does.

    Returns:
        dict: utterance id -> the rest of the line, in file order.

    Raises:
        MetricInputError: missing file, malformed line or repeated id (names
            the file and line).
    """
    try:
        return fileio.read_scp(path, allow_pipes=True, allow_ark=True)
    except fileio.ScpFormatError as exc:
        raise MetricInputError(str(exc)) from None


def read_keys(path: str | os.PathLike) -> list[str]:
    """First column of every non-empty line (ESPnet's ``--key_file``)."""
    path = Path(path)
    if not path.is_file():
        raise MetricInputError(f"key file not found: {path}")
    with path.open(encoding="utf-8") as f:
        return [line.split(maxsplit=1)[0] for line in f if line.strip()]


def load_audio(
    value: str, scp: str, utt_id: str, channel: int | None = None
) -> tuple[np.ndarray, int]:
    """Load one ``wav.scp`` entry as float64 in [-1, 1].

    Args:
        value: The entry: an audio file path, ``foo.ark:123`` or ``cmd |``.
        scp: The scp file it came from (for messages).
        utt_id: Its utterance id (for messages).
        channel: Channel to pick from multichannel audio (None: must be mono).

    Returns:
        (signal [T], sampling rate).
    """
    where = f"{scp}: utterance {utt_id!r} ({value})"
    try:
        if fileio.is_pipe_entry(value) or fileio.is_ark_entry(value):
            import kaldiio

            rate, data = kaldiio.load_mat(value)
        else:
            import soundfile

            if not Path(value).is_file():
                raise MetricInputError(f"{where}: audio file not found")
            data, rate = soundfile.read(value, dtype="float64", always_2d=False)
    except MetricInputError:
        raise
    except Exception as exc:  # unreadable/corrupt audio: name the file
        raise MetricInputError(f"{where}: cannot read audio: {exc}") from exc
    data = np.asarray(data)
    if data.dtype.kind in "iu":
        data = data / float(2 ** (8 * data.dtype.itemsize - 1))
    if data.ndim == 2:
        if channel is not None:
            data = data[:, channel]
        elif data.shape[1] == 1:
            data = data[:, 0]
        else:
            raise MetricInputError(
                f"{where}: {data.shape[1]} channels; pass ref_channel to pick one"
            )
    return data.astype(np.float64, copy=False), int(rate)


def _score_one(task: tuple) -> tuple[str, dict[str, float]]:
    """Worker: load and score one utterance (top level so it pickles)."""
    key, ref_value, inf_value, ref_scp, inf_scp, metrics, length_mismatch, ch = task
    ref, ref_fs = load_audio(ref_value, ref_scp, key, ch)
    deg, deg_fs = load_audio(inf_value, inf_scp, key, ch)
    if ref_fs != deg_fs:
        raise MetricInputError(
            f"utterance {key!r}: sampling rates differ: {ref_fs} Hz in {ref_scp} "
            f"({ref_value}), {deg_fs} Hz in {inf_scp} ({inf_value})"
        )
    try:
        return key, score_pair(ref, deg, ref_fs, key, metrics, length_mismatch)
    except MetricInputError as exc:
        raise MetricInputError(
            f"{exc} [ref: {ref_scp} {ref_value}; inf: {inf_scp} {inf_value}]"
        ) from None


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _single_threaded_workers():
    """One BLAS thread in processes started inside (unless the user set one).

    ``nj`` workers each running a BLAS thread per core oversubscribe the CPU.
    Spawned children read these variables when numpy loads.
    """
    unset = [k for k in _THREAD_VARS if k not in os.environ]
    os.environ.update({k: "1" for k in unset})
    try:
        yield
    finally:
        for k in unset:
            os.environ.pop(k, None)


def score_scp(
    ref_scp: str | os.PathLike,
    inf_scp: str | os.PathLike,
    key_file: str | os.PathLike | None = None,
    nj: int = 1,
    metrics: str | Sequence[str] = "all",
    length_mismatch: str = "error",
    ref_channel: int | None = None,
) -> tuple[list[dict], dict[str, float]]:
    """Score every utterance of a reference/enhanced ``wav.scp`` pair.

    Args:
        ref_scp: Reference (clean) scp.
        inf_scp: Enhanced (or noisy) scp, same utterance ids.
        key_file: Utterance ids to score (first column); default: all of ref_scp.
        nj: Worker processes.
        metrics: ``"all"``, ``"composite"`` or a list of names.
        length_mismatch: ``"error"`` or ``"trim"``.
        ref_channel: Channel to pick from multichannel files.

    Returns:
        (rows, means): rows are ``{"utt_id": ..., METRIC: value, ...}`` in key
        order; means are NaN-skipping averages per metric.
    """
    names = _metric_names(metrics)
    refs, infs = read_scp(ref_scp), read_scp(inf_scp)
    keys = read_keys(key_file) if key_file is not None else list(refs)
    if not keys:
        raise MetricInputError(f"no utterances to score in {key_file or ref_scp}")
    for scp, entries in ((ref_scp, refs), (inf_scp, infs)):
        missing = [k for k in keys if k not in entries]
        if missing:
            raise MetricInputError(
                f"{len(missing)} of {len(keys)} utterance ids missing from {scp}: "
                f"{missing[:5]}{' ...' if len(missing) > 5 else ''}"
            )
    tasks = [
        (
            k,
            refs[k],
            infs[k],
            str(ref_scp),
            str(inf_scp),
            names,
            length_mismatch,
            ref_channel,
        )
        for k in keys
    ]
    nj = max(1, min(int(nj), len(tasks)))
    logger.info("scoring %d utterances (%s) with %d job(s)", len(tasks), names, nj)
    bar = tqdm(total=len(tasks), desc="scoring", unit="utt", mininterval=2.0)
    results: dict[str, dict[str, float]] = {}
    try:
        if nj == 1:
            for task in tasks:
                key, scores = _score_one(task)
                results[key] = scores
                bar.update()
        else:
            # spawn: safe whatever the parent imported (torch threads, ...).
            ctx = multiprocessing.get_context("spawn")
            chunk = max(1, min(16, len(tasks) // (4 * nj)))
            with ProcessPoolExecutor(nj, mp_context=ctx) as pool:
                # map() submits everything now, which starts the workers.
                with _single_threaded_workers():
                    scored = pool.map(_score_one, tasks, chunksize=chunk)
                for key, scores in scored:
                    results[key] = scores
                    bar.update()
    finally:
        bar.close()
    rows = [{"utt_id": k, **results[k]} for k in keys]
    means = {}
    for name in _score_names(rows):
        values = np.array([row.get(name, math.nan) for row in rows], dtype=np.float64)
        n_nan = int(np.isnan(values).sum())
        if n_nan:
            logger.warning("%s: %d utterance(s) without a score (NaN)", name, n_nan)
        means[name] = float(np.nanmean(values)) if n_nan < values.size else math.nan
    return rows, means


def _score_names(rows: list[dict]) -> list[str]:
    """Metric names over all rows, in first-seen order (PESQ_NB at 8 kHz)."""
    return list(dict.fromkeys(n for row in rows for n in row if n != "utt_id"))


# ----------------------------------------------------------------------------
# Output files (ESPnet enh_scoring layout)
# ----------------------------------------------------------------------------


def write_scores(output_dir: str | os.PathLike, rows: Iterable[dict]) -> list[Path]:
    """Write ``DIR/<METRIC>_spk1`` files with ``uttid value`` lines.

    NaN scores get no line (ESPnet skips utterances PESQ cannot score).

    Args:
        output_dir: Directory (created if needed).
        rows: Output of :func:`score_scp`.

    Returns:
        list of the files written.
    """
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    written = []
    for name in _score_names(rows):
        lines = [
            f"{row['utt_id']} {row[name]!r}\n"
            for row in rows
            if not math.isnan(row.get(name, math.nan))
        ]
        path = out / f"{name}_spk1"
        fileio.write_text_atomic(path, "".join(lines))
        written.append(path)
    return written


def summarize(output_dir: str | os.PathLike) -> dict[str, dict[str, float]]:
    """Average every numeric ``*_spkN`` score file in a directory.

    Covers files from ESPnet's enh_scoring and from this module alike; writes
    ``result.txt`` (a table) and ``result.json`` (``{"means": ..., "counts":
    ...}``). Non-finite values (e.g. ESPnet's single-source SIR = inf) are left
    out of the means and counts. Metric names drop the ``_spk1`` suffix.

    Args:
        output_dir: Scoring directory.

    Returns:
        dict: metric -> {"mean": float, "count": int}.
    """
    out = Path(output_dir)
    summary: dict[str, dict[str, float]] = {}
    for path in sorted(out.glob("*_spk[0-9]*")):
        if not path.is_file():
            continue
        values = []
        try:
            with path.open(encoding="utf-8") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 2:
                        values.append(float(parts[1]))
        except ValueError:
            continue  # not a score file (e.g. ESPnet's wav_spk1 paths)
        arr = np.array(values, dtype=np.float64)
        finite = arr[np.isfinite(arr)]
        name = re.sub(r"_spk1$", "", path.name)
        summary[name] = {
            "mean": float(finite.mean()) if finite.size else math.nan,
            "count": int(finite.size),
        }
    width = max([len(k) for k in summary] + [6])
    table = [f"{'metric':<{width}}  {'mean':>10}  {'count':>6}\n"]
    for name, s in summary.items():
        table.append(f"{name:<{width}}  {s['mean']:>10.4f}  {s['count']:>6d}\n")
    fileio.write_text_atomic(out / "result.txt", "".join(table))
    payload = {
        "means": {k: _json_float(v["mean"]) for k, v in summary.items()},
        "counts": {k: v["count"] for k, v in summary.items()},
    }
    fileio.write_text_atomic(out / "result.json", json.dumps(payload, indent=2) + "\n")
    return summary


def _json_float(x: float) -> float | None:
    return None if math.isnan(x) else round(x, 6)


# ----------------------------------------------------------------------------
# CLI
# ----------------------------------------------------------------------------


def get_parser() -> argparse.ArgumentParser:
    """Command-line parser (ESPnet-style underscored options)."""
    p = argparse.ArgumentParser(
        prog="python -m espnet_cffma.metrics.scoring",
        description="Score enhanced speech (PESQ-WB, STOI, ESTOI, SI-SNR, SDR, "
        "CSIG, CBAK, COVL) from Kaldi wav.scp lists, ESPnet enh_scoring layout.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--ref_scp", required=True, help="reference (clean) wav.scp")
    p.add_argument("--inf_scp", required=True, help="enhanced/noisy wav.scp")
    p.add_argument("--key_file", default=None, help="ids to score (default: ref)")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--nj", type=int, default=1, help="worker processes")
    p.add_argument(
        "--metrics",
        default="all",
        choices=sorted(METRIC_SETS),
        help="'all': every metric here; 'composite': CSIG/CBAK/COVL (+LLR, WSS, "
        "SEGSNR) only; 'pesq_composite': PESQ_WB and the composite measures "
        "(one PESQ per utterance), to add to the files of ESPnet's enh_scoring "
        "--use_pesq false in the same dir",
    )
    p.add_argument(
        "--length_mismatch",
        default="error",
        choices=("error", "trim"),
        help="what to do when ref and inf lengths differ",
    )
    p.add_argument("--ref_channel", type=int, default=None)
    p.add_argument(
        "--log_level",
        default="INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    )
    return p


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
    """Run the CLI; returns the summary of the output directory."""
    args = get_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s",
    )
    try:
        rows, _ = score_scp(
            args.ref_scp,
            args.inf_scp,
            args.key_file,
            args.nj,
            args.metrics,
            args.length_mismatch,
            args.ref_channel,
        )
    except MetricInputError as exc:
        logger.error("%s", exc)
        sys.exit(f"error: {exc}")
    written = write_scores(args.output_dir, rows)
    summary = summarize(args.output_dir)
    logger.info(
        "wrote %d score files and result.txt to %s", len(written), args.output_dir
    )
    for name, s in summary.items():
        logger.info("%-10s %.4f (%d utts)", name, s["mean"], s["count"])
    return summary


if __name__ == "__main__":
    main()
