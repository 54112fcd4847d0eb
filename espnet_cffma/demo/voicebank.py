"""A small corpus in VoiceBank-DEMAND's raw layout, from real speech and noise.

Layout (as the real corpus, 48 kHz 16-bit mono WAV)::

    OUT/clean_trainset_28spk_wav/p226_001.wav ...
    OUT/noisy_trainset_28spk_wav/p226_001.wav ...
    OUT/clean_testset_wav/p232_001.wav ...
    OUT/noisy_testset_wav/p232_001.wav ...
    OUT/log_trainset_28spk.txt   # "p226_001 <noise> <snr>" per line
    OUT/log_testset.txt
    OUT/demo_metadata.tsv        # provenance of every utterance (noise category too)
    OUT/noise_list.tsv           # noise recordings per split, with their categories
    OUT/SOURCES.md               # packages, licences, speaker map, conventions

Speakers are people (see :mod:`espnet_cffma.demo.sources`): Asterisk's four
voices, and with ``voices="many"`` (the tiny and large presets) KDE's word
recordings too (one speaker per language), 33 in all. Training people get the
real corpus's 28 training ids, the people with the most recordings first, so
p226 and p287 (the recipes validate on p287) have plenty; the two test people
get p232 and p257. With more than 28 training people, those with the fewest
recordings are left out. Noise recordings of the test set are disjoint from the
training ones (recording groups, see
:func:`~espnet_cffma.demo.sources.split_noise_files`).

Usage::

    python -m espnet_cffma.demo.voicebank --out DIR [--size tiny|small|large]
        [--voices many|asterisk --n_train N --n_test N --speech_dir DIR
         --noise_dir DIR --cache_dir DIR --seed S]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from espnet_cffma.demo import sources
from espnet_cffma.demo.corpus import (
    add_size_arguments,
    building,
    corpus_is_complete,
    corpus_params,
    size_preset,
    sources_markdown,
    write_wav,
)
from espnet_cffma.demo.noise import NoiseMaker, NoiseSegment
from espnet_cffma.demo.rooms import (
    draw_positions,
    draw_room,
    reverberate,
    room_impulse_responses,
)
from espnet_cffma.demo.signals import rms_db, scale_noise_to_snr
from espnet_cffma.demo.utterances import (
    UtteranceMaker,
    utterance_note,
    utterance_options,
)
from espnet_cffma.resampling import resample

logger = logging.getLogger(__name__)

# The real corpus's 28 training speakers, validation speakers (p226, p287) first.
TRAIN_SPEAKER_IDS = (
    "p226", "p287", "p227", "p228", "p230", "p231", "p233", "p236", "p239", "p243",
    "p244", "p250", "p254", "p256", "p258", "p259", "p267", "p268", "p269", "p270",
    "p273", "p274", "p276", "p277", "p278", "p279", "p282", "p286",
)  # fmt: skip
TEST_SPEAKER_IDS = ("p232", "p257")
TRAIN_SNRS = (0.0, 5.0, 10.0, 15.0)
TEST_SNRS = (2.5, 7.5, 12.5, 17.5)
# Preset sizes: (training utterances, test utterances, voices). "tiny" is for
# tests, "small" for the README's first command, "large" (about 2 h of
# training audio) for CPU training with conf/tuning/train_demo_large.yaml.
# Small keeps Asterisk's four voices: at its budget (5 epochs, 240 updates)
# the tiny model trained on 27 people's few utterances each stayed below the
# noisy input on unseen people (test PESQ-WB 1.29 vs 1.35), while on two
# people's studio prompts it is above it (1.60 vs 1.34).
SIZES = {
    "tiny": (12, 4, "many"),
    "small": (200, 40, "asterisk"),
    "large": (2400, 240, "many"),
}
CORPUS_SR = 48000
MIX_SR = 16000  # the speech source is 16 kHz wideband: mix there, then upsample
DIRS = {
    "train": ("clean_trainset_28spk_wav", "noisy_trainset_28spk_wav"),
    "test": ("clean_testset_wav", "noisy_testset_wav"),
}
LOGS = {"train": "log_trainset_28spk.txt", "test": "log_testset.txt"}
# Like the real corpus: training adds babble and synthetic noise to
# recordings, the test set uses recordings only.
NOISE_KINDS = {
    "train": {"file": 0.8, "babble": 0.1, "colored": 0.1},
    "test": {"file": 1.0},
}
LEVEL_DBFS = (-33.0, -23.0)


def _speaker_ids(
    train: list[str], test: list[str], n_files: dict[str, int]
) -> dict[str, str]:
    if len(train) < 2:
        raise ValueError(
            f"the VoiceBank demo needs at least 2 training speakers (p226 and p287 "
            f"are the recipe's validation speakers), got {train}"
        )
    if not 1 <= len(test) <= len(TEST_SPEAKER_IDS):
        raise ValueError(f"the VoiceBank demo takes 1 or 2 test speakers, got {test}")
    # Richest first: p226/p287 (validation) get the most material, and the
    # speakers left out beyond 28 are those with the fewest recordings.
    train = sorted(train, key=lambda s: (-n_files[s], s))
    if len(train) > len(TRAIN_SPEAKER_IDS):
        logger.info(
            "using the %d of %d training speakers with the most recordings "
            "(left out: %s)",
            len(TRAIN_SPEAKER_IDS),
            len(train),
            ", ".join(train[len(TRAIN_SPEAKER_IDS) :]),
        )
        train = train[: len(TRAIN_SPEAKER_IDS)]
    ids = dict(zip(train, TRAIN_SPEAKER_IDS))
    ids.update(zip(test, TEST_SPEAKER_IDS))
    return ids


def _mix(
    maker: UtteranceMaker,
    noise_maker: NoiseMaker,
    rng: np.random.Generator,
    speaker: str,
    snrs: tuple[float, ...],
    rirs: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, NoiseSegment, float, list[Path]]:
    """Makes one clean/noisy pair at the corpus rate.

    Args:
        maker: The speaker's utterance maker.
        noise_maker: The split's noise maker.
        rng: Draws the level and the SNR.
        speaker: Source speaker (kept out of babble noise).
        snrs: SNRs (dB) to draw from.
        rirs: ``(full, direct-path)`` RIRs at :data:`MIX_SR` to reverberate
            the utterance in a room, or None for dry speech.

    Returns:
        ``(clean [T], noisy [T], noise segment, SNR in dB, speech files used)``,
        both signals at :data:`CORPUS_SR`. In a room, clean is the direct-path
        speech and noisy the reverberant speech plus noise; the SNR is that of
        the clean target to the noise, as in the WHAMR!-style demo.
    """
    clean, used_files = maker.make()
    speech = clean
    if rirs is not None:
        clean, speech = reverberate(clean, *rirs, len(clean))
    level = rng.uniform(*LEVEL_DBFS)
    gain = np.float32(10 ** ((level - rms_db(clean)) / 20))
    clean, speech = clean * gain, speech * gain
    seg = noise_maker.draw(len(clean), exclude_speaker=speaker)
    snr = float(snrs[int(rng.integers(len(snrs)))])
    # The SNR is set on the signals as written (48 kHz): resampling after
    # mixing filters speech and noise differently near 8 kHz, which moved the
    # measured SNR by up to 0.13 dB (white noise loses its top band).
    clean48 = resample(clean, MIX_SR, CORPUS_SR)
    speech48 = clean48 if rirs is None else resample(speech, MIX_SR, CORPUS_SR)
    noise48 = resample(seg.audio, MIX_SR, CORPUS_SR)
    noisy48 = speech48 + scale_noise_to_snr(clean48, noise48, snr)
    peak = max(np.abs(clean48).max(), np.abs(noisy48).max())
    if peak > 0.99:  # same gain on both keeps the SNR
        clean48, noisy48 = clean48 * (0.99 / peak), noisy48 * (0.99 / peak)
    return clean48, noisy48, seg, snr, used_files


@dataclass(frozen=True)
class _Split:
    """What one split of the corpus holds.

    Attributes:
        name: ``train`` or ``test``.
        index: Split number (seeds its random generators).
        speakers: Source speakers.
        size: Number of utterances.
        snrs: SNRs (dB) to draw from.
        reverb_share: Share of its utterances reverberated in a room.
    """

    name: str
    index: int
    speakers: list[str]
    size: int
    snrs: tuple[float, ...]
    reverb_share: float = 0.0


def _write_split(
    tmp: Path,
    split: _Split,
    ids: dict[str, str],
    src: sources.DemoSources,
    noise_files: dict[str, list[Path]],
    seed: int,
    cache: Path,
    utterance_opts: dict,
) -> list[str]:
    """Writes one split's wav files and log; returns its metadata rows.

    Args:
        tmp: Scratch corpus directory.
        split: The split.
        ids: Source speaker -> corpus speaker id.
        src: Speech and noise sources.
        noise_files: Noise source -> recordings of this split.
        seed: Corpus seed.
        cache: Debian package cache (noise paths are logged relative to it).
        utterance_opts: Extra :class:`UtteranceMaker` options.
    """
    speakers = split.speakers
    rng = np.random.default_rng([seed, split.index])
    makers = {
        s: UtteranceMaker(
            src.speakers[s],
            np.random.default_rng([seed, split.index, j]),
            **utterance_opts,
        )
        for j, s in enumerate(speakers)
    }
    babble = {s: src.speakers[s] for s in speakers} if split.name == "train" else {}
    noise_maker = NoiseMaker(
        noise_files,
        MIX_SR,
        np.random.default_rng([seed, split.index, 1000]),
        kinds=NOISE_KINDS[split.name],
        babble_speech=babble,
        root=cache,
    )
    # Own generator: rooms must not shift the draws of a corpus without them.
    room_rng = np.random.default_rng([seed, split.index, 2000])
    clean_dir, noisy_dir = (tmp / d for d in DIRS[split.name])
    counts = dict.fromkeys(speakers, 0)
    log_lines, meta = [], []
    for i in tqdm(range(split.size), desc=f"VoiceBank demo ({split.name})", unit="utt"):
        spk = speakers[i % len(speakers)]
        counts[spk] += 1
        utt = f"{ids[spk]}_{counts[spk]:03d}"
        rirs, reverb = None, "-"
        if split.reverb_share > 0 and room_rng.random() < split.reverb_share:
            room = draw_room(room_rng)
            mic, source = draw_positions(room, room_rng)
            rir_seed = int(room_rng.integers(2**31))
            rirs = room_impulse_responses(room, mic, source, rir_seed, MIX_SR)
            distance = float(np.linalg.norm(source - mic))
            reverb = (
                f"rt60={room.rt60:.3f},room={'x'.join(f'{d:g}' for d in room.dims)},"
                f"distance={distance:.2f}"
            )
        clean, noisy, seg, snr, used_files = _mix(
            makers[spk], noise_maker, rng, spk, split.snrs, rirs
        )
        write_wav(clean_dir / f"{utt}.wav", clean, CORPUS_SR)
        write_wav(noisy_dir / f"{utt}.wav", noisy, CORPUS_SR)
        log_lines.append(f"{utt} {seg.label} {snr:g}")
        speech_names = ",".join(p.stem for p in used_files)
        meta.append(
            f"{split.name}\t{utt}\t{spk}\t{seg.kind}\t{seg.category}\t"
            f"{seg.label}\t{snr:g}\t"
            f"{rms_db(clean):.2f}\t{speech_names}\t{seg.details}\t{reverb}"
        )
    (tmp / LOGS[split.name]).write_text("\n".join(log_lines) + "\n")
    return meta


def _sources_md(
    src: sources.DemoSources,
    ids: dict[str, str],
    splits: list[_Split],
    noise_split: dict[str, dict[str, list[Path]]],
    seed: int,
) -> str:
    """SOURCES.md: packages, speakers and the generation conventions."""
    rows = [
        (ids[s], src.speaker_label(s), sp.name) for sp in splits for s in sp.speakers
    ]
    n_train, n_test = (sp.size for sp in splits)
    notes = [
        f"{n_train} training and {n_test} test utterances, seed {seed}.",
        "Files are 48 kHz 16-bit mono like the real corpus, but the content is "
        "band-limited to 8 kHz: speech is 16 kHz G.722 wideband, so speech and "
        "noise are drawn at 16 kHz, upsampled (soxr) to 48 kHz, and mixed there.",
        utterance_note((1.5, 4.0)),
        f"Clean level uniform in {LEVEL_DBFS} dBFS (RMS). SNR = energy ratio of "
        "clean to (noisy - clean) over the whole utterance; train SNRs "
        f"{TRAIN_SNRS} dB, test {TEST_SNRS} dB (as the real corpus). When a "
        "file would clip, clean and noisy get the same gain.",
        f"Noise kinds: train {NOISE_KINDS['train']}, test {NOISE_KINDS['test']}. "
        "Recordings start at a random offset and loop (20 ms crossfade) when "
        "short; babble sums 3-6 prompts of other training speakers; coloured "
        "noise is white or pink.",
        *sources.noise_split_notes(noise_split),
        "Every noise recording's category (stationary, music, machines, traffic, "
        "babble, city, nature, effects; generated babble and coloured noise too) "
        "is in noise_list.tsv "
        "and, per utterance, in demo_metadata.tsv.",
        "Speakers are people: Asterisk's en and es prompts are both Allison "
        "Smith, so they form one speaker. KDE's word recordings (KTuberling, "
        "KLettres) form one speaker per language across both packages and "
        "regional variants (who recorded most folders is not recorded), joined "
        "into utterances with their own pauses. Test speakers never occur in "
        "training.",
    ]
    share = splits[0].reverb_share
    if share > 0:
        notes.append(
            f"Reverberation: {share:.0%} of the utterances (drawn per utterance) "
            "are spoken in a simulated room (WHAMR!'s ranges: 5-10 x 5-10 x 3-4 "
            "m, RT60 0.2-1.0 s, source 0.7-2 m away; pyroomacoustics at 16 kHz). "
            "Their noisy file holds the reverberant speech plus noise, their "
            "clean file the direct path only (aligned with the reverberant "
            "one), so the task there is denoising and dereverberation; their "
            "SNR is clean to noise, and (noisy - clean) holds the reverberation "
            "too. demo_metadata.tsv's reverb column gives each room."
        )
    return sources_markdown("VoiceBank-DEMAND demo", src.provenance, rows, notes)


def build_voicebank_demo(
    out_dir: str | os.PathLike,
    n_train: int = SIZES["small"][0],
    n_test: int = SIZES["small"][1],
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    speech_dir: str | os.PathLike | None = None,
    noise_dir: str | os.PathLike | None = None,
    test_speakers: list[str] | None = None,
    voices: str = SIZES["small"][2],
    reverb_share: float = 0.0,
) -> Path:
    """Writes a VoiceBank-DEMAND-style demo corpus (skips if already built).

    Args:
        out_dir: Corpus directory (created atomically).
        n_train: Number of training utterances (at least 2).
        n_test: Number of test utterances (at least 1).
        seed: Random seed; the same seed gives the same corpus.
        cache_dir: Debian package cache (see
            :func:`espnet_cffma.demo.sources.cache_root`).
        speech_dir: Use this folder of clean speech instead of Debian voices
            (see :func:`espnet_cffma.demo.sources.speech_from_dir`).
        noise_dir: Use this folder of noise instead of Debian noise packages.
        test_speakers: Source speakers held out for the test set (1 or 2);
            default: ``ivrvoice_ru`` and ``june`` for Debian voices, else the
            last two speakers in sorted order.
        voices: Debian speech: ``many`` (Asterisk's and KDE's voices, 33
            speakers) or ``asterisk`` (Asterisk's four people only).
            The presets of :data:`SIZES` say which each size uses.
        reverb_share: Share (0-1) of the utterances of both splits spoken in
            a simulated room (WHAMR!'s ranges, :mod:`espnet_cffma.demo.rooms`):
            their noisy file holds reverberant speech, their clean file the
            direct path. 0 (default) gives the dry corpus, unchanged.

    Returns:
        The corpus directory.

    Raises:
        DemoSourceError: When a source cannot be fetched or read.
        FileExistsError: When ``out_dir`` holds something else.
    """
    if n_train < 2 or n_test < 1:
        raise ValueError(f"need n_train >= 2 and n_test >= 1, got {n_train}, {n_test}")
    if not 0.0 <= reverb_share <= 1.0:
        raise ValueError(f"reverb_share must lie in [0, 1], got {reverb_share}")
    out = Path(out_dir)
    sizes = {"n_train": n_train, "n_test": n_test}
    params = corpus_params(
        "voicebank_demo", sizes, seed, speech_dir, noise_dir, test_speakers
    )
    params["voices"] = voices
    if reverb_share > 0:  # recorded only when used: dry corpora stay complete
        params["reverb_share"] = reverb_share
    if corpus_is_complete(out, params):
        logger.info("VoiceBank demo already complete in %s", out)
        return out
    t0 = time.time()
    src = sources.load_sources(cache_dir, speech_dir, noise_dir, voices)
    train_spk, test_spk = sources.split_speakers(list(src.speakers), test_speakers, 2)
    n_files = {s: len(files) for s, files in src.speakers.items()}
    ids = _speaker_ids(train_spk, test_spk, n_files)
    train_spk = [s for s in ids if s not in test_spk]
    noise_split = sources.split_noise_disjoint(
        src.noises, {"train": 0.75, "test": 0.25}
    )
    splits = [
        _Split("train", 0, train_spk, n_train, TRAIN_SNRS, reverb_share),
        _Split("test", 1, test_spk, n_test, TEST_SNRS, reverb_share),
    ]
    meta = [
        "split\tutt\tspeaker\tnoise_kind\tnoise_category\tnoise\tsnr_db\t"
        "level_dbfs\tspeech\tdetails\treverb"
    ]
    cache = sources.cache_root(cache_dir)
    utterance_opts = utterance_options(voices, speech_dir)
    with building(out, params) as tmp:
        for split in splits:
            noise_files = noise_split[split.name]
            meta += _write_split(
                tmp, split, ids, src, noise_files, seed, cache, utterance_opts
            )
        (tmp / "demo_metadata.tsv").write_text("\n".join(meta) + "\n")
        (tmp / "noise_list.tsv").write_text(sources.noise_list_tsv(noise_split))
        text = _sources_md(src, ids, splits, noise_split, seed)
        (tmp / "SOURCES.md").write_text(text)
    logger.info("VoiceBank demo written to %s in %.1f s", out, time.time() - t0)
    return out


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description="Build a small VoiceBank-DEMAND-style corpus from real speech "
        "and noise found in Debian packages (or your own folders)."
    )
    parser.add_argument("--out", required=True, help="corpus directory")
    add_size_arguments(parser, SIZES, "training, test utterances, voices")
    parser.add_argument("--n_train", type=int, help="training utterances")
    parser.add_argument("--n_test", type=int, help="test utterances")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reverb_share",
        type=float,
        default=0.0,
        help="share (0-1) of utterances reverberated in a simulated room",
    )
    parser.add_argument("--speech_dir", help="folder of clean speech (wav/flac)")
    parser.add_argument("--noise_dir", help="folder of noise recordings")
    parser.add_argument("--cache_dir", help="Debian package cache directory")
    parser.add_argument(
        "--test_speakers", help="comma-separated source speakers held out for test"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    n_train, n_test, voices = SIZES[size_preset(args.size)]
    try:
        build_voicebank_demo(
            args.out,
            n_train=args.n_train or n_train,
            n_test=args.n_test or n_test,
            seed=args.seed,
            cache_dir=args.cache_dir,
            speech_dir=args.speech_dir,
            noise_dir=args.noise_dir,
            test_speakers=args.test_speakers.split(",") if args.test_speakers else None,
            voices=args.voices or voices,
            reverb_share=args.reverb_share,
        )
    except (sources.DemoSourceError, FileExistsError, ValueError) as err:
        parser.exit(1, f"error: {err}\n")


if __name__ == "__main__":
    main()
