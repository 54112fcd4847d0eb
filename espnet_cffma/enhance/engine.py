"""The enhancement run: short files in batches, long files streamed in chunks.

For every input: read the header; check the samples (NaN/Inf is an error,
clipping a warning, digital silence gives silence); convert to the model's
rate with soxr; enhance each channel on its own (or the mix-down); convert
back; write the input's rate, channel count, length and sample format
atomically. One file's failure is recorded and the run goes on.

Files up to ``chunk_seconds`` are read whole and enhanced in length-sorted
batches (:func:`plan_batches`, the one place that groups signals: files into
batches here, and the channels of one file that alone exceeds the budget).
Longer files are streamed: blocks are read with
``SoundFile.blocks``, resampled by a streaming soxr filter, enhanced in
overlapping chunks (:class:`~espnet_cffma.enhance.overlap_add.OverlapAdd`)
and written block by block, so memory does not grow with the file's length.
With ``streaming`` every file takes that path, but a causal model runs one hop
at a time on it (:class:`~espnet_cffma.enhance.causal_stream.CausalStream`)
instead of in overlapping chunks.
"""

import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from espnet_cffma.enhance.audio_io import (
    AtomicAudioWriter,
    AudioInfo,
    OutputSpec,
    SampleChecker,
    output_spec,
    probe,
    read_all,
)
from espnet_cffma.enhance.causal_stream import CausalStream, streaming_separator
from espnet_cffma.enhance.errors import EnhanceError
from espnet_cffma.enhance.inputs import Job, JobList, write_lists
from espnet_cffma.enhance.overlap_add import OverlapAdd
from espnet_cffma.enhance.runner import ModelRunner
from espnet_cffma.fileio import first_line
from espnet_cffma.resampling import StreamResampler, fix_length, resample

logger = logging.getLogger(__name__)

BAR_FORMAT = "{l_bar}{bar}| {n:.1f}/{total:.1f} s audio [{elapsed}<{remaining}]"


@dataclass
class EnhanceOptions:
    """How files are processed.

    Attributes:
        chunk_seconds: files longer than this are streamed in chunks this long.
        overlap_seconds: cross-fade between chunks (at most half a chunk);
            None: 1 s, or a quarter of the chunk if that is less.
        mixdown: average the channels and write mono, instead of enhancing each
            channel.
        subtype: force an output subtype (``PCM_16``, ``FLOAT``, ...).
        skip_existing: leave outputs that already exist alone.
        block_seconds: read size when streaming.
        streaming: run a causal model frame by frame on every file (bounded
            memory, output equal to a whole-file pass; see
            :mod:`~espnet_cffma.enhance.causal_stream`).
    """

    chunk_seconds: float = 20.0
    overlap_seconds: float | None = None
    mixdown: bool = False
    subtype: str | None = None
    skip_existing: bool = False
    block_seconds: float = 2.0
    streaming: bool = False


@dataclass
class FileResult:
    """What happened to one input."""

    source: str
    output: Path | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    skipped: bool = False


@dataclass
class Summary:
    """All results of a run."""

    results: list[FileResult]
    lists: list[Path] = field(default_factory=list)

    @property
    def failed(self) -> list[FileResult]:
        """Inputs that produced no output."""
        return [r for r in self.results if r.error is not None]

    @property
    def succeeded(self) -> list[FileResult]:
        """Inputs enhanced (or skipped because their output existed)."""
        return [r for r in self.results if r.error is None]

    def report(self) -> str:
        """A human-readable end-of-run summary."""
        done = [r for r in self.succeeded if not r.skipped]
        skipped = len(self.succeeded) - len(done)
        warned = [r for r in self.results if r.warnings]
        lines = [
            f"Enhanced {len(done)} of {len(self.results)} inputs"
            + (f", {skipped} skipped (output exists)" if skipped else "")
            + (f", {len(warned)} with warnings" if warned else "")
            + (f", {len(self.failed)} FAILED" if self.failed else "")
            + "."
        ]
        for r in warned:
            lines.extend(f"  warning: {r.source}: {w}" for w in r.warnings)
        if self.failed:
            lines.append("Failed inputs:")
            lines.extend(f"  {r.source}: {r.error}" for r in self.failed)
        return "\n".join(lines)


def plan_batches(
    sizes: list[tuple[int, int]], budget: int, mixed_lengths: bool
) -> list[list[int]]:
    """Groups items into batches for one forward pass each, longest first.

    Args:
        sizes: per item, ``(rows, frames)``: its signals (channels) and their
            length at the model's rate.
        budget: padded samples per batch (rows x longest frames); an item
            larger than that gets a batch of its own.
        mixed_lengths: whether items of different lengths may share a batch
            (zero padding); otherwise a batch holds one length only.

    Returns:
        Batches of item indices; equally long items keep their input order.
    """
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i][1])
    batches: list[list[int]] = []
    group: list[int] = []
    rows = longest = 0
    for i in order:
        item_rows, frames = sizes[i]
        if group and (
            (rows + item_rows) * longest > budget
            or (not mixed_lengths and frames != longest)
        ):
            batches.append(group)
            group, rows = [], 0
        if not group:
            longest = frames  # sorted: the first item is the longest
        group.append(i)
        rows += item_rows
    if group:
        batches.append(group)
    return batches


@dataclass
class _Item:
    """One input on its way through the run."""

    job: Job
    info: AudioInfo
    result: FileResult
    spec: OutputSpec | None = None


class Enhancer:
    """Enhances jobs with a :class:`~espnet_cffma.enhance.runner.ModelRunner`.

    Args:
        runner: the loaded model.
        options: processing options.

    Raises:
        ValueError: chunk/overlap settings that cannot work.
        ModelLoadError: ``streaming`` asked of a model that cannot stream.
    """

    def __init__(self, runner: ModelRunner, options: EnhanceOptions | None = None):
        self.runner = runner
        self.options = options or EnhanceOptions()
        self.causal_separator = (
            streaming_separator(runner.model) if self.options.streaming else None
        )
        fs, quantum = runner.fs, runner.frame_quantum
        # Chunk and hop on the model's frame grid: chunked frames then line up
        # with whole-file frames (see OverlapAdd).
        self.chunk = max(round(self.options.chunk_seconds * fs / quantum), 1) * quantum
        overlap_seconds = self.options.overlap_seconds
        if overlap_seconds is None:
            overlap_seconds = min(1.0, self.chunk / fs / 4)
        overlap = max(round(overlap_seconds * fs / quantum), 1)
        self.overlap = overlap * quantum
        if self.overlap < runner.min_samples:
            self.overlap = math.ceil(runner.min_samples / quantum) * quantum
        if 2 * self.overlap > self.chunk:
            raise ValueError(
                f"The overlap must be at most half a chunk: overlap "
                f"{self.overlap / fs:.3f} s, chunk {self.chunk / fs:.3f} s (after "
                "rounding to the model's frames); lower --overlap_seconds or raise "
                "--chunk_seconds"
            )

    # --------------------------------------------------------------- the run
    def run(self, jobs: JobList, progress: bool = True) -> Summary:
        """Enhances every job; never raises for a single file's problem."""
        results = [FileResult(e.path, error=e.message) for e in jobs.errors]
        items = self._probe(jobs.jobs, results)
        todo = self._without_existing_outputs(items)
        with self._progress_bar(todo, progress) as bar:
            self._enhance_short([i for i in todo if not self._is_long(i.info)], bar)
            for item in todo:
                if self._is_long(item.info):
                    self._guard(item, lambda item=item: self._stream(item, bar))
        summary = Summary(results)
        succeeded = {
            item.job.output: item.result.output
            for item in items
            if item.result.error is None and item.result.output is not None
        }
        summary.lists = write_lists(jobs, succeeded)
        return summary

    def _probe(self, jobs: list[Job], results: list[FileResult]) -> list[_Item]:
        """Reads every header; unreadable or too short inputs fail here."""
        items = []
        for job in jobs:
            result = FileResult(str(job.source))
            results.append(result)
            try:
                info = probe(job.source)
                self._check_length(job, info)
            except EnhanceError as e:
                result.error = e.message
                continue
            items.append(_Item(job, info, result))
        return items

    def _without_existing_outputs(self, items: list[_Item]) -> list[_Item]:
        """Chooses each output's format; drops those kept by ``skip_existing``."""
        todo = []
        for item in items:
            channels = 1 if self.options.mixdown else item.info.channels
            item.spec = output_spec(
                item.info, item.job.output, channels, self.options.subtype
            )
            if self.options.skip_existing and item.spec.path.exists():
                item.result.output, item.result.skipped = item.spec.path, True
            else:
                todo.append(item)
        return todo

    @contextmanager
    def _progress_bar(self, items: list[_Item], progress: bool) -> Iterator[tqdm]:
        total = sum(item.info.duration for item in items)
        with tqdm(
            total=round(total, 2),
            unit="s",
            desc="enhance",
            disable=not progress,
            bar_format=BAR_FORMAT,
        ) as bar:
            yield bar

    # ------------------------------------------------------------- planning
    def _model_frames(self, info: AudioInfo) -> int:
        return math.ceil(info.frames * self.runner.fs / info.samplerate)

    def _is_long(self, info: AudioInfo) -> bool:
        """Whether the file is streamed (all are with ``streaming``)."""
        return self.options.streaming or self._model_frames(info) > self.chunk

    def _check_length(self, job: Job, info: AudioInfo) -> None:
        need = self.runner.min_samples
        if round(info.frames * self.runner.fs / info.samplerate) < need:
            need_here = math.ceil(need * info.samplerate / self.runner.fs)
            raise EnhanceError(
                str(job.source),
                f"too short: {info.frames} samples "
                f"({1000 * info.duration:.1f} ms); the model needs at least "
                f"{need_here} samples ({1000 * need / self.runner.fs:.1f} ms, one "
                "analysis frame)",
            )

    def _enhance_rows(self, rows: list[np.ndarray]) -> list[np.ndarray]:
        """Enhances mono signals at the model's rate, one batch per budget.

        Signals handed over together normally fit one batch (the files were
        grouped by :func:`plan_batches`); a single file whose channels exceed
        the budget is split here by the same rule.
        """
        outputs: list[np.ndarray | None] = [None] * len(rows)
        sizes = [(1, len(row)) for row in rows]
        for batch in plan_batches(
            sizes, self.runner.max_batch_samples, self.runner.mixed_lengths
        ):
            for i, out in zip(batch, self.runner.forward([rows[i] for i in batch])):
                outputs[i] = out
        return outputs

    # ---------------------------------------------------------- processing
    def _guard(self, item: _Item, work) -> None:
        """Runs ``work`` for one file, turning any failure into its result."""
        try:
            work()
        except EnhanceError as e:
            item.result.error = e.message
        except MemoryError:
            item.result.error = "out of memory: lower --chunk_seconds / --batch_seconds"
        except Exception as e:  # the model or libsndfile failing on this input
            logger.debug("Failure on %s", item.job.source, exc_info=True)
            item.result.error = f"enhancement failed ({_describe(e)})"

    def _warn(self, result: FileResult, message: str) -> None:
        result.warnings.append(message)
        logger.warning("%s: %s", result.source, message)

    def _report_input(self, item: _Item, checker: SampleChecker) -> None:
        warning = checker.clipping_warning()
        if warning:
            self._warn(item.result, warning)
        if checker.silent:
            logger.info("%s: digital silence in, silence out", item.job.source)

    def _load(self, item: _Item) -> np.ndarray:
        """Reads, checks and resamples one short file: ``[N_model, C]``."""
        data = read_all(item.job.source)
        checker = SampleChecker(str(item.job.source))
        checker.check(data)
        self._report_input(item, checker)
        if self.options.mixdown and data.shape[1] > 1:
            data = data.mean(axis=1, keepdims=True)
        return resample(data, item.info.samplerate, self.runner.fs)

    def _enhance_short(self, items: list[_Item], bar: tqdm) -> None:
        """Files read whole, in batches planned by :func:`plan_batches`."""
        sizes = [(item.spec.channels, self._model_frames(item.info)) for item in items]
        for batch in plan_batches(
            sizes, self.runner.max_batch_samples, self.runner.mixed_lengths
        ):
            self._enhance_batch([items[i] for i in batch], bar)

    def _enhance_batch(self, batch: list[_Item], bar: tqdm) -> None:
        loaded = []
        for item in batch:
            try:
                loaded.append((item, self._load(item)))
            except Exception as e:
                item.result.error = (
                    e.message
                    if isinstance(e, EnhanceError)
                    else f"cannot prepare the audio ({_describe(e)})"
                )
                bar.update(round(item.info.duration, 2))
        if not loaded:
            return
        rows = [column for _, x in loaded for column in x.T]
        try:
            outputs = self._enhance_rows(rows)
        except Exception:
            if len(loaded) == 1:
                outputs = None
            else:
                # Find the culprit: each file on its own.
                for item, x in loaded:
                    self._guard(item, lambda i=item, x=x: self._finish(i, x, None, bar))
                return
        start = 0
        for item, x in loaded:
            channels = x.shape[1]
            mine = None if outputs is None else outputs[start : start + channels]
            start += channels
            self._guard(item, lambda i=item, x=x, m=mine: self._finish(i, x, m, bar))

    def _finish(self, item: _Item, x: np.ndarray, outputs, bar: tqdm) -> None:
        """Enhances (if needed), checks and writes one short file."""
        info = item.info
        try:
            if outputs is None:
                outputs = self._enhance_rows(list(x.T))
            y = np.stack(outputs, axis=1)
            if not np.isfinite(y).all():
                raise EnhanceError(str(item.job.source), "the model produced NaN/Inf")
            y = fix_length(resample(y, self.runner.fs, info.samplerate), info.frames)
            with AtomicAudioWriter(item.spec, info.frames) as writer:
                writer.write(y)
            self._note_clipped_output(item.result, writer)
            item.result.output = item.spec.path
        finally:
            bar.update(round(info.duration, 2))

    def _stream(self, item: _Item, bar: tqdm) -> None:
        """Enhances one long file chunk by chunk, in bounded memory."""
        job, info, spec = item.job, item.info, item.spec
        fs, rate = self.runner.fs, info.samplerate
        checker = SampleChecker(str(job.source))
        to_model = StreamResampler(rate, fs, spec.channels)
        from_model = StreamResampler(fs, rate, spec.channels)

        def process(chunk: np.ndarray) -> np.ndarray:
            return np.stack(self._enhance_rows(list(chunk.T)), axis=1)

        if self.causal_separator is not None:
            ola = CausalStream(self.causal_separator, spec.channels)
        else:
            ola = OverlapAdd(process, self.chunk, self.overlap)

        def write(y: np.ndarray) -> None:
            if not np.isfinite(y).all():
                raise EnhanceError(str(job.source), "the model produced NaN/Inf")
            writer.write(from_model.process(y))

        blocksize = max(int(self.options.block_seconds * rate), 1)
        with AtomicAudioWriter(spec, info.frames) as writer:
            try:
                source = sf.SoundFile(str(job.source))
            except (sf.LibsndfileError, RuntimeError, OSError) as e:
                raise EnhanceError(str(job.source), f"cannot open: {e}") from None
            with source:
                for block in source.blocks(
                    blocksize=blocksize, dtype="float32", always_2d=True
                ):
                    checker.check(block)
                    if self.options.mixdown and block.shape[1] > 1:
                        block = block.mean(axis=1, keepdims=True)
                    for y in ola.push(to_model.process(block)):
                        write(y)
                    bar.update(round(len(block) / rate, 2))
            for y in ola.push(to_model.flush()):
                write(y)
            for y in ola.finish():
                write(y)
            writer.write(from_model.flush())
        if checker.frames != info.frames:
            self._warn(
                item.result,
                f"decoded {checker.frames} samples, the header says {info.frames}; "
                "output has the header's length",
            )
        self._report_input(item, checker)
        self._note_clipped_output(item.result, writer)
        item.result.output = spec.path
        if self.causal_separator is not None:
            latency_ms = 1000 * ola.latency_samples / fs
            how = f"streamed hop by hop ({latency_ms:.0f} ms latency)"
        else:
            how = f"{ola.chunks_done} chunks of {self.chunk / fs:.1f} s"
        logger.info("%s: %s -> %s", job.source, how, spec.path)

    def _note_clipped_output(self, result: FileResult, writer: AtomicAudioWriter):
        if writer.clipped:
            self._warn(
                result,
                f"{writer.clipped} output samples exceeded full scale and were "
                f"clipped ({writer.spec.subtype}); use --subtype FLOAT to keep them",
            )


def _describe(error: BaseException) -> str:
    """``Type: first line`` of an unexpected error, for one-line reports."""
    return f"{type(error).__name__}: {first_line(error)[:300]}"
