"""The enhancement run: short files in batches, long files streamed in chunks.

For every input: read the header; check the samples (NaN/Inf is an error,
clipping a warning, digital silence gives silence); convert to the model's
rate with soxr; enhance each channel on its own (or the mix-down); convert
back; write the input's rate, channel count, length and sample format
atomically. One file's failure is recorded and the run goes on.

Files up to ``chunk_seconds`` are read whole and enhanced in length-sorted
batches. Longer files are streamed: blocks are read with
``SoundFile.blocks``, resampled by a streaming soxr filter, enhanced in
overlapping chunks (:class:`~espnet_cffma.enhance.overlap_add.OverlapAdd`)
and written block by block, so memory does not grow with the file's length.
"""

import logging
import math
from collections.abc import Iterable
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
from espnet_cffma.enhance.errors import EnhanceError
from espnet_cffma.enhance.inputs import Job, JobList, write_lists
from espnet_cffma.enhance.overlap_add import OverlapAdd
from espnet_cffma.enhance.runner import ModelRunner
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
    """

    chunk_seconds: float = 20.0
    overlap_seconds: float | None = None
    mixdown: bool = False
    subtype: str | None = None
    skip_existing: bool = False
    block_seconds: float = 2.0


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


class Enhancer:
    """Enhances jobs with a :class:`~espnet_cffma.enhance.runner.ModelRunner`.

    Args:
        runner: the loaded model.
        options: processing options.

    Raises:
        ValueError: chunk/overlap settings that cannot work.
    """

    def __init__(self, runner: ModelRunner, options: EnhanceOptions | None = None):
        self.runner = runner
        self.options = options or EnhanceOptions()
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
        probed: list[tuple[Job, AudioInfo, FileResult]] = []
        for job in jobs.jobs:
            result = FileResult(str(job.source))
            results.append(result)
            try:
                info = probe(job.source)
                self._check_length(job, info)
            except EnhanceError as e:
                result.error = e.message
                continue
            probed.append((job, info, result))

        todo = []
        for job, info, result in probed:
            spec = self._spec(job, info)
            if self.options.skip_existing and spec.path.exists():
                result.output, result.skipped = spec.path, True
            else:
                todo.append((job, info, result, spec))

        total = sum(info.duration for _, info, _, _ in todo)
        with tqdm(
            total=round(total, 2),
            unit="s",
            desc="enhance",
            disable=not progress,
            bar_format=BAR_FORMAT,
        ) as bar:
            short = [t for t in todo if not self._is_long(t[1])]
            long = [t for t in todo if self._is_long(t[1])]
            for group in self._groups(short):
                self._enhance_group(group, bar)
            for item in long:
                self._guard(item, lambda item=item: self._stream(*item, bar))

        summary = Summary(results)
        succeeded = {
            job.output: result.output
            for job, _, result in probed
            if result.error is None and result.output is not None
        }
        summary.lists = write_lists(jobs, succeeded)
        return summary

    # ------------------------------------------------------------- planning
    def _model_frames(self, info: AudioInfo) -> int:
        return math.ceil(info.frames * self.runner.fs / info.samplerate)

    def _is_long(self, info: AudioInfo) -> bool:
        return self._model_frames(info) > self.chunk

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

    def _spec(self, job: Job, info: AudioInfo) -> OutputSpec:
        channels = 1 if self.options.mixdown else info.channels
        return output_spec(info, job.output, channels, self.options.subtype)

    def _groups(self, items: list) -> Iterable[list]:
        """Length-sorted groups whose padded size fits one batch budget."""
        items = sorted(items, key=lambda t: -self._model_frames(t[1]))
        group, rows, longest = [], 0, 0
        for item in items:
            channels = 1 if self.options.mixdown else item[1].channels
            if group and (rows + channels) * longest > self.runner.max_batch_samples:
                yield group
                group, rows = [], 0
            if not group:
                longest = self._model_frames(item[1])  # sorted: the first is longest
            group.append(item)
            rows += channels
        if group:
            yield group

    # ---------------------------------------------------------- processing
    def _guard(self, item, work) -> None:
        """Runs ``work`` for one file, turning any failure into its result."""
        job, _, result, _ = item
        try:
            work()
        except EnhanceError as e:
            result.error = e.message
        except MemoryError:
            result.error = "out of memory: lower --chunk_seconds / --batch_seconds"
        except Exception as e:  # the model or libsndfile failing on this input
            logger.debug("Failure on %s", job.source, exc_info=True)
            result.error = f"enhancement failed ({type(e).__name__}: {_brief(e)})"

    def _warn(self, result: FileResult, message: str) -> None:
        result.warnings.append(message)
        logger.warning("%s: %s", result.source, message)

    def _load(self, job: Job, info: AudioInfo, result: FileResult) -> np.ndarray:
        """Reads, checks and resamples one short file: ``[N_model, C]``."""
        data = read_all(job.source)
        checker = SampleChecker(str(job.source))
        checker.check(data)
        warning = checker.clipping_warning()
        if warning:
            self._warn(result, warning)
        if checker.silent:
            logger.info("%s: digital silence in, silence out", job.source)
        if self.options.mixdown and data.shape[1] > 1:
            data = data.mean(axis=1, keepdims=True)
        return resample(data, info.samplerate, self.runner.fs)

    def _enhance_group(self, group: list, bar: tqdm) -> None:
        loaded = []
        for item in group:
            job, info, result, _ = item
            try:
                loaded.append((item, self._load(job, info, result)))
            except Exception as e:
                result.error = (
                    e.message
                    if isinstance(e, EnhanceError)
                    else f"cannot prepare the audio ({type(e).__name__}: {_brief(e)})"
                )
                bar.update(round(info.duration, 2))
        if not loaded:
            return
        rows = [column for _, x in loaded for column in x.T]
        try:
            outputs = self.runner.enhance(rows)
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

    def _finish(self, item, x: np.ndarray, outputs, bar: tqdm) -> None:
        """Enhances (if needed), checks and writes one short file."""
        job, info, result, spec = item
        try:
            if outputs is None:
                outputs = self.runner.enhance(list(x.T))
            y = np.stack(outputs, axis=1)
            if not np.isfinite(y).all():
                raise EnhanceError(str(job.source), "the model produced NaN/Inf")
            y = fix_length(resample(y, self.runner.fs, info.samplerate), info.frames)
            with AtomicAudioWriter(spec, info.frames) as writer:
                writer.write(y)
            self._note_clipped_output(result, writer)
            result.output = spec.path
        finally:
            bar.update(round(info.duration, 2))

    def _stream(self, job, info, result, spec, bar: tqdm) -> None:
        """Enhances one long file chunk by chunk, in bounded memory."""
        fs, rate = self.runner.fs, info.samplerate
        channels = spec.channels
        checker = SampleChecker(str(job.source))
        to_model = StreamResampler(rate, fs, channels)
        from_model = StreamResampler(fs, rate, channels)

        def process(chunk: np.ndarray) -> np.ndarray:
            out = np.stack(self.runner.enhance(list(chunk.T)), axis=1)
            if not np.isfinite(out).all():
                raise EnhanceError(str(job.source), "the model produced NaN/Inf")
            return out

        ola = OverlapAdd(process, self.chunk, self.overlap)
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
                        writer.write(from_model.process(y))
                    bar.update(round(len(block) / rate, 2))
            for y in ola.push(to_model.flush()):
                writer.write(from_model.process(y))
            for y in ola.finish():
                writer.write(from_model.process(y))
            writer.write(from_model.flush())
        if checker.frames != info.frames:
            self._warn(
                result,
                f"decoded {checker.frames} samples, the header says {info.frames}; "
                "output has the header's length",
            )
        warning = checker.clipping_warning()
        if warning:
            self._warn(result, warning)
        if checker.silent:
            logger.info("%s: digital silence in, silence out", job.source)
        self._note_clipped_output(result, writer)
        result.output = spec.path
        logger.info(
            "%s: %d chunks of %.1f s -> %s",
            job.source,
            ola.chunks_done,
            self.chunk / fs,
            spec.path,
        )

    def _note_clipped_output(self, result: FileResult, writer: AtomicAudioWriter):
        if writer.clipped:
            self._warn(
                result,
                f"{writer.clipped} output samples exceeded full scale and were "
                f"clipped ({writer.spec.subtype}); use --subtype FLOAT to keep them",
            )


def _brief(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else "no message"
