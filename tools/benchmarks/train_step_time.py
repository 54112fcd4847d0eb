"""Seconds per training update of the recipe configs, and the epoch time they give.

Each config's model is built through ESPnet's ``EnhancementTask`` (as
``espnet_cffma.bin.enh_train`` builds it), with the optimizer the config
names, and trained on random audio of the config's batch shape (batch_size x
the crop or chunk length): ``N`` forward + backward + gradient clipping +
optimizer steps, as ESPnet's trainer does them, after warm-up steps. The
time per update is the process's CPU time (with --threads 1 it is the wall
time of an unloaded core; on a shared machine the wall time, printed too, is
longer). The table gives the parameters, the mean seconds per update, the
updates per epoch on the large demo corpus (from its utterance lengths and the config's
iterator) and the minutes per epoch (the updates and one validation pass over
86 utterances, forward only) and for the configured epochs, with the
ratio to ``train_demo_large.yaml`` (BSS-CFFMA, the reference row).

    OMP_NUM_THREADS=1 tools/venv/bin/python tools/benchmarks/train_step_time.py \
        [CONFIG ...] [--steps 8] [--warmup 2] [--threads 1] \
        [--utt2num_samples dump_large/raw/train/utt2num_samples]

Without CONFIG: ``egs2/voicebank/conf/tuning/train_demo_large.yaml`` and every
``*demo_large*.yaml`` there. External files the configs leave to the recipe are
made up here, as the recipe makes them: the SSL upstream is the demo's
random-weight 2-layer WavLM (stage 3's checkpoint: its weights do not change
the time), a stage-2 CNUNet-TB-TS config gets a stage-1 teacher (the matching
``*stage1*`` config's model, saved to a temporary experiment folder), an IDDP
MIA-SE config a pool of random noise recordings. The times leave out data
loading and checkpointing; for train_demo_large.yaml's 12 epochs the estimate
(11 minutes) matched the real large run's training time (656 s, on 2 CPU
cores shared with other jobs).
"""

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import yaml

REPO = Path(__file__).resolve().parents[2]
TUNING = REPO / "egs2" / "voicebank" / "conf" / "tuning"
REFERENCE = TUNING / "train_demo_large.yaml"
FS = 16000
# The large demo corpus's training utterances (demo_size large, default seed):
# 2314 of them, 1.51-4.00 s, mean 3.03 s. Its length quantiles (0, 10, 25, 50,
# 75, 90, 100 %), for when no utt2num_samples file is given.
LARGE_TRAIN_UTTERANCES = 2314
LARGE_VALID_UTTERANCES = 86  # p287; taken as of the same lengths
LARGE_QUANTILES_S = (
    (0.0, 0.10, 0.25, 0.50, 0.75, 0.90, 1.0),
    (1.51, 2.13, 2.60, 3.13, 3.49, 3.75, 4.0),
)


def large_corpus_lengths(utt2num_samples: Path | None = None) -> np.ndarray:
    """Training utterance lengths (samples) of the large demo corpus.

    Args:
        utt2num_samples: a dump folder's ``utt2num_samples``; without it, the
            lengths are drawn evenly from the corpus's quantiles.

    Returns:
        One length per utterance.
    """
    if utt2num_samples is not None:
        lines = Path(utt2num_samples).read_text().split("\n")
        return np.array([int(line.split()[1]) for line in lines if line.strip()])
    grid = (np.arange(LARGE_TRAIN_UTTERANCES) + 0.5) / LARGE_TRAIN_UTTERANCES
    return (np.interp(grid, *LARGE_QUANTILES_S) * FS).astype(int)


def valid_lengths(lengths: np.ndarray) -> np.ndarray:
    """Validation utterance lengths: evenly spaced picks of the training ones."""
    picks = np.linspace(0, len(lengths) - 1, LARGE_VALID_UTTERANCES).astype(int)
    return np.sort(lengths)[picks]


def valid_example_length(raw: dict, lengths: np.ndarray) -> int:
    """Samples per validation example (padded): a chunk, or the longest utterance.

    The chunk iterator validates on chunks as it trains; the sequence iterator
    validates on whole utterances (the crop is a training-only step),
    padded to the longest of a batch, here taken as the longest one.
    """
    if raw.get("iterator_type") == "chunk":
        return int(raw["chunk_length"])
    return int(lengths.max())


def example_length(raw: dict) -> int:
    """Samples per training example: the crop length or the chunk length."""
    if raw.get("iterator_type") == "chunk":
        return int(raw["chunk_length"])
    crop = (raw.get("preprocessor_conf") or {}).get("crop_length")
    if crop is None:
        raise ValueError("a sequence config needs preprocessor_conf.crop_length")
    return int(crop)


def updates_per_epoch(raw: dict, lengths: np.ndarray) -> int:
    """Updates in one epoch of ``raw``'s iterator over utterances of ``lengths``.

    The chunk iterator cuts ``(L - W) // S + 1`` chunks of ``W`` samples from an
    utterance of ``L > W`` samples (shift ``S = W * chunk_shift_ratio``; a
    shorter utterance is one example), the sequence iterator with
    ``batch_type: unsorted`` gives ``len // batch_size`` batches (ESPnet spreads
    the remainder over them). ``num_iters_per_epoch`` caps the batches of the
    sequence iterator, but, for the chunk iterator, the UTTERANCES read per
    epoch (ESPnet passes it on as ``num_samples_per_epoch``; the next epoch
    goes on where the last one stopped): their chunks at the corpus's mean
    number of chunks per utterance.

    Args:
        raw: the config (parsed YAML).
        lengths: utterance lengths in samples.

    Returns:
        The number of optimizer updates per epoch.
    """
    batch = int(raw["batch_size"])
    if raw.get("iterator_type") == "chunk":
        width = int(raw["chunk_length"])
        shift = int(width * float(raw.get("chunk_shift_ratio", 0.5)))
        examples = sum((n - width) // shift + 1 if n > width else 1 for n in lengths)
        utterances = int(raw.get("num_iters_per_epoch") or 0) or len(lengths)
        utterances = min(utterances, len(lengths))
        return math.ceil(examples * utterances / len(lengths) / batch)
    if raw.get("batch_type", "folded") != "unsorted":
        raise ValueError("only batch_type unsorted is estimated for sequences")
    updates = max(len(lengths) // batch, 1)
    if raw.get("num_iters_per_epoch"):
        updates = min(updates, int(raw["num_iters_per_epoch"]))
    return updates


def write_noise_pool(folder: Path, seconds: float = 4.0) -> Path:
    """Two random noise recordings and their scp (for IDDP's re-noising)."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(2):
        path = folder / f"noise{i}.wav"
        sf.write(path, 0.1 * rng.standard_normal(int(seconds * FS)), FS)
        lines.append(f"noise{i} {path}\n")
    scp = folder / "noise_pool.scp"
    scp.write_text("".join(lines))
    return scp


def prepare_config(config: Path, workdir: Path) -> tuple[dict, Path]:
    """The config with its external files filled in, written to ``workdir``.

    Args:
        config: a recipe config (``conf/tuning/*.yaml``).
        workdir: an empty folder for the stand-in files.

    Returns:
        The filled-in config and the path of its copy in ``workdir``.
    """
    from espnet_cffma.ssl.checkpoints import build_random_checkpoint

    raw = yaml.safe_load(Path(config).read_text())
    sep_conf = raw.get("separator_conf") or {}
    if sep_conf.get("ssl_upstream"):
        ssl = workdir / "demo_wavlm_random.pt"
        if not ssl.exists():
            build_random_checkpoint("wavlm", ssl)  # stage 3's demo checkpoint
        sep_conf["ssl_upstream"] = "wavlm_local"
        sep_conf["ssl_path_or_url"] = str(ssl)
    if "teacher_config" in sep_conf:
        stage1 = Path(config).with_name(Path(config).name.replace("stage2", "stage1"))
        if stage1 == Path(config) or not stage1.exists():
            raise FileNotFoundError(f"no stage-1 config {stage1} for the teacher")
        sep_conf["teacher_config"], sep_conf["teacher_model_file"] = map(
            str, write_teacher(stage1, workdir)
        )
    model_conf = raw.get("enh_model_conf") or {}
    if model_conf.get("training_target") == "iddp":
        model_conf["noise_pool"] = str(write_noise_pool(workdir))
    path = workdir / f"{Path(config).stem}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return raw, path


def parse_args(config: Path) -> argparse.Namespace:
    """``EnhancementTask``'s options for ``config``, as enh_train reads them."""
    from espnet2.tasks.enh import EnhancementTask

    from espnet_cffma.registry import register_espnet_classes

    register_espnet_classes()
    return EnhancementTask.get_parser().parse_args(
        ["--config", str(config), "--output_dir", "unused"]
    )


def write_teacher(stage1_config: Path, workdir: Path) -> tuple[Path, Path]:
    """A stage-1 experiment folder (config.yaml + checkpoint) for a stage-2 config.

    Args:
        stage1_config: the stage-1 recipe config.
        workdir: where the folder ``stage1_teacher`` is written.

    Returns:
        The teacher's ``config.yaml`` and ``valid.loss.best.pth``.
    """
    from espnet2.tasks.enh import EnhancementTask

    folder = workdir / "stage1_teacher"
    folder.mkdir(exist_ok=True)
    _, path = prepare_config(stage1_config, folder)
    args = parse_args(path)
    model = EnhancementTask.build_model(args)
    (folder / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), folder / "valid.loss.best.pth")
    return folder / "config.yaml", folder / "valid.loss.best.pth"


def build(config: Path, workdir: Path):
    """Model and optimizer of a recipe config, through ESPnet's EnhancementTask.

    Args:
        config: a recipe config (``conf/tuning/*.yaml``).
        workdir: an empty folder for the stand-in files (SSL checkpoint,
            teacher experiment, noise pool).

    Returns:
        ``(raw, args, model, optimizer)``: the filled-in config, the parsed
        options, the model (in training mode) and its first optimizer.
    """
    from espnet2.tasks.enh import EnhancementTask

    raw, path = prepare_config(config, workdir)
    args = parse_args(path)
    model = EnhancementTask.build_model(args)
    optimizer = EnhancementTask.build_optimizers(args, model)[0]
    model.train()
    return raw, args, model, optimizer


def example_batch(
    raw: dict, batch_size: int, num_samples: int, generator: torch.Generator
) -> dict:
    """Random noisy / reference audio in the shape the config's iterator gives.

    Args:
        raw: the config; an IDDP MIA-SE config gets no reference (its data
            dirs hold noisy speech only).
        batch_size: examples per batch.
        num_samples: samples per example.
        generator: random source.

    Returns:
        Keyword arguments for the model's ``forward``.
    """
    clean = 0.1 * torch.randn(batch_size, num_samples, generator=generator)
    noisy = clean + 0.05 * torch.randn(batch_size, num_samples, generator=generator)
    batch = {
        "speech_mix": noisy,
        "speech_mix_lengths": torch.full((batch_size,), num_samples),
    }
    if (raw.get("enh_model_conf") or {}).get("training_target") != "iddp":
        batch["speech_ref1"] = clean
    return batch


def train_step(model, optimizer, batch: dict, grad_clip: float | None) -> float:
    """One update as ESPnet's trainer makes it; returns the loss."""
    loss, _, _ = model(**batch)
    optimizer.zero_grad()
    loss.backward()
    if grad_clip:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return float(loss.detach())


def seconds_per_valid_batch(model, batch: dict, repeats: int) -> float:
    """CPU seconds of one validation batch (``model.eval()``, no gradients)."""
    model.eval()
    with torch.no_grad():
        model(**batch)  # warm-up
        start = time.process_time()
        for _ in range(repeats):
            model(**batch)
    model.train()
    return (time.process_time() - start) / repeats


def seconds_per_update(
    config: Path, steps: int, warmup: int, lengths: np.ndarray | None = None
) -> dict:
    """Builds ``config``'s model and times its training updates.

    Args:
        config: a recipe config.
        steps: timed updates.
        warmup: untimed updates first (lazy teacher loading, allocator).
        lengths: training utterance lengths; with them the validation batch
            is timed too (``valid``, CPU seconds per batch).

    Returns:
        ``raw`` (the config), ``params`` (trainable parameters), ``seconds``
        (mean CPU time of this process per timed update) and ``wall`` (mean
        wall time per timed update).
    """
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        raw, _, model, optimizer = build(config, Path(tmp))
        generator = torch.Generator().manual_seed(0)
        batch = example_batch(
            raw, int(raw["batch_size"]), example_length(raw), generator
        )
        for _ in range(warmup):
            train_step(model, optimizer, batch, raw.get("grad_clip"))
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps):
            train_step(model, optimizer, batch, raw.get("grad_clip"))
        wall = (time.perf_counter() - wall) / steps
        cpu = (time.process_time() - cpu) / steps
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        valid = None
        if lengths is not None:
            valid_batch = example_batch(
                raw,
                int(raw["batch_size"]),
                valid_example_length(raw, valid_lengths(lengths)),
                generator,
            )
            valid = seconds_per_valid_batch(model, valid_batch, max(steps // 2, 1))
    return {"raw": raw, "params": params, "seconds": cpu, "wall": wall, "valid": valid}


def main(argv=None) -> None:
    """Times every config and prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("configs", nargs="*", type=Path)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--utt2num_samples", type=Path, default=None)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    configs = args.configs or [REFERENCE] + sorted(
        p for p in TUNING.glob("*demo_large*.yaml") if p != REFERENCE
    )
    lengths = large_corpus_lengths(args.utt2num_samples)
    print(
        f"{len(lengths)} training utterances, {lengths.sum() / FS / 3600:.2f} h; "
        f"{args.steps} timed updates after {args.warmup}, {args.threads} thread(s)"
    )
    rows = []
    for config in configs:
        result = seconds_per_update(config, args.steps, args.warmup, lengths)
        raw = result["raw"]
        updates = updates_per_epoch(raw, lengths)
        valid_batches = updates_per_epoch(
            {**raw, "num_iters_per_epoch": None}, valid_lengths(lengths)
        )
        epoch_min = (updates * result["seconds"] + valid_batches * result["valid"]) / 60
        rows.append(
            (config.stem, result["params"], result["seconds"], updates, epoch_min,
             int(raw["max_epoch"]), epoch_min * int(raw["max_epoch"]))
        )  # fmt: skip
        print(
            f"  {config.stem}: {result['seconds']:.3f} CPU s/update "
            f"({result['wall']:.3f} s wall), validation {valid_batches} batches "
            f"of {result['valid']:.3f} s",
            flush=True,
        )
    reference = next((r[2] for r in rows if r[0] == REFERENCE.stem), None)
    header = (
        f"| {'config':<44} | params | s/update | x ref | updates/epoch "
        "| min/epoch | epochs | min total |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c) + 0) for c in header.split("|")[1:-1]) + "|")
    for name, params, sec, updates, epoch_min, epochs, total in rows:
        ratio = f"{sec / reference:5.2f}" if reference else "  -  "
        print(
            f"| {name:<44} | {params / 1e3:5.0f}K | {sec:8.3f} | {ratio} "
            f"| {updates:13d} | {epoch_min:9.2f} | {epochs:6d} | {total:9.1f} |"
        )


if __name__ == "__main__":
    main()
