"""A small single-speaker corpus in WHAMR!'s layout, reverberated with pyroomacoustics.

Layout (as the real corpus, 16 kHz 16-bit mono WAV)::

    OUT/wav16k/{min,max}/{tr,cv,tt}/{mix_single_anechoic,mix_single_reverb,
                                     s1_anechoic,s1_reverb,noise}/NAME.wav
    OUT/metadata/mix_single_{tr,cv,tt}.tsv   # room, positions, RT60, SNR, noise
    OUT/noise_list.tsv                       # noise recordings per split, categories
    OUT/SOURCES.md                           # packages, licences, speakers

The generation conventions (rooms, RT60, the anechoic target's alignment with
the reverberant signal, SNR, min/max, splits) are listed in :data:`CONVENTIONS`
and copied into SOURCES.md. In short: ``s1_anechoic`` is the speech convolved
with the direct-path part of the same simulated RIR, so its direct path lies on
the very samples of ``s1_reverb``'s
(:func:`espnet_cffma.demo.rooms.direct_path_lag` measures it);
SNRs follow WHAM! (-6 to +3 dB); ``min`` is the start of ``max``.

People: Asterisk's four voices (the small preset) or, with ``voices="many"``
(tiny and large), KDE's word recordings too. With enough people, tr, cv and
tt hold disjoint people (:func:`split_people`); with Asterisk's four, tr and
cv share the two training people, as WHAMR!'s tr and cv share WSJ0's.

Usage::

    python -m espnet_cffma.demo.whamr --out DIR [--size tiny|small|large]
        [--voices many|asterisk --n_tr N --n_cv N --n_tt N --speech_dir DIR
         --noise_dir DIR --cache_dir DIR --seed S]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import math
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
    Room,
    draw_positions,
    draw_room,
    measured_rt60,
    reverberate,
    room_impulse_responses,
)
from espnet_cffma.demo.signals import noise_gain_for_snr, rms_db
from espnet_cffma.demo.utterances import (
    UtteranceMaker,
    utterance_note,
    utterance_options,
)

logger = logging.getLogger(__name__)

SR = 16000
SPLITS = ("tr", "cv", "tt")
KINDS = (
    "mix_single_anechoic",
    "mix_single_reverb",
    "s1_anechoic",
    "s1_reverb",
    "noise",
)
# Preset sizes: (tr, cv, tt mixtures, voices); see voicebank.SIZES for why
# small keeps Asterisk's four voices. Large: about 1.7 h of tr audio (min).
SIZES = {
    "tiny": (12, 4, 4, "many"),
    "small": (200, 50, 50, "asterisk"),
    "large": (1600, 240, 240, "many"),
}
SNR_RANGE = (-6.0, 3.0)
LEVEL_DBFS = (-30.0, -20.0)
UTT_SECONDS = (2.0, 5.0)
# Share of the training people held out for cv, and again for tt, when there
# are at least MIN_PEOPLE_TO_HOLD_OUT of them (else tr and cv share people).
HELD_OUT_PEOPLE_SHARE = 0.15
MIN_PEOPLE_TO_HOLD_OUT = 8
TAIL_SECONDS = (0.25, 1.0)
NOISE_FRACTIONS = {"tr": 0.6, "cv": 0.15, "tt": 0.25}
NOISE_KINDS = {"file": 0.8, "babble": 0.2}  # WHAM! noise is mostly crowds


CONVENTIONS = (
    "Files are 16 kHz 16-bit mono. `min`: signals cut to the dry utterance's "
    "length; `max`: the same plus 0.25-1 s (noise and reverberant tail go on, "
    "s1_anechoic zero-padded); `min` is exactly the start of `max`.",
    "Rooms: shoebox 5-10 x 5-10 x 3-4 m, target RT60 uniform 0.2-1.0 s "
    "(pra.inverse_sabine), pyroomacoustics hybrid RIRs (image sources to order 3 "
    "+ seeded ray tracing), no air absorption; a pool of rooms per split, so "
    "test rooms never occur in training. Mic in the middle 40 % of the floor "
    "at 1.0-1.5 m, source 0.7-2 m away at 1.4-1.9 m.",
    "s1_reverb = speech * full RIR; s1_anechoic = speech * direct-path RIR "
    "(same simulator, no reflections): both carry the direct path at the same "
    "sample (propagation delay + pyroomacoustics' 40-sample filter delay) and "
    "the same gain; s1_anechoic RMS level uniform in -30..-20 dBFS.",
    "SNR uniform in -6..+3 dB (WHAM!'s range) = energy of s1_anechoic over "
    "noise on the `min` length; the same noise is in both mixtures; "
    "mix_single_* = s1_* + noise. When a file would clip, all five signals "
    "get one gain.",
    "Speakers are people. With at least 8 training people, tr, cv and tt hold "
    "disjoint people (15 % of them each for cv and extra tt people); with "
    "fewer, tr and cv share them (never the same prompt), as in WHAMR!. Noise "
    "recording groups are split tr 60 % / cv 15 % / tt 25 %, disjointly; noise "
    "is 80 % recordings, 20 % babble of 3-6 prompts of other speakers of the "
    "same split. Each recording's category is in noise_list.tsv and, per "
    "mixture, in the metadata's noise_category column.",
    "Names: <speaker code><utterance no.>_<snr>.wav; the speaker codes are in "
    "the table above; metadata/mix_single_<split>.tsv has each mixture's "
    "room, positions, target and measured RT60, noise and SNR.",
)


def _speaker_codes(people: dict[str, list[str]]) -> dict[str, str]:
    order = list(dict.fromkeys(s for split in SPLITS for s in people[split]))
    return {s: f"s{i + 1:02d}" for i, s in enumerate(order)}


def split_people(
    train: list[str], test: list[str], n_files: dict[str, int]
) -> dict[str, list[str]]:
    """The people of tr, cv and tt.

    With at least :data:`MIN_PEOPLE_TO_HOLD_OUT` training people, a share
    (:data:`HELD_OUT_PEOPLE_SHARE`) of them goes to cv and as many again join
    tt, so that the three splits hold disjoint people. The two people with the
    most recordings always stay in tr; the others are drawn by a hash of
    their names, so the choice does not depend on the seed.

    Args:
        train: Training people (from :func:`sources.split_speakers`).
        test: Held-out people.
        n_files: Person -> number of recordings.

    Returns:
        ``{"tr": [...], "cv": [...], "tt": [...]}``; cv equals tr when there
        are too few people to hold some out.
    """
    if len(train) < MIN_PEOPLE_TO_HOLD_OUT:
        return {"tr": list(train), "cv": list(train), "tt": list(test)}
    richest = sorted(train, key=lambda s: (-n_files[s], s))[:2]
    candidates = sorted(
        (s for s in train if s not in richest),
        key=lambda s: hashlib.sha1(s.encode()).hexdigest(),
    )
    n = max(1, round(HELD_OUT_PEOPLE_SHARE * len(train)))
    cv, extra_tt = candidates[:n], candidates[n : 2 * n]
    tr = [s for s in train if s not in cv and s not in extra_tt]
    return {"tr": tr, "cv": sorted(cv), "tt": sorted([*test, *extra_tt])}


METADATA_HEADER = (
    "name\tspeaker\tspeech\tnoise_kind\tnoise_category\tnoise\tnoise_details\t"
    "snr_db\troom\t"
    "length\twidth\theight\trt60_target\trt60_measured\tmic\tsource\t"
    "distance\tdirect_sample\tlen_min\tlen_max"
)


@dataclass
class _Mixture:
    """One simulated mixture: its five signals at the ``max`` length and how.

    Attributes:
        signals: Kind (:data:`KINDS`) -> ``[len_max]`` float32.
        len_min: Length of the ``min`` version (the dry utterance's).
        len_max: Length of the ``max`` version.
        snr: SNR in dB (on the ``min`` part).
        room_id: Index of the room in the split's pool.
        room: The room.
        mic: Microphone position ``[3]``.
        source: Source position ``[3]``.
        h_full: Full RIR ``[N]``.
        h_direct: Direct-path RIR ``[M]``.
        noise: The noise segment.
        speech_files: Prompts the dry utterance is made of.
    """

    signals: dict[str, np.ndarray]
    len_min: int
    len_max: int
    snr: float
    room_id: int
    room: Room
    mic: np.ndarray
    source: np.ndarray
    h_full: np.ndarray
    h_direct: np.ndarray
    noise: NoiseSegment
    speech_files: list[Path]


def _simulate(
    maker: UtteranceMaker,
    rooms: list[Room],
    rng: np.random.Generator,
    rir_seed: int,
    noise_maker: NoiseMaker,
    speaker: str,
) -> _Mixture:
    """Reverberates one dry utterance in a room of the pool and adds noise."""
    dry, used_files = maker.make()
    room_id = int(rng.integers(len(rooms)))
    room = rooms[room_id]
    mic, src = draw_positions(room, rng)
    h_full, h_dir = room_impulse_responses(room, mic, src, rir_seed)
    n_min = len(dry)
    n_max = n_min + int(rng.uniform(*TAIL_SECONDS) * SR)
    anechoic, reverb = reverberate(dry, h_full, h_dir, n_max)
    gain = 10 ** ((rng.uniform(*LEVEL_DBFS) - rms_db(anechoic[:n_min])) / 20)
    anechoic *= gain
    reverb *= gain
    seg = noise_maker.draw(n_max, exclude_speaker=speaker)
    snr = float(rng.uniform(*SNR_RANGE))
    # Scaled on the min part, so the stated SNR holds exactly there.
    g = noise_gain_for_snr(anechoic[:n_min], seg.audio[:n_min], snr)
    noise = seg.audio * np.float32(g)
    signals = {
        "s1_anechoic": anechoic,
        "s1_reverb": reverb,
        "noise": noise,
        "mix_single_anechoic": anechoic + noise,
        "mix_single_reverb": reverb + noise,
    }
    peak = max(float(np.abs(x).max()) for x in signals.values())
    if peak > 0.99:  # one gain for all keeps mix = s1 + noise and SNR
        signals = {k: x * np.float32(0.99 / peak) for k, x in signals.items()}
    return _Mixture(
        signals, n_min, n_max, snr, room_id, room, mic, src, h_full, h_dir, seg,
        used_files,
    )  # fmt: skip


def _metadata_row(name: str, speaker: str, split: str, mix: _Mixture) -> str:
    """The mixture's line of ``metadata/mix_single_<split>.tsv``."""
    values = (
        name,
        speaker,
        ",".join(p.stem for p in mix.speech_files),
        mix.noise.kind,
        mix.noise.category,
        mix.noise.label,
        mix.noise.details,
        f"{mix.snr:.4f}",
        f"{split}{mix.room_id}",
        *mix.room.dims,
        mix.room.rt60,
        f"{measured_rt60(mix.h_full):.3f}",
        ",".join(f"{c:.3f}" for c in mix.mic),
        ",".join(f"{c:.3f}" for c in mix.source),
        f"{np.linalg.norm(mix.source - mix.mic):.3f}",
        int(np.argmax(np.abs(mix.h_direct))),
        mix.len_min,
        mix.len_max,
    )
    return "\t".join(str(v) for v in values)


def _write_split(
    tmp: Path,
    split: str,
    size: int,
    speakers: list[str],
    makers: dict[str, UtteranceMaker],
    codes: dict[str, str],
    src: sources.DemoSources,
    noise_files: dict[str, list[Path]],
    seed: int,
    cache: Path,
) -> None:
    """Writes one split's mixtures (both versions, all kinds) and its metadata.

    Args:
        tmp: Scratch corpus directory.
        split: ``tr``, ``cv`` or ``tt``.
        size: Number of mixtures.
        speakers: Source speakers of the split.
        makers: Source speaker -> utterance maker (shared by tr and cv).
        codes: Source speaker -> speaker code in the file names.
        src: Speech and noise sources.
        noise_files: Noise source -> recordings of this split.
        seed: Corpus seed.
        cache: Debian package cache (noise paths are logged relative to it).
    """
    k = SPLITS.index(split)
    rng = np.random.default_rng([seed, 100 + k])
    rooms = [draw_room(rng) for _ in range(max(2, math.ceil(size / 10)))]
    noise_maker = NoiseMaker(
        noise_files,
        SR,
        np.random.default_rng([seed, 200 + k]),
        kinds=NOISE_KINDS,
        babble_speech={s: src.speakers[s] for s in speakers},
        root=cache,
    )
    counts = dict.fromkeys(speakers, 0)
    meta = [METADATA_HEADER]
    for i in tqdm(range(size), desc=f"WHAMR! demo ({split})", unit="mix"):
        spk = speakers[i % len(speakers)]
        counts[spk] += 1
        rir_seed = int(np.random.default_rng([seed, k, i]).integers(2**31))
        mix = _simulate(makers[spk], rooms, rng, rir_seed, noise_maker, spk)
        name = f"{codes[spk]}c{counts[spk]:04d}_{mix.snr:.4f}"
        for version, n in (("min", mix.len_min), ("max", mix.len_max)):
            for kind in KINDS:
                path = tmp / "wav16k" / version / split / kind / f"{name}.wav"
                write_wav(path, mix.signals[kind][:n], SR)
        meta.append(_metadata_row(name, spk, split, mix))
    meta_path = tmp / "metadata" / f"mix_single_{split}.tsv"
    meta_path.parent.mkdir(exist_ok=True)
    meta_path.write_text("\n".join(meta) + "\n")


def _sources_md(
    src: sources.DemoSources,
    codes: dict[str, str],
    people: dict[str, list[str]],
    sizes: dict[str, int],
    noise_split: dict[str, dict[str, list[Path]]],
    seed: int,
) -> str:
    """SOURCES.md: packages, speakers and the generation conventions."""
    rows = [
        (code, src.speaker_label(s), ", ".join(k for k in SPLITS if s in people[k]))
        for s, code in codes.items()
    ]
    notes = [
        f"{sizes['tr']}/{sizes['cv']}/{sizes['tt']} mixtures (tr/cv/tt), seed {seed}.",
        *CONVENTIONS,
        utterance_note(UTT_SECONDS),
        *sources.noise_split_notes(noise_split),
    ]
    return sources_markdown("WHAMR! demo", src.provenance, rows, notes)


def build_whamr_demo(
    out_dir: str | os.PathLike,
    n_tr: int = SIZES["small"][0],
    n_cv: int = SIZES["small"][1],
    n_tt: int = SIZES["small"][2],
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    speech_dir: str | os.PathLike | None = None,
    noise_dir: str | os.PathLike | None = None,
    test_speakers: list[str] | None = None,
    voices: str = SIZES["small"][3],
) -> Path:
    """Writes a WHAMR!-style single-speaker demo corpus (skips if already built).

    Args:
        out_dir: Corpus directory (created atomically).
        n_tr: Training mixtures.
        n_cv: Validation mixtures.
        n_tt: Test mixtures (held-out people, rooms and noise).
        seed: Random seed; the same seed gives the same corpus.
        cache_dir: Debian package cache.
        speech_dir: Use this folder of clean speech instead of Debian voices.
        noise_dir: Use this folder of noise instead of Debian noise packages.
        test_speakers: Source speakers held out for ``tt`` (default as in
            :func:`espnet_cffma.demo.sources.split_speakers`; with many
            people, :func:`split_people` adds some).
        voices: Debian speech: ``many`` (Asterisk's and KDE's voices) or
            ``asterisk`` (Asterisk's four people only).

    Returns:
        The corpus directory.
    """
    sizes = {"tr": n_tr, "cv": n_cv, "tt": n_tt}
    if min(sizes.values()) < 1:
        raise ValueError(f"every split needs at least one mixture, got {sizes}")
    out = Path(out_dir)
    params = corpus_params(
        "whamr_demo",
        {f"n_{k}": v for k, v in sizes.items()},
        seed,
        speech_dir,
        noise_dir,
        test_speakers,
    )
    params["voices"] = voices
    if corpus_is_complete(out, params):
        logger.info("WHAMR! demo already complete in %s", out)
        return out
    t0 = time.time()
    src = sources.load_sources(cache_dir, speech_dir, noise_dir, voices)
    train_spk, test_spk = sources.split_speakers(list(src.speakers), test_speakers, 2)
    if not train_spk:
        raise ValueError(f"no training speakers left after holding out {test_spk}")
    n_files = {s: len(files) for s, files in src.speakers.items()}
    people = split_people(train_spk, test_spk, n_files)
    codes = _speaker_codes(people)
    noise_split = sources.split_noise_disjoint(src.noises, NOISE_FRACTIONS)
    cache = sources.cache_root(cache_dir)
    # One maker per speaker across splits, so tr and cv never share prompts.
    makers = {
        s: UtteranceMaker(
            src.speakers[s],
            np.random.default_rng([seed, 7, j]),
            SR,
            *UTT_SECONDS,
            **utterance_options(voices, speech_dir),
        )
        for j, s in enumerate(codes)
    }
    with building(out, params) as tmp:
        for split in SPLITS:
            _write_split(
                tmp, split, sizes[split], people[split], makers, codes, src,
                noise_split[split], seed, cache,
            )  # fmt: skip
        (tmp / "noise_list.tsv").write_text(sources.noise_list_tsv(noise_split))
        text = _sources_md(src, codes, people, sizes, noise_split, seed)
        (tmp / "SOURCES.md").write_text(text)
    logger.info("WHAMR! demo written to %s in %.1f s", out, time.time() - t0)
    return out


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        description="Build a small WHAMR!-style single-speaker corpus from real "
        "speech and noise found in Debian packages (or your own folders), "
        "reverberated with pyroomacoustics."
    )
    parser.add_argument("--out", required=True, help="corpus directory")
    add_size_arguments(parser, SIZES, "tr, cv, tt, voices")
    parser.add_argument("--n_tr", type=int, help="training mixtures")
    parser.add_argument("--n_cv", type=int, help="validation mixtures")
    parser.add_argument("--n_tt", type=int, help="test mixtures")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speech_dir", help="folder of clean speech (wav/flac)")
    parser.add_argument("--noise_dir", help="folder of noise recordings")
    parser.add_argument("--cache_dir", help="Debian package cache directory")
    parser.add_argument(
        "--test_speakers", help="comma-separated source speakers held out for tt"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    n_tr, n_cv, n_tt, voices = SIZES[size_preset(args.size)]
    try:
        build_whamr_demo(
            args.out,
            n_tr=args.n_tr or n_tr,
            n_cv=args.n_cv or n_cv,
            n_tt=args.n_tt or n_tt,
            seed=args.seed,
            cache_dir=args.cache_dir,
            speech_dir=args.speech_dir,
            noise_dir=args.noise_dir,
            test_speakers=args.test_speakers.split(",") if args.test_speakers else None,
            voices=args.voices or voices,
        )
    except (sources.DemoSourceError, FileExistsError, ValueError) as err:
        parser.exit(1, f"error: {err}\n")


if __name__ == "__main__":
    main()
