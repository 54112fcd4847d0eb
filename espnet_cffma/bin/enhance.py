"""Enhance audio files, folders and Kaldi lists with a trained model.

Examples::

    cffma-enhance --model exp/enh_train_bss_cffma noisy.wav -o enhanced/
    cffma-enhance --model model.zip recordings/ data/test/wav.scp -o enhanced/
    cffma-enhance --config conf.yaml --model_file 10epoch.pth in.flac -o out/
    python -m espnet_cffma.bin.enhance --model exp/tag --device cuda long.wav -o out/

Outputs keep each input's sampling rate, channels, length and sample format.
Files longer than ``--chunk_seconds`` are streamed in overlapping chunks.
With ``--streaming`` a causal model (a stage-2 ``cnunet_tb``) runs one hop at a
time on every file, with bounded memory and one window of latency.
Exit status: 0 when every input was enhanced, 1 when some failed (listed at
the end), 2 when the model cannot be loaded or the options are wrong.
"""

import argparse
import logging
import sys

from espnet2.utils.types import str2bool

from espnet_cffma.enhance.model_files import DEFAULT_CHECKPOINT

logger = logging.getLogger("espnet_cffma.enhance")


def get_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="cffma-enhance",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        help="audio files, folders (searched recursively) and Kaldi .scp lists",
    )
    parser.add_argument("-o", "--output_dir", required=True, help="output folder")

    model = parser.add_argument_group("model")
    model.add_argument(
        "--model", help="experiment dir (exp/<tag>) or packed archive (.zip, .tar.gz)"
    )
    model.add_argument(
        "--checkpoint",
        default=DEFAULT_CHECKPOINT,
        help="checkpoint inside the experiment dir",
    )
    model.add_argument("--config", help="training config.yaml (with --model_file)")
    model.add_argument("--model_file", help="model state_dict (.pth)")
    model.add_argument(
        "--unpack_dir", help="where archives are unpacked (default: a cache folder)"
    )
    model.add_argument(
        "--fs", type=int, help="the model's sampling rate (default: from the model)"
    )
    model.add_argument(
        "--allow_pickle",
        action="store_true",
        help="load checkpoints that hold Python objects (only from trusted sources)",
    )

    run = parser.add_argument_group("processing")
    run.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    run.add_argument(
        "--batch_seconds",
        type=float,
        default=60.0,
        help="padded audio per forward pass (memory bound)",
    )
    run.add_argument(
        "--batch_mixed_lengths",
        type=str2bool,
        default=None,
        help="batch files of different lengths together (zero-padded). Default: "
        "what the model declares (its separator's padding_invariant attribute); "
        "models that declare nothing only batch equally long files, which is "
        "always exact",
    )
    run.add_argument(
        "--chunk_seconds",
        type=float,
        default=20.0,
        help="longer files are streamed in chunks of this length (memory and, "
        "with self-attention, time grow with it)",
    )
    run.add_argument(
        "--overlap_seconds",
        type=float,
        default=None,
        help="cross-fade between chunks, at most half a chunk (default: 1 s, or "
        "a quarter chunk if less)",
    )
    run.add_argument(
        "--streaming",
        action="store_true",
        help="run a causal model (stage-2 cnunet_tb) frame by frame: bounded "
        "memory, one window of latency, same output as a whole-file pass; "
        "other models are refused",
    )
    run.add_argument(
        "--mixdown",
        action="store_true",
        help="average channels and write mono (default: enhance each channel)",
    )
    run.add_argument(
        "--subtype",
        help="output sample format, e.g. FLOAT or PCM_24 (default: input's)",
    )
    run.add_argument(
        "--skip_existing", action="store_true", help="keep outputs that already exist"
    )
    run.add_argument("--num_threads", type=int, help="torch CPU threads")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument(
        "--log_level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="logging verbosity",
    )
    return parser


def main(argv=None) -> int:
    """Runs the command; returns the exit status."""
    args = get_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s: %(message)s"
    )
    # Heavy imports after parsing, so --help is instant.
    import torch
    from tqdm.contrib.logging import logging_redirect_tqdm

    from espnet_cffma.enhance.engine import EnhanceOptions, Enhancer
    from espnet_cffma.enhance.errors import ModelLoadError
    from espnet_cffma.enhance.inputs import collect_jobs
    from espnet_cffma.enhance.model_files import resolve_model_files
    from espnet_cffma.enhance.runner import ModelRunner

    if args.num_threads:
        torch.set_num_threads(args.num_threads)
    if args.subtype:
        import soundfile as sf

        if args.subtype.upper() not in sf.available_subtypes():
            logger.error("Unknown --subtype %s", args.subtype)
            return 2
        args.subtype = args.subtype.upper()
    try:
        files = resolve_model_files(
            args.model, args.checkpoint, args.config, args.model_file, args.unpack_dir
        )
        logger.info("Model: %s + %s", files.config, files.model_file)
        runner = ModelRunner.from_files(
            files,
            device=args.device,
            fs=args.fs,
            allow_pickle=args.allow_pickle,
            mixed_lengths=args.batch_mixed_lengths,
        )
        runner.max_batch_samples = max(int(args.batch_seconds * runner.fs), 1)
        options = EnhanceOptions(
            chunk_seconds=args.chunk_seconds,
            overlap_seconds=args.overlap_seconds,
            mixdown=args.mixdown,
            subtype=args.subtype,
            skip_existing=args.skip_existing,
            streaming=args.streaming,
        )
        enhancer = Enhancer(runner, options)
    except (ModelLoadError, ValueError) as e:
        logger.error("%s", e)
        return 2
    if args.streaming:
        how = "streaming hop by hop"
    else:
        how = (
            f"chunks {enhancer.chunk / runner.fs:.2f} s with "
            f"{enhancer.overlap / runner.fs:.2f} s overlap"
        )
    logger.info("Model rate %d Hz; %s; device %s", runner.fs, how, args.device)

    jobs = collect_jobs(args.inputs, args.output_dir)
    with logging_redirect_tqdm():
        summary = enhancer.run(jobs, progress=not args.quiet)
    for path in summary.lists:
        logger.info("Wrote %s", path)
    print(summary.report(), file=sys.stderr if summary.failed else sys.stdout)
    return 1 if summary.failed else 0


def console_main() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    console_main()
