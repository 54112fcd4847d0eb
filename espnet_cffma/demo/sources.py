"""Real speech and noise for the demo corpora, fetched from Debian packages.

Packages are downloaded with ``apt-get download`` (no installation, no root
needed) into a cache directory and unpacked there with ``dpkg-deb``; only the
audio (and the package's copyright file) is kept. The cache is
``~/.cache/espnet_cffma/debian`` unless the ``cache_dir`` argument or the
``CFFMA_DEMO_CACHE`` environment variable says otherwise.

Speech: Asterisk's studio voice prompts in G.722 (16 kHz wideband), one voice
per language package. Two packages (en, es) were recorded by the same person,
so speakers are *people*, not packages: :data:`VOICES` records who spoke what,
and train/test splits are made over people. With ``voices="many"``, KDE's word
recordings join them (:data:`WORD_RECORDINGS`: KTuberling's object names and
KLettres' letters and syllables, GPL-2+), one speaker per language: about 30
more people, in about 30 languages.

Noise: CC0 ambient and loop samples from Sonic Pi, Wesnoth's ambient sounds
(GPL-2+), Minetest's environment sounds (CC-BY-SA-3.0), LinCity-NG's city
sounds (GPL-2+; traffic, crowds, industry, water). Train and test noise
files are kept disjoint at the level of recording groups (numbered variants of
one recording, e.g. ``birds1``/``birds2``, fall in the same group).

Anyone may instead use a folder of their own speech (:func:`speech_from_dir`)
or noise (:func:`noise_from_dir`).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from espnet_cffma.demo.audio import AUDIO_SUFFIXES, DemoSourceError

logger = logging.getLogger(__name__)

_COPYRIGHT = "usr/share/doc/*/copyright"
_ALTERNATIVE_HINT = (
    "To build the demo from your own data instead, pass a folder of clean speech "
    "(wav/flac, one sub-folder per speaker): recipes take `--demo_speech DIR`, "
    "`python -m espnet_cffma.demo.voicebank` / `.whamr` take `--speech_dir DIR` "
    "(and `--noise_dir DIR` for a folder of noise recordings)."
)


@dataclass(frozen=True)
class Voice:
    """One voice package of Asterisk's core sounds.

    Attributes:
        package: Debian package name.
        folder: Its directory under ``usr/share/asterisk/sounds``.
        speaker: Identifier of the person (shared by packages the same person
            recorded).
        credit: Who recorded it (from the package's copyright file).
        gender: ``"f"`` or ``"m"``.
        language: BCP-47 language tag.
        licence: SPDX-style licence identifier.
    """

    package: str
    folder: str
    speaker: str
    credit: str
    gender: str
    language: str
    licence: str


VOICES: dict[str, Voice] = {
    "en": Voice(
        "asterisk-core-sounds-en-g722",
        "en_US_f_Allison",
        "allison",
        "Allison Smith",
        "f",
        "en-US",
        "CC-BY-SA-3.0",
    ),
    "es": Voice(
        "asterisk-core-sounds-es-g722",
        "es_MX_f_Allison",
        "allison",
        "Allison Smith",
        "f",
        "es-MX",
        "CC-BY-SA-3.0",
    ),
    "fr": Voice(
        "asterisk-core-sounds-fr-g722",
        "fr_CA_f_June",
        "june",
        "June Wallack",
        "f",
        "fr-CA",
        "CC-BY-SA-3.0",
    ),
    "it": Voice(
        "asterisk-core-sounds-it-g722",
        "it_IT_m_Carlo",
        "carlo",
        "Carlo Flora",
        "m",
        "it-IT",
        "CC-BY-3.0",
    ),
    "ru": Voice(
        "asterisk-core-sounds-ru-g722",
        "ru_RU_f_IvrvoiceRU",
        "ivrvoice_ru",
        "ivrvoice.ru (provided by Maxim Topal)",
        "f",
        "ru-RU",
        "CC-BY-3.0",
    ),
}
# Held-out people for test sets: one male and one female voice stay in training.
DEFAULT_TEST_SPEAKERS = ("ivrvoice_ru", "june")

# Prompts that are tones, sound effects or silence, not speech.
_NOT_SPEECH = {
    "ascending-2tone",
    "descending-2tone",
    "beep",
    "beeperr",
    "confbridge-join",
    "confbridge-leave",
    "confbridge-leave-in",
    "confbridge-leave-out",
    "tt-monkeys",
}


@dataclass(frozen=True)
class WordRecordings:
    """A Debian package of recorded words, one folder per language.

    Attributes:
        package: Debian package name.
        root: The folder (relative to ``/``) holding one folder per language.
        licence: Licence of the recordings (the package's copyright file).
        credits: Language folder -> who recorded it, where the package's
            handbook says so.
    """

    package: str
    root: str
    licence: str
    credits: dict[str, str]


# From KLettres' handbook (Credits and License); KTuberling's names no speakers.
_KLETTRES_CREDITS = {
    "pt_BR": "Lindonjohnson Monte and Michelle Monte",
    "cs": "Eva Mikulčíková",
    "da": "Erik Kjaer Pedersen",
    "nl": "Geert Stams",
    "en": "Robert Wadley",
    "fr": "Ludovic Grossard",
    "de": "Helmut Kriege",
    "he": "Assaf Gorgon",
    "it": "Pietro Pasotti",
    "nds": "Manfred Wiese and Sönke Dibbern",
    "es": "Ana Belén Caballero and Juan Pedro Paredes",
}

WORD_RECORDINGS: dict[str, WordRecordings] = {
    "ktuberling": WordRecordings(
        "ktuberling-data", "usr/share/ktuberling/sounds", "GPL-2+", {}
    ),
    "klettres": WordRecordings(
        "klettres-data", "usr/share/klettres", "GPL-2+", _KLETTRES_CREDITS
    ),
}
# Languages whose folders may hold the same people: Norwegian Bokmål and
# Nynorsk; every Serbian script variant of KTuberling is one set of files.
_SAME_PEOPLE = {"nb": "no", "nn": "no"}


def word_speaker(folder: str) -> str:
    """The speaker key of a word-recording language folder.

    One speaker per *language*, across both packages and regional variants
    (``en``/``en_GB``, ``pt``/``pt_BR``, ``sr@latin``...): who recorded each
    folder is mostly unknown, so the grouping errs on the side of keeping one
    person out of two splits (a group may hold several people, but no person
    is in two groups unless they recorded two languages).
    """
    language = folder.split("@")[0].split("_")[0]
    return "kde_" + _SAME_PEOPLE.get(language, language)


@dataclass(frozen=True)
class NoiseSource:
    """A Debian package holding noise recordings.

    Attributes:
        package: Debian package name.
        keep: Paths (``fnmatch`` patterns, relative to ``/``) to unpack.
        select: Patterns (on the unpacked path) of the files used as noise.
        licence: Licence of the selected files.
        exclude: Patterns of selected files left out after all (interface
            clicks and the like).
    """

    package: str
    keep: tuple[str, ...]
    select: tuple[str, ...]
    licence: str
    exclude: tuple[str, ...] = ()


NOISE_SOURCES: dict[str, NoiseSource] = {
    "sonicpi": NoiseSource(
        "sonic-pi-samples",
        ("usr/share/sonic-pi/samples/*",),
        ("*/ambi_*.flac", "*/loop_*.flac", "*/vinyl_hiss.flac"),
        "CC0-1.0",
    ),
    "wesnoth": NoiseSource(
        "wesnoth-1.16-data",
        ("usr/share/games/wesnoth/*/sounds/ambient/*",),
        ("*.ogg",),
        "GPL-2+",
    ),
    "minetest": NoiseSource(
        "minetest-data",
        ("usr/share/games/minetest/*/sounds/*",),
        (
            "*/env_sounds_*.ogg",
            "*/fire_fire.*.ogg",
            "*/fire_large.ogg",
            "*/fire_small.ogg",
            "*/default_furnace_active.ogg",
            "*/carts_cart_moving.*.ogg",
            "*/default_water_footstep.*.ogg",
        ),
        "CC-BY-SA-3.0 (a few files CC0-1.0)",
    ),
    # City ambience of each building type: traffic, crowds, industry, water.
    # The copyright file: GPL-2+, sound effects dual-licensed GPL /
    # CC-BY-SA-2.0 (the Debian package uses the GPL).
    "lincity": NoiseSource(
        "lincity-ng-data",
        ("usr/share/games/lincity-ng/sounds/*",),
        ("*.wav",),
        "GPL-2+ (sound effects also CC-BY-SA-2.0)",
        # Interface clicks, and snippets under a second that would loop audibly.
        (
            "*/Click.wav",
            "*/Window*.wav",
            "*/Commune1.wav",
            "*/PowerLine1.wav",
            "*/Pottery2.wav",
            "*/Raze1.wav",
            "*/SubstationO*.wav",
        ),
    ),
}

#: Debian package -> licence of the audio the demo uses from it.
LICENSES: dict[str, str] = {v.package: v.licence for v in VOICES.values()}
LICENSES.update({s.package: s.licence for s in NOISE_SOURCES.values()})
LICENSES.update({w.package: w.licence for w in WORD_RECORDINGS.values()})

# Audio kept for independent evaluation (DESIGN.md section 7): no corpus the
# project builds may contain it, so the fetcher refuses these packages.
RESERVED_PACKAGES = frozenset(
    {
        "0ad-data",
        "pocketsphinx-testdata",
        "fillets-ng-data",
        "fillets-ng-data-cs",
        "fillets-ng-data-nl",
    }
)

_apt_updated = False


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Resolves the package cache directory.

    Args:
        cache_dir: Explicit directory; else ``$CFFMA_DEMO_CACHE``; else
            ``~/.cache/espnet_cffma/debian``.

    Returns:
        The directory (not created).
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("CFFMA_DEMO_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "espnet_cffma" / "debian"


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=900, check=False
        )
    except FileNotFoundError as err:
        raise DemoSourceError(
            f"`{cmd[0]}` is not available on this machine (the demo's speech and "
            f"noise come from Debian packages). {_ALTERNATIVE_HINT}"
        ) from err
    except subprocess.TimeoutExpired as err:
        raise DemoSourceError(
            f"`{' '.join(cmd)}` did not finish in 15 minutes. {_ALTERNATIVE_HINT}"
        ) from err


def _tail(text: str, n: int = 6) -> str:
    # apt prints a harmless sandbox warning when run as root; keep the rest.
    lines = [
        ln
        for ln in text.strip().splitlines()
        if ln.strip() and "unsandboxed as root" not in ln
    ]
    return " | ".join(lines[-n:]) or "(no message)"


def _apt_download(package: str, dest: Path) -> Path:
    """Downloads ``package``'s .deb into ``dest``; updates apt lists once if needed."""
    global _apt_updated
    update_error = ""
    res = _run(["apt-get", "download", package], cwd=dest)
    not_found = ("Unable to locate", "no installation candidate", "Can't select")
    if res.returncode != 0 and any(k in res.stderr for k in not_found):
        if not _apt_updated:
            # Stale or empty package lists are the usual cause: refresh once.
            logger.info("apt-get cannot find %s; running apt-get update", package)
            upd = _run(["apt-get", "update", "-qq"])
            _apt_updated = True
            if upd.returncode != 0:
                update_error = f"; `apt-get update` failed too: {_tail(upd.stderr)}"
                logger.warning("apt-get update failed: %s", _tail(upd.stderr))
            res = _run(["apt-get", "download", package], cwd=dest)
    if res.returncode != 0:
        raise DemoSourceError(
            f"cannot fetch Debian package {package!r}: `apt-get download {package}` "
            f"failed ({_tail(res.stderr)}{update_error}). {_ALTERNATIVE_HINT}"
        )
    debs = sorted(dest.glob(f"{package}_*.deb"))
    if not debs:
        raise DemoSourceError(
            f"cannot fetch Debian package {package!r}: apt-get reported success but "
            f"no {package}_*.deb appeared in {dest}. {_ALTERNATIVE_HINT}"
        )
    return debs[0]


def _extract(deb: Path, dest: Path, keep: tuple[str, ...] | None) -> int:
    """Unpacks the regular files of ``deb`` whose paths match ``keep``.

    Equivalent to ``dpkg-deb -x`` followed by deleting what is not kept, but
    streams the archive so large packages (Wesnoth: 190 MB) never hit the disk
    whole.
    """
    proc = subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(deb)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    n = 0
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|*") as tar:
            for member in tar:
                name = member.name.lstrip("./")
                if not member.isfile():
                    continue
                if keep is not None and not any(fnmatch.fnmatch(name, p) for p in keep):
                    continue
                member.name = name
                try:
                    tar.extract(member, dest, filter="data")
                except TypeError:  # Python without extraction filters
                    tar.extract(member, dest)
                n += 1
    finally:
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        rc = proc.wait()
    if rc != 0:
        raise DemoSourceError(
            f"cannot unpack {deb.name}: dpkg-deb failed ({_tail(err)}). "
            f"{_ALTERNATIVE_HINT}"
        )
    return n


def fetch_package(
    package: str,
    cache_dir: str | os.PathLike | None = None,
    keep: tuple[str, ...] | None = None,
) -> Path:
    """Downloads and unpacks a Debian package into the cache, once.

    Concurrent callers wait on a lock; an interrupted fetch leaves nothing
    behind (the tree is moved into place only when complete).

    Args:
        package: Debian package name.
        cache_dir: Cache directory (see :func:`cache_root`).
        keep: ``fnmatch`` patterns of paths (relative to ``/``) to keep; the
            copyright file is always kept. ``None`` keeps everything.

    Returns:
        Root of the unpacked tree (``<cache>/<package>``).

    Raises:
        DemoSourceError: When apt-get or dpkg-deb is missing or fails, or the
            package is one of :data:`RESERVED_PACKAGES`.
    """
    from filelock import FileLock

    if package in RESERVED_PACKAGES:
        raise DemoSourceError(
            f"Debian package {package!r} is reserved for independent evaluation "
            "and must not be used in any corpus the project builds"
        )

    root = cache_root(cache_dir)
    dest = root / package
    marker = dest / ".complete.json"
    if marker.exists():
        return dest
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DemoSourceError(
            f"cannot create the demo cache directory {root} for package "
            f"{package!r}: {err}. Set CFFMA_DEMO_CACHE to a writable directory."
        ) from err
    patterns = None if keep is None else (*keep, _COPYRIGHT)
    with FileLock(str(root / f".{package}.lock")):
        if marker.exists():
            return dest
        logger.info("fetching Debian package %s into %s", package, root)
        with tempfile.TemporaryDirectory(dir=root, prefix=f".{package}.") as tmp:
            deb = _apt_download(package, Path(tmp))
            tree = Path(tmp) / "tree"
            tree.mkdir()
            n = _extract(deb, tree, patterns)
            if n == 0:
                raise DemoSourceError(
                    f"Debian package {package!r} ({deb.name}) holds no file matching "
                    f"{list(keep or [])}: its layout may have changed. "
                    f"{_ALTERNATIVE_HINT}"
                )
            info = {"package": package, "deb": deb.name, "files": n, "keep": keep}
            (tree / ".complete.json").write_text(json.dumps(info, indent=1))
            if dest.exists():
                shutil.rmtree(dest)
            # A whole tree moves into place (fileio.atomic_path is for files).
            os.replace(tree, dest)
    return dest


def package_version(package: str, cache_dir: str | os.PathLike | None = None) -> str:
    """The .deb file name a cached package came from (name_version_arch).

    Args:
        package: Debian package name (must be fetched already).
        cache_dir: Cache directory.

    Returns:
        The .deb file name, or ``"unknown"``.
    """
    marker = cache_root(cache_dir) / package / ".complete.json"
    try:
        return json.loads(marker.read_text())["deb"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def _is_speech_prompt(path: Path, voice_root: Path) -> bool:
    rel = path.relative_to(voice_root)
    return rel.parts[0] != "silence" and path.stem not in _NOT_SPEECH


def fetch_speech(
    cache_dir: str | os.PathLike | None = None, voices: list[str] | None = None
) -> dict[str, list[Path]]:
    """Fetches Asterisk voice prompts (G.722 files).

    Args:
        cache_dir: Cache directory (see :func:`cache_root`).
        voices: Keys of :data:`VOICES` (default: all).

    Returns:
        Voice key -> sorted ``.g722`` files (speech only: tones and silence
        prompts are left out). :func:`espnet_cffma.demo.audio.load_audio`
        decodes them.

    Raises:
        DemoSourceError: When a package cannot be fetched.
    """
    out = {}
    for key in voices or list(VOICES):
        if key not in VOICES:
            raise ValueError(f"unknown voice {key!r}; choose from {sorted(VOICES)}")
        voice = VOICES[key]
        root = fetch_package(
            voice.package, cache_dir, keep=("usr/share/asterisk/sounds/*",)
        )
        voice_root = root / "usr/share/asterisk/sounds" / voice.folder
        files = sorted(
            p
            for p in voice_root.rglob("*.g722")
            # One prompt of the en package is an empty file.
            if _is_speech_prompt(p, voice_root) and p.stat().st_size > 0
        )
        if not files:
            raise DemoSourceError(
                f"Debian package {voice.package!r} holds no G.722 prompts under "
                f"{voice_root}. {_ALTERNATIVE_HINT}"
            )
        out[key] = files
    return out


def fetch_word_recordings(
    cache_dir: str | os.PathLike | None = None,
) -> dict[str, list[Path]]:
    """Fetches KTuberling's and KLettres' word recordings, grouped by speaker.

    Files recorded twice (KTuberling's Serbian script variants share theirs)
    are kept once, by content.

    Args:
        cache_dir: Cache directory (see :func:`cache_root`).

    Returns:
        Speaker key (:func:`word_speaker`) -> sorted audio files.

    Raises:
        DemoSourceError: When a package cannot be fetched or holds no audio.
    """
    out: dict[str, list[Path]] = {}
    seen: set[str] = set()
    for source in WORD_RECORDINGS.values():
        root = fetch_package(source.package, cache_dir, keep=(source.root + "/*",))
        words_root = root / source.root
        n = 0
        for folder in sorted(p for p in words_root.iterdir() if p.is_dir()):
            for path in sorted(folder.rglob("*")):
                if path.suffix.lower() not in AUDIO_SUFFIXES or not path.is_file():
                    continue
                digest = hashlib.sha1(path.read_bytes()).hexdigest()
                if digest in seen or path.stat().st_size == 0:
                    continue
                seen.add(digest)
                out.setdefault(word_speaker(folder.name), []).append(path)
                n += 1
        if n == 0:
            raise DemoSourceError(
                f"Debian package {source.package!r} holds no audio under "
                f"{words_root}. {_ALTERNATIVE_HINT}"
            )
    return {k: sorted(v) for k, v in sorted(out.items())}


def word_speaker_label(speaker: str, files: list[Path]) -> str:
    """Who a word-recording speaker is, for SOURCES.md."""
    parts = []
    for name, source in WORD_RECORDINGS.items():
        folders = sorted(
            {_language_folder(p, source) for p in files if source.root in p.as_posix()}
        )
        if folders:
            who = [source.credits[f] for f in folders if f in source.credits]
            parts.append(
                f"{name} {'/'.join(folders)}" + (f" ({'; '.join(who)})" if who else "")
            )
    return f"{speaker[4:]} words: " + ", ".join(parts)


def _language_folder(path: Path, source: WordRecordings) -> str:
    rel = path.as_posix().split(source.root + "/", 1)[1]
    return rel.split("/", 1)[0]


def speaker_of(voice: str) -> str:
    """The person behind a voice key (a speech-folder speaker is itself)."""
    return VOICES[voice].speaker if voice in VOICES else voice


def group_by_speaker(speech: dict[str, list[Path]]) -> dict[str, list[Path]]:
    """Merges voices recorded by the same person.

    Args:
        speech: Voice -> files (from :func:`fetch_speech` or
            :func:`speech_from_dir`).

    Returns:
        Speaker -> files, sorted by speaker.
    """
    out: dict[str, list[Path]] = {}
    for voice in sorted(speech):
        out.setdefault(speaker_of(voice), []).extend(speech[voice])
    return dict(sorted(out.items()))


def split_speakers(
    speakers: list[str], test_speakers: list[str] | tuple[str, ...] | None, n_test: int
) -> tuple[list[str], list[str]]:
    """Splits speakers into disjoint train and test lists.

    Args:
        speakers: All speakers.
        test_speakers: Wanted test speakers; default: :data:`DEFAULT_TEST_SPEAKERS`
            when all of them are present, else the last ``n_test`` in sorted order.
        n_test: Number of test speakers when choosing by default.

    Returns:
        ``(train, test)``, each sorted.
    """
    speakers = sorted(speakers)
    if test_speakers is None:
        if set(DEFAULT_TEST_SPEAKERS) <= set(speakers):
            test_speakers = DEFAULT_TEST_SPEAKERS
        else:
            test_speakers = speakers[-n_test:]
    missing = set(test_speakers) - set(speakers)
    if missing:
        raise ValueError(f"unknown test speakers {sorted(missing)}; have {speakers}")
    test = sorted(test_speakers)
    train = [s for s in speakers if s not in test]
    return train, test


def speech_from_dir(
    directory: str | os.PathLike, n_pseudo_speakers: int = 4
) -> dict[str, list[Path]]:
    """Uses any folder of clean speech as the demo's speech source.

    Speakers are the first-level sub-folder names. Files lying directly in
    ``directory`` (when there are no sub-folders with audio) are dealt, in
    sorted order, into ``n_pseudo_speakers`` contiguous groups named
    ``spk1``, ``spk2``, ... (they may well be the same person: train/test
    disjointness then only holds at the file level).

    Args:
        directory: Folder with ``.wav``/``.flac``/``.ogg`` files, searched
            recursively.
        n_pseudo_speakers: Number of groups for a flat folder.

    Returns:
        Speaker -> sorted files.

    Raises:
        DemoSourceError: When the folder does not exist or holds no audio.
    """
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise DemoSourceError(f"speech folder {root} does not exist")
    files = sorted(
        p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()
    )
    if not files:
        raise DemoSourceError(
            f"speech folder {root} holds no {'/'.join(AUDIO_SUFFIXES)} files"
        )
    nested = [p for p in files if len(p.relative_to(root).parts) > 1]
    out: dict[str, list[Path]] = {}
    if nested:
        for p in nested:
            out.setdefault(p.relative_to(root).parts[0], []).append(p)
        if len(nested) < len(files):
            logger.warning(
                "%s: ignoring %d files outside speaker sub-folders",
                root,
                len(files) - len(nested),
            )
    else:
        n = min(n_pseudo_speakers, len(files))
        for i, chunk in enumerate(np.array_split(np.arange(len(files)), n)):
            out[f"spk{i + 1}"] = [files[j] for j in chunk]
    return dict(sorted(out.items()))


def _select(root: Path, source: NoiseSource) -> list[Path]:
    files = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if (
            p.is_file()
            and any(fnmatch.fnmatch(rel, k) for k in source.keep)
            and any(fnmatch.fnmatch(rel, s) for s in source.select)
            and not any(fnmatch.fnmatch(rel, x) for x in source.exclude)
        ):
            files.append(p)
    return files


def fetch_noises(
    cache_dir: str | os.PathLike | None = None, sources: list[str] | None = None
) -> dict[str, list[Path]]:
    """Fetches noise recordings.

    Args:
        cache_dir: Cache directory (see :func:`cache_root`).
        sources: Keys of :data:`NOISE_SOURCES` (default: all).

    Returns:
        Source key -> sorted audio files (soundfile reads them).

    Raises:
        DemoSourceError: When a package cannot be fetched.
    """
    out = {}
    for key in sources or list(NOISE_SOURCES):
        if key not in NOISE_SOURCES:
            raise ValueError(
                f"unknown noise source {key!r}; choose from {sorted(NOISE_SOURCES)}"
            )
        src = NOISE_SOURCES[key]
        root = fetch_package(src.package, cache_dir, keep=src.keep)
        files = _select(root, src)
        if not files:
            raise DemoSourceError(
                f"Debian package {src.package!r} holds no noise files matching "
                f"{list(src.select)}. {_ALTERNATIVE_HINT}"
            )
        out[key] = files
    return out


def noise_from_dir(directory: str | os.PathLike) -> dict[str, list[Path]]:
    """Uses any folder of noise recordings; sub-folders become sources.

    Args:
        directory: Folder with ``.wav``/``.flac``/``.ogg`` files.

    Returns:
        Source (first-level sub-folder, or the folder's own name) -> files.

    Raises:
        DemoSourceError: When the folder does not exist or holds no audio.
    """
    root = Path(directory).expanduser()
    if not root.is_dir():
        raise DemoSourceError(f"noise folder {root} does not exist")
    out: dict[str, list[Path]] = {}
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES:
            parts = p.relative_to(root).parts
            out.setdefault(parts[0] if len(parts) > 1 else root.name, []).append(p)
    if not out:
        raise DemoSourceError(
            f"noise folder {root} holds no {'/'.join(AUDIO_SUFFIXES)} files"
        )
    return out


def noise_group(path: Path) -> str:
    """Recording group of a noise file: its stem without variant numbers.

    ``birds1``, ``birds2`` -> ``birds``; ``env_sounds_water.3`` ->
    ``env_sounds_water``; ``loop_amen_full`` -> ``loop_amen``.
    """
    stem = re.sub(r"\.\d+$", "", path.stem)
    stem = re.sub(r"_full$", "", stem)
    return re.sub(r"[_-]?\d+$", "", stem) or stem


# Category of each Debian noise recording group (see :func:`noise_group`).
# LinCity-NG's sounds (capitalised names) are named after the building they
# play at: their category follows the building (industry -> machines, markets
# and schools -> babble, homes -> city).
NOISE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "stationary": (
        "vinyl_hiss", "ambi_soft_buzz", "ambi_drone", "ambi_glass_hum",
        "ambi_haunted_hum", "ambi_sauna",
    ),
    "music": (
        "ambi_choir", "ambi_piano", "loop_amen", "loop_breakbeat", "loop_compus",
        "loop_drone_g", "loop_electric", "loop_garzul", "loop_mehackit", "loop_mika",
        "loop_perc", "loop_safari", "loop_tabla", "loop_weirdo", "wardrums",
    ),
    "machines": (
        "loop_3d_printer", "loop_industrial", "carts_cart_moving",
        "default_furnace_active", "ship",
        "Blacksmith", "Build", "CoalMine", "IndustryHigh", "IndustryLight", "Mill",
        "OreMine", "PowerCoalEmpty", "PowerCoalFull", "PowerCoalLow", "PowerCoalMed",
        "PowerSolar", "Substation", "Recycle", "Raze", "Tip", "MonumentConstruction",
        "Pottery", "Rocket", "RocketTakeoff", "RocketExplosion", "WindMill",
        "WindMillHTech", "FireStation",
    ),
    "traffic": (
        "TraficHigh", "TraficLow", "RailTrain", "DirtTrack", "ParklandPlane", "Harbor",
    ),
    "babble": (
        "SportsCroud", "MarketFull", "MarketMed", "MarketLow", "MarketEmpty", "School",
        "University",
    ),
    "city": (
        "ResidentialHigh", "ResidentialMed", "ResidentialLow", "ResidentialLowLow",
        "Shanty", "Commune", "Health", "Monument",
    ),
    "nature": (
        "birds", "morning", "night", "campfire", "env_sounds_water",
        "env_sounds_lava", "default_water_footstep", "fire_fire", "fire_large",
        "fire_small", "Farm", "OrganicFarm", "Green", "ParklandLake", "Water", "Fire",
        "FireWasteland",
    ),
    "effects": ("ambi_dark_woosh", "ambi_swoosh", "ambi_lunar_land", "ambi_glass_rub"),
}  # fmt: skip
_CATEGORY_OF = {g: c for c, groups in NOISE_CATEGORIES.items() for g in groups}


def noise_category(path: Path) -> str:
    """Category of a noise recording (``other`` for a user's own files)."""
    return _CATEGORY_OF.get(noise_group(Path(path)), "other")


def split_noise_files(
    noises: dict[str, list[Path]], fractions: dict[str, float]
) -> dict[str, dict[str, list[Path]]]:
    """Splits each source's recording groups between splits, disjointly.

    The assignment depends only on the group names (hashed), not on a seed, so
    the same recordings stay held out across builds.

    Args:
        noises: Source -> files.
        fractions: Split name -> share of groups (e.g. ``{"train": .75,
            "test": .25}``). Each split gets at least one group per source when
            the source has enough groups.

    Returns:
        Split -> source -> files. A source with fewer groups than splits is
        left out of the splits that get none.
    """
    names = list(fractions)
    out: dict[str, dict[str, list[Path]]] = {n: {} for n in names}
    for source, files in sorted(noises.items()):
        groups: dict[str, list[Path]] = {}
        for f in files:
            groups.setdefault(noise_group(f), []).append(f)
        order = sorted(groups, key=lambda g: hashlib.sha1(g.encode()).hexdigest())
        n = len(order)
        counts = [int(round(fractions[s] * n)) for s in names]
        if n >= len(names):
            counts = [max(1, c) for c in counts]
        # Give the rounding remainder to (or take it from) the largest split.
        big = int(np.argmax([fractions[s] for s in names]))
        counts[big] = max(0, counts[big] + n - sum(counts))
        start = 0
        for split, count in zip(names, counts):
            chosen = order[start : start + count]
            start += count
            if chosen:
                out[split][source] = sorted(f for g in chosen for f in groups[g])
    return out


def split_noise_disjoint(
    noises: dict[str, list[Path]], fractions: dict[str, float]
) -> dict[str, dict[str, list[Path]]]:
    """:func:`split_noise_files`, refusing a split left without noise.

    Raises:
        DemoSourceError: When some split gets no recording group at all.
    """
    split = split_noise_files(noises, fractions)
    if not all(split.values()):
        raise DemoSourceError(
            f"too few noise recordings to keep the {'/'.join(fractions)} noise "
            f"disjoint (sources: {sorted(noises)}); provide more noise files"
        )
    return split


def noise_list_tsv(split: dict[str, dict[str, list[Path]]]) -> str:
    """``noise_list.tsv``: every noise recording group, its split and category."""
    rows = ["split\tsource\trecording\tcategory\tfiles"]
    for name, by_source in split.items():
        for source, files in sorted(by_source.items()):
            groups: dict[str, list[Path]] = {}
            for f in files:
                groups.setdefault(noise_group(f), []).append(f)
            rows += [
                f"{name}\t{source}\t{g}\t{noise_category(fs[0])}\t{len(fs)}"
                for g, fs in sorted(groups.items())
            ]
    return "\n".join(rows) + "\n"


def noise_split_notes(split: dict[str, dict[str, list[Path]]]) -> list[str]:
    """One SOURCES.md line per split: the noise recording groups it uses."""
    return [
        f"{name} noise recordings: "
        + ", ".join(
            f"{source}: {sorted({noise_group(p) for p in files})}"
            for source, files in by_source.items()
        )
        for name, by_source in split.items()
    ]


@dataclass(frozen=True)
class DemoSources:
    """The speech and noise a demo corpus is built from.

    Attributes:
        speakers: Speaker (a person) -> speech files.
        noises: Noise source -> recordings.
        provenance: Debian package (or folder) -> version (or description),
            for SOURCES.md.
        speech_dir: The user's speech folder, or None for Debian voices.
    """

    speakers: dict[str, list[Path]]
    noises: dict[str, list[Path]]
    provenance: dict[str, str]
    speech_dir: Path | None = None

    def speaker_label(self, speaker: str) -> str:
        """Who a speaker is, for SOURCES.md (name, gender, languages)."""
        if self.speech_dir is not None:
            return speaker
        if speaker.startswith("kde_"):
            return word_speaker_label(speaker, self.speakers[speaker])
        voices = [v for v in VOICES.values() if v.speaker == speaker]
        langs = ", ".join(v.language for v in voices)
        return f"{voices[0].credit} ({voices[0].gender}; {langs})"


def load_sources(
    cache_dir: str | os.PathLike | None = None,
    speech_dir: str | os.PathLike | None = None,
    noise_dir: str | os.PathLike | None = None,
    voices: str = "asterisk",
) -> DemoSources:
    """Gets a demo's speech and noise: the user's folders, else Debian packages.

    Args:
        cache_dir: Debian package cache (see :func:`cache_root`).
        speech_dir: Folder of clean speech (see :func:`speech_from_dir`).
        noise_dir: Folder of noise recordings (see :func:`noise_from_dir`).
        voices: Debian speech: ``asterisk`` (Asterisk's four people) or
            ``many`` (those plus KDE's word recordings, about 30 more).

    Returns:
        Speakers, noise sources and their provenance.

    Raises:
        DemoSourceError: When a package cannot be fetched or a folder used.
    """
    used: dict[str, str] = {}
    if speech_dir is not None:
        speakers = speech_from_dir(speech_dir)
        used[str(Path(speech_dir).absolute())] = "speech folder"
    else:
        if voices not in ("asterisk", "many"):
            raise ValueError(f"voices must be 'asterisk' or 'many', got {voices!r}")
        speech = fetch_speech(cache_dir)
        speakers = group_by_speaker(speech)
        for voice in speech:
            package = VOICES[voice].package
            used[package] = package_version(package, cache_dir)
        if voices == "many":
            speakers.update(fetch_word_recordings(cache_dir))
            for source in WORD_RECORDINGS.values():
                used[source.package] = package_version(source.package, cache_dir)
    if noise_dir is not None:
        noises = noise_from_dir(noise_dir)
        used[str(Path(noise_dir).absolute())] = "noise folder"
    else:
        noises = fetch_noises(cache_dir)
        for key in noises:
            package = NOISE_SOURCES[key].package
            used[package] = package_version(package, cache_dir)
    return DemoSources(
        speakers, noises, used, None if speech_dir is None else Path(speech_dir)
    )
