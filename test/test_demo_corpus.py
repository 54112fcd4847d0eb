"""Demo corpora: Debian sources, VoiceBank-DEMAND and WHAMR! layouts.

Most of these tests fetch real Debian packages (about 230 MB, once) into the
cache named by CFFMA_DEMO_CACHE (default ~/.cache/espnet_cffma/debian), shared
by every test session, and build corpora from them: they are marked ``slow``.
"""

import ast
import csv
import hashlib
import re
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from speech_clips import real_speech_clips

from espnet_cffma.demo import corpus, rooms, sources, voicebank, whamr
from espnet_cffma.demo.audio import load_audio
from espnet_cffma.demo.signals import colored_noise, scale_noise_to_snr, snr_db
from espnet_cffma.resampling import resample

VB_DIRS = [d for pair in voicebank.DIRS.values() for d in pair]


def _tsv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def speech():
    return sources.fetch_speech()


@pytest.fixture(scope="session")
def noises():
    return sources.fetch_noises()


@pytest.fixture(scope="session")
def vb(tmp_path_factory, speech, noises):
    return voicebank.build_voicebank_demo(
        tmp_path_factory.mktemp("vb") / "corpus", n_train=12, n_test=4, voices="many"
    )


@pytest.fixture(scope="session")
def wh(tmp_path_factory, speech, noises):
    return whamr.build_whamr_demo(
        tmp_path_factory.mktemp("wh") / "corpus", n_tr=6, n_cv=2, n_tt=4, voices="many"
    )


# ---------------------------------------------------------------- sources


@pytest.mark.slow
def test_fetch_speech_cached_and_decodes(speech):
    assert set(speech) == set(sources.VOICES)
    for voice, files in speech.items():
        assert len(files) > 300, voice
        assert all(f.suffix == ".g722" and f.exists() for f in files)
        assert not any("silence" in f.parts or f.stem == "beep" for f in files)
        marker = sources.cache_root() / sources.VOICES[voice].package / ".complete.json"
        assert marker.exists()
    t0 = time.time()
    again = sources.fetch_speech()
    assert time.time() - t0 < 2.0  # cached: no apt-get
    assert again == speech
    x = load_audio(speech["en"][0])
    assert x.dtype == np.float32 and x.ndim == 1
    assert 0.01 < np.sqrt(np.mean(x**2)) < 0.5  # decoded speech, not noise/zeros
    # en and es are both Allison Smith: one speaker.
    assert sorted(sources.group_by_speaker(speech)) == [
        "allison",
        "carlo",
        "ivrvoice_ru",
        "june",
    ]


def test_word_recordings_group_languages_into_people():
    assert sources.word_speaker("en") == sources.word_speaker("en_GB") == "kde_en"
    assert sources.word_speaker("pt_BR") == "kde_pt"
    assert sources.word_speaker("sr@ijekavianlatin") == "kde_sr"
    assert sources.word_speaker("nb") == sources.word_speaker("nn") == "kde_no"
    assert sources.word_speaker("fr") != sources.word_speaker("de")


@pytest.mark.slow
def test_fetch_word_recordings_many_people_no_duplicates():
    words = sources.fetch_word_recordings()
    assert len(words) >= 25 and all(k.startswith("kde_") for k in words)
    files = [f for fs in words.values() for f in fs]
    assert len(files) == len(set(files)) > 2000
    # Serbian script variants hold the same recordings: kept once, by content.
    digests = [hashlib.sha1(f.read_bytes()).hexdigest() for f in files]
    assert len(digests) == len(set(digests))
    assert all(f.stat().st_size > 0 for f in files)
    for speaker, fs in words.items():
        for f in fs:
            folder = f.parent.name if "ktuberling" in f.parts[-4] else None
            if folder is not None:
                assert sources.word_speaker(folder) == speaker, f
    label = sources.word_speaker_label("kde_fr", words["kde_fr"])
    assert "ktuberling fr" in label and "Ludovic Grossard" in label
    assert sources.LICENSES["ktuberling-data"] == "GPL-2+"
    # No empty prompt among Asterisk's either (one en file is empty).
    prompts = [f for fs in sources.fetch_speech().values() for f in fs]
    assert all(f.stat().st_size > 0 for f in prompts)


def test_voicebank_size_presets_grow():
    assert list(voicebank.SIZES) == list(whamr.SIZES) == list(corpus.SIZE_NAMES)
    (a_tr, a_te, _), (b_tr, b_te, _), (c_tr, c_te, c_voices) = (
        voicebank.SIZES[k] for k in ("tiny", "small", "large")
    )
    assert a_tr < b_tr < c_tr and a_te < b_te < c_te
    assert c_voices == "many"
    # The large training set is hours of audio (utterances last 1.5-4 s).
    assert c_tr * 1.5 / 3600 >= 1.0
    (a, *_), (b, *_), (c, *_, wh_voices) = whamr.SIZES.values()
    assert a < b < c and c * 2.0 / 3600 >= 0.5 and wh_voices == "many"
    # The first releases' names still work; unknown names are refused.
    assert corpus.size_preset("minimal") == "tiny"
    assert corpus.size_preset("default") == "small"
    with pytest.raises(ValueError, match="unknown demo size"):
        corpus.size_preset("huge")


def test_whamr_people_split():
    n_files = {f"p{i:02d}": 100 - i for i in range(12)}
    train, test = list(n_files)[:10], list(n_files)[10:]
    people = whamr.split_people(train, test, n_files)
    assert not set(people["tr"]) & set(people["cv"])
    assert not (set(people["tr"]) | set(people["cv"])) & set(people["tt"])
    assert set(test) <= set(people["tt"])
    assert {"p00", "p01"} <= set(people["tr"])  # the richest stay in training
    assert sorted(people["tr"] + people["cv"] + people["tt"]) == sorted(n_files)
    assert people == whamr.split_people(train, test, n_files)
    # Four people (Asterisk's): tr and cv share the training people.
    few = whamr.split_people(train[:2], test, n_files)
    assert few == {"tr": train[:2], "cv": train[:2], "tt": test}


@pytest.mark.slow
def test_real_speech_clips():
    clips = real_speech_clips(3, 1.5)
    assert len(clips) == 3
    for c in clips:
        assert c.shape == (24000,) and c.dtype == np.float32
        assert np.all(np.isfinite(c)) and np.abs(c).max() <= 1.0
        assert np.sqrt(np.mean(c**2)) > 0.01
    assert not np.allclose(clips[0], clips[1])
    np.testing.assert_array_equal(clips[0], real_speech_clips(1, 1.5)[0])


@pytest.mark.slow
def test_fetch_noises_and_disjoint_split(noises):
    assert set(noises) == set(sources.NOISE_SOURCES)
    # LinCity-NG's city sounds, without its interface clicks.
    lincity = {p.stem for p in noises["lincity"]}
    assert {"TraficHigh1", "SportsCroud1", "Water1"} <= lincity
    assert not {"Click", "WindowOpen"} & lincity
    assert sources.LICENSES["lincity-ng-data"].startswith("GPL-2+")
    for files in noises.values():
        assert files
        for f in files:
            info = sf.info(str(f))
            assert info.frames > 0 and info.samplerate >= 8000
    split = sources.split_noise_files(noises, {"train": 0.75, "test": 0.25})
    for source in noises:
        train = {sources.noise_group(p) for p in split["train"][source]}
        test = {sources.noise_group(p) for p in split["test"][source]}
        assert train and test and not train & test
        assert len(split["train"][source]) + len(split["test"][source]) == len(
            noises[source]
        )


def test_noise_group_and_signals():
    assert sources.noise_group(Path("a/birds2.ogg")) == "birds"
    assert sources.noise_group(Path("env_sounds_water.3.ogg")) == "env_sounds_water"
    assert sources.noise_group(Path("loop_amen_full.flac")) == "loop_amen"
    assert sources.noise_group(Path("loop_3d_printer.flac")) == "loop_3d_printer"
    rng = np.random.default_rng(0)
    pink = colored_noise(16000, "pink", rng)
    psd = np.abs(np.fft.rfft(pink)) ** 2
    assert psd[100:1000].mean() > 5 * psd[4000:8000].mean()  # falls with frequency
    clean = rng.standard_normal(1000).astype(np.float32)
    noise = scale_noise_to_snr(clean, pink[:1000], 7.5)
    assert abs(snr_db(clean, noise) - 7.5) < 1e-4


def test_split_noise_disjoint_refuses_an_empty_split():
    noises = {"outdoor": [Path("rain1.ogg"), Path("rain2.ogg"), Path("wind.ogg")]}
    split = sources.split_noise_disjoint(noises, {"train": 0.5, "test": 0.5})
    groups = {n: {sources.noise_group(p) for p in split[n]["outdoor"]} for n in split}
    assert groups["train"] and groups["test"] and not groups["train"] & groups["test"]
    assert groups["train"] | groups["test"] == {"rain", "wind"}
    assert sources.noise_split_notes(split)[0].startswith("train noise recordings: ")
    with pytest.raises(sources.DemoSourceError, match="too few noise recordings"):
        sources.split_noise_disjoint(
            {"fan": [Path("fan.ogg")]}, {"tr": 0.6, "cv": 0.15, "tt": 0.25}
        )


def test_load_audio_mixes_down_resamples_and_names_bad_files(tmp_path):
    stereo = np.stack([np.full(22050, 0.2), np.full(22050, 0.4)], axis=1)
    sf.write(str(tmp_path / "a.wav"), stereo, 22050)
    x = load_audio(tmp_path / "a.wav")
    assert x.dtype == np.float32 and abs(len(x) - 16000) <= 2
    assert abs(float(np.median(x)) - 0.3) < 1e-3
    (tmp_path / "bad.wav").write_text("not audio")
    with pytest.raises(sources.DemoSourceError, match="bad.wav"):
        load_audio(tmp_path / "bad.wav")


@pytest.mark.slow
def test_missing_package_gives_clear_error(tmp_path):
    with pytest.raises(sources.DemoSourceError) as err:
        sources.fetch_package("cffma-no-such-package", cache_dir=tmp_path)
    msg = str(err.value)
    assert "cffma-no-such-package" in msg and "--demo_speech" in msg
    assert not (tmp_path / "cffma-no-such-package").exists()


def test_reserved_packages_are_refused(tmp_path):
    for package in ("0ad-data", "pocketsphinx-testdata", "fillets-ng-data"):
        with pytest.raises(sources.DemoSourceError, match="reserved"):
            sources.fetch_package(package, cache_dir=tmp_path)
    used = {v.package for v in sources.VOICES.values()}
    used |= {s.package for s in sources.NOISE_SOURCES.values()}
    used |= {w.package for w in sources.WORD_RECORDINGS.values()}
    assert not used & sources.RESERVED_PACKAGES
    assert not list(tmp_path.iterdir())


def test_outdated_corpus_is_rebuilt_in_place(tmp_path):
    out = tmp_path / "corpus"
    params = corpus.corpus_params("x_demo", {"n": 1}, 0, None, None, None)
    with corpus.building(out, {**params, "format": 1}) as tmp:
        (tmp / "old.txt").write_text("old")
    assert corpus.corpus_is_complete(out, {**params, "format": 1})
    assert not corpus.corpus_is_complete(out, params)  # older format: rebuild
    with corpus.building(out, params) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == [corpus.MARKER, "new.txt"]
    assert corpus.corpus_is_complete(out, params)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == [
        "corpus"
    ]
    with pytest.raises(FileExistsError, match="other settings"):
        corpus.corpus_is_complete(out, {**params, "seed": 1})
    with pytest.raises(FileExistsError, match="other settings"):
        corpus.corpus_is_complete(out, {**params, "corpus": "y_demo", "format": 3})


# ---------------------------------------------------------------- own folders


def _write_speech(root: Path, names: list[str], sr: int = 22050) -> None:
    clips = real_speech_clips(len(names), 2.0, voice="fr")
    for name, clip in zip(names, clips):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), resample(clip, 16000, sr), sr)


@pytest.mark.slow
def test_speech_from_dir(tmp_path):
    nested = tmp_path / "nested"
    _write_speech(nested, [f"{s}/u{i}.wav" for s in "abcd" for i in range(2)])
    spk = sources.speech_from_dir(nested)
    assert list(spk) == ["a", "b", "c", "d"] and all(len(v) == 2 for v in spk.values())
    flat = tmp_path / "flat"
    _write_speech(flat, [f"u{i}.flac" for i in range(9)])
    pseudo = sources.speech_from_dir(flat)
    assert list(pseudo) == ["spk1", "spk2", "spk3", "spk4"]
    assert sum(len(v) for v in pseudo.values()) == 9
    x = load_audio(pseudo["spk1"][0])  # resampled from 22.05 kHz
    assert abs(len(x) - 32000) <= 2

    (tmp_path / "empty").mkdir()
    with pytest.raises(sources.DemoSourceError, match="no .wav"):
        sources.speech_from_dir(tmp_path / "empty")
    with pytest.raises(sources.DemoSourceError, match="does not exist"):
        sources.speech_from_dir(tmp_path / "missing")
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    with pytest.raises(sources.DemoSourceError, match="bad.wav"):
        load_audio(bad)

    out = voicebank.build_voicebank_demo(
        tmp_path / "vb_own", n_train=4, n_test=2, speech_dir=nested
    )
    meta = _tsv(out / "demo_metadata.tsv")
    train = {r["speaker"] for r in meta if r["split"] == "train"}
    test = {r["speaker"] for r in meta if r["split"] == "test"}
    assert train == {"a", "b"} and test == {"c", "d"}
    assert str(nested) in (out / "SOURCES.md").read_text()


# ---------------------------------------------------------------- VoiceBank


@pytest.mark.slow
def test_voicebank_layout_names_rates(vb):
    for d in VB_DIRS:
        assert (vb / d).is_dir(), d
    for split, (clean_dir, noisy_dir) in voicebank.DIRS.items():
        clean = sorted(p.name for p in (vb / clean_dir).glob("*.wav"))
        noisy = sorted(p.name for p in (vb / noisy_dir).glob("*.wav"))
        assert clean == noisy
        assert len(clean) == {"train": 12, "test": 4}[split]
        assert all(re.fullmatch(r"p\d{3}_\d{3}\.wav", n) for n in clean)
        logged = [
            ln.split()[0]
            for ln in (vb / voicebank.LOGS[split]).read_text().splitlines()
        ]
        assert sorted(f"{u}.wav" for u in logged) == clean
        for name in clean:
            for d in (clean_dir, noisy_dir):
                info = sf.info(str(vb / d / name))
                assert (info.samplerate, info.channels, info.subtype) == (
                    48000,
                    1,
                    "PCM_16",
                )
                assert 1.4 <= info.duration <= 4.1, (name, info.duration)
    assert "CC-BY-SA-3.0" in (vb / "SOURCES.md").read_text()


@pytest.mark.slow
def test_voicebank_speakers_disjoint(vb):
    train_ids = {p.name[:4] for p in (vb / "clean_trainset_28spk_wav").glob("*.wav")}
    test_ids = {p.name[:4] for p in (vb / "clean_testset_wav").glob("*.wav")}
    assert {"p226", "p287"} <= train_ids
    assert test_ids == {"p232", "p257"}
    meta = _tsv(vb / "demo_metadata.tsv")
    train = {r["speaker"] for r in meta if r["split"] == "train"}
    test = {r["speaker"] for r in meta if r["split"] == "test"}
    assert train and test and not train & test
    # Many people: 12 training utterances, 12 people, most of them KDE voices.
    assert len(train) == 12 and sum(s.startswith("kde_") for s in train) >= 8
    ids = {r["utt"][:4]: r["speaker"] for r in meta}
    assert len(ids) == len(set(ids.values()))  # one corpus id per person
    assert "GPL-2+" in (vb / "SOURCES.md").read_text()


@pytest.mark.slow
def test_voicebank_snr_achieved(vb):
    for split, (clean_dir, noisy_dir) in voicebank.DIRS.items():
        allowed = voicebank.TRAIN_SNRS if split == "train" else voicebank.TEST_SNRS
        for line in (vb / voicebank.LOGS[split]).read_text().splitlines():
            utt, _, snr = line.split()
            assert float(snr) in allowed
            clean, _ = sf.read(str(vb / clean_dir / f"{utt}.wav"))
            noisy, _ = sf.read(str(vb / noisy_dir / f"{utt}.wav"))
            measured = snr_db(clean, noisy - clean)
            assert abs(measured - float(snr)) < 0.01, (utt, snr, measured)


@pytest.mark.slow
def test_voicebank_reverb_share(vb, tmp_path):
    out = voicebank.build_voicebank_demo(
        tmp_path / "rv", n_train=12, n_test=4, voices="many", reverb_share=0.5
    )
    rows = _tsv(out / "demo_metadata.tsv")
    rooms_of = {r["utt"]: r["reverb"] for r in rows}
    assert {r["reverb"] == "-" for r in rows} == {True, False}  # some of each
    assert "direct path only" in (out / "SOURCES.md").read_text()
    for r in rows:
        clean_dir, noisy_dir = voicebank.DIRS[r["split"]]
        clean, _ = sf.read(str(out / clean_dir / f"{r['utt']}.wav"))
        noisy, _ = sf.read(str(out / noisy_dir / f"{r['utt']}.wav"))
        dry_clean, _ = sf.read(str(vb / clean_dir / f"{r['utt']}.wav"))
        if rooms_of[r["utt"]] == "-":
            # Rooms draw from their own generator: dry utterances are those of
            # the dry corpus, sample for sample.
            dry_noisy, _ = sf.read(str(vb / noisy_dir / f"{r['utt']}.wav"))
            np.testing.assert_array_equal(clean, dry_clean)
            np.testing.assert_array_equal(noisy, dry_noisy)
            continue
        rt60 = float(rooms_of[r["utt"]].split(",")[0].removeprefix("rt60="))
        assert 0.2 <= rt60 <= 1.0
        assert not np.array_equal(clean, dry_clean)
        # noisy - clean holds the reverberation on top of the noise ...
        assert snr_db(clean, noisy - clean) < float(r["snr_db"]) - 0.5
        # ... and the clean target is the direct path of the noisy speech.
        assert abs(rooms.direct_path_lag(clean, noisy, 2400)) <= 2  # 48 kHz
    with pytest.raises(ValueError, match="reverb_share"):
        voicebank.build_voicebank_demo(tmp_path / "bad", reverb_share=1.5)


@pytest.mark.slow
def test_voicebank_noise_disjoint(vb):
    groups = {"train": set(), "test": set()}
    for r in _tsv(vb / "demo_metadata.tsv"):
        if r["noise_kind"] == "file":
            path = Path(ast.literal_eval(r["details"])["file"])
            groups[r["split"]].add((path.parts[0], sources.noise_group(path)))
    assert groups["train"] and groups["test"]
    assert not groups["train"] & groups["test"]


@pytest.mark.slow
def test_noise_categories_recorded(vb, noises):
    for files in noises.values():
        for f in files:
            assert sources.noise_category(f) in sources.NOISE_CATEGORIES, f
    listed = _tsv(vb / "noise_list.tsv")
    assert {r["split"] for r in listed} == {"train", "test"}
    assert len({r["category"] for r in listed if r["split"] == "train"}) >= 4
    by_recording = {r["recording"]: r for r in listed}
    for r in _tsv(vb / "demo_metadata.tsv"):
        if r["noise_kind"] == "file":
            path = Path(ast.literal_eval(r["details"])["file"])
            entry = by_recording[sources.noise_group(path)]
            assert entry["category"] == r["noise_category"]
            assert entry["split"] == r["split"]
        else:
            assert r["noise_category"] in ("babble", "stationary")


@pytest.mark.slow
def test_voicebank_idempotent_and_deterministic(vb, tmp_path):
    before = {p: p.stat().st_mtime_ns for p in vb.rglob("*.wav")}
    t0 = time.time()
    voicebank.build_voicebank_demo(vb, n_train=12, n_test=4, voices="many")
    assert time.time() - t0 < 1.0
    assert before == {p: p.stat().st_mtime_ns for p in vb.rglob("*.wav")}
    with pytest.raises(FileExistsError, match="other settings"):
        voicebank.build_voicebank_demo(vb, n_train=12, n_test=4, seed=1, voices="many")
    other = voicebank.build_voicebank_demo(
        tmp_path / "again", n_train=12, n_test=4, voices="many"
    )
    assert _digest(other) == _digest(vb)
    assert not list(tmp_path.glob(".again.building*"))


# ---------------------------------------------------------------- WHAMR!


@pytest.mark.slow
def test_whamr_layout(wh):
    names = None
    for version in ("min", "max"):
        for split, n in (("tr", 6), ("cv", 2), ("tt", 4)):
            for kind in whamr.KINDS:
                d = wh / "wav16k" / version / split / kind
                found = sorted(p.name for p in d.glob("*.wav"))
                assert len(found) == n, d
                if split == "tt" and version == "min" and kind == "noise":
                    names = found
                for name in found[:2]:
                    info = sf.info(str(d / name))
                    assert (info.samplerate, info.channels) == (16000, 1)
    assert all(re.fullmatch(r"s\d\dc\d{4}_-?\d+\.\d{4}\.wav", n) for n in names)


def _signals(wh: Path, version: str, split: str, name: str) -> dict:
    return {
        k: sf.read(str(wh / "wav16k" / version / split / k / name))[0]
        for k in whamr.KINDS
    }


@pytest.mark.slow
def test_whamr_alignment_snr_min_max(wh):
    lsb = 1 / 32768
    for split in ("tr", "tt"):
        for path in sorted((wh / "wav16k/min" / split / "s1_anechoic").glob("*.wav")):
            lo = _signals(wh, "min", split, path.name)
            hi = _signals(wh, "max", split, path.name)
            for k in whamr.KINDS:
                np.testing.assert_array_equal(hi[k][: len(lo[k])], lo[k])
            assert len(hi["noise"]) > len(lo["noise"])
            for mix, s1 in (
                ("mix_single_anechoic", "s1_anechoic"),
                ("mix_single_reverb", "s1_reverb"),
            ):
                assert np.abs(hi[mix] - hi[s1] - hi["noise"]).max() <= 2 * lsb
            # Direct path of the anechoic target on that of the reverberant one.
            lag = rooms.direct_path_lag(lo["s1_anechoic"], lo["s1_reverb"], 800)
            assert abs(lag) <= 16, (path.name, lag)  # 1 ms at 16 kHz
            snr = float(path.stem.split("_")[1])
            assert whamr.SNR_RANGE[0] <= snr <= whamr.SNR_RANGE[1]
            assert abs(snr_db(lo["s1_anechoic"], lo["noise"]) - snr) < 0.05
            assert snr_db(lo["s1_reverb"], lo["s1_reverb"] - lo["s1_anechoic"]) < 15


def test_whamr_rir_direct_path():
    rng = np.random.default_rng(3)
    for i in range(3):
        room = rooms.draw_room(rng)
        mic, src = rooms.draw_positions(room, rng)
        assert 0.69 < np.linalg.norm(src - mic) < 2.01
        h_full, h_dir = rooms.room_impulse_responses(room, mic, src, seed=i)
        peak = int(np.argmax(np.abs(h_dir)))
        delay = np.linalg.norm(src - mic) / 343.0 * 16000 + 40
        assert abs(peak - delay) <= 1.5
        assert int(np.argmax(np.abs(h_full[: peak + 8]))) == peak
        assert len(h_full) > 0.1 * room.rt60 * 16000
        again, _ = rooms.room_impulse_responses(room, mic, src, seed=i)
        np.testing.assert_array_equal(again, h_full)  # seeded ray tracing


@pytest.mark.slow
def test_whamr_splits_disjoint(wh):
    meta = {s: _tsv(wh / "metadata" / f"mix_single_{s}.tsv") for s in whamr.SPLITS}
    people = {s: {r["speaker"] for r in meta[s]} for s in whamr.SPLITS}
    # With many voices, tr, cv and tt hold disjoint people.
    assert all(people.values())
    assert not people["tr"] & people["cv"]
    assert not (people["tr"] | people["cv"]) & people["tt"]
    # KDE's word lists are joined with pauses (see utterances.WORD_LIST_OPTIONS).
    assert "random 0.1-0.4 s pause" in (wh / "SOURCES.md").read_text()
    assert (wh / "noise_list.tsv").exists()

    def rooms(split):
        return {
            (r["length"], r["width"], r["height"], r["rt60_target"])
            for r in meta[split]
        }

    assert not rooms("tt") & (rooms("tr") | rooms("cv"))

    def noise_groups(split):
        return {
            sources.noise_group(Path(ast.literal_eval(r["noise_details"])["file"]))
            for r in meta[split]
            if r["noise_kind"] == "file"
        }

    assert not noise_groups("tt") & noise_groups("tr")
    assert "CC0-1.0" in (wh / "SOURCES.md").read_text()
