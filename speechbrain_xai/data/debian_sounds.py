"""Real recordings that Debian packages install: where they are, what they are.

:data:`SOURCES` lists, per kind of recording, the globs of the files one
Debian package installs and whether they are a ``voice`` or ``no_voice``
recording; :func:`find_recordings` lists the installed ones (``/`` or a
folder where the ``.deb`` files were unpacked with ``dpkg -x``), without
duplicates, naming the missing packages in one warning;
:func:`read_recording` reads any of them (raw GSM prompts included) as a
mono waveform. :mod:`speechbrain_xai.data.real_recordings` builds the
held-out test set from them.

Voice (one kind per speaker and language)
    Telephone prompts read by real speakers, 8 kHz: Asterisk's core sounds
    (``allison_en`` and ``allison_es``: one speaker in two languages;
    ``june_fr``, ``carlo_it``, ``ivrvoice_ru``) and prompt packages
    (``menardi_it``, ``armelle_fr``, ``es_co``, the last two raw GSM);
    alsa-utils' ``speaker-test`` voice naming the channels
    (``speaker_test_en``, 48 kHz); the two voiced roles of the game Fish
    Fillets whose lines the game subtitles (``fillets_elk_ru``,
    ``fillets_parrot_de``, 22 kHz).
No voice (one kind per sound category)
    Bells, an alarm clock, camera shutters, phone rings, telephone tones,
    notification chimes, login jingles and crumpled paper from the
    freedesktop, Yaru and deepin sound themes and Asterisk; typing, locks and
    clicks, machines, bubbles, impacts and music from Fish Fillets;
    alsa-utils' pink test noise.
Left out, by explicit lists
    :data:`NOT_SPEECH`: the Asterisk prompt files that are not speech
    (tones, a jingle, screeching monkeys: each the same recording for all six
    speakers, found by their identical durations); the tones are used as
    ``telephone_tone`` sounds instead. :data:`NOT_SOUND`: files in the sound
    folders never used as ``no_voice``: the spoken channel names of the
    freedesktop theme (the same recordings as alsa-utils' ``Front_Left.wav``
    etc., used as voice from there) and the Fish Fillets effects that are or
    may be made by a voice (grunts, laughs, screams, babble, unit
    acknowledgements the game does not subtitle). :data:`LEFT_OUT_PACKAGES`:
    ``festvox-ru``'s 620 recorded sentences are the units of festival's
    ``msu_ru_nsh_clunits`` voice, which the voice scenes train on, so they are
    not held out. Files with the same bytes are used once.

Packages (:data:`PACKAGES`; ``apt-get install -y`` them): the five
``asterisk-core-sounds-{en,es,fr,it,ru}-wav`` (about 24 MB each installed),
``asterisk-prompt-it-menardi-wav`` (24 MB), ``asterisk-prompt-es-co`` (1.2 MB),
``asterisk-prompt-fr-armelle`` (1.7 MB), ``alsa-utils`` (2.5 MB),
``sound-theme-freedesktop`` (0.5 MB), ``yaru-theme-sound`` (0.8 MB),
``deepin-sound-theme`` (4.8 MB) and ``fillets-ng-data`` (80 MB): about 240 MB
installed, 195 MB to download. ``sound-theme-freedesktop`` and
``asterisk-prompt-es-co`` alone (1.7 MB) give one voice and seven sound kinds.

Example
-------
>>> sorted({s.label for s in SOURCES})
['no_voice', 'voice']
>>> [s.kind for s in SOURCES if s.package == "asterisk-prompt-es-co"]
['es_co']
>>> find_recordings(str(getfixture("tmp_path")), packages=["alsa-utils"])
{}
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import os
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import soundfile as sf
from speechbrain.utils.logger import get_logger

from speechbrain_xai.data.inputs import read_clip

logger = get_logger(__name__)

ASTERISK = "usr/share/asterisk/sounds"
THEMES = "usr/share/sounds"
FILLETS = "usr/share/games/fillets-ng"


@dataclass(frozen=True)
class SourceGroup:
    """Recordings of one kind that one Debian package installs.

    ``patterns`` are globs under ``root`` (a folder relative to the file
    system root, e.g. ``usr/share/sounds``); the package counts as installed
    when ``root/<first folder of the first pattern>`` exists.
    """

    kind: str
    label: str
    package: str
    root: str
    patterns: Tuple[str, ...]


def _voice(kind, package, root, *patterns):
    return SourceGroup(kind, "voice", package, root, patterns)


def _sound(kind, package, root, *patterns):
    return SourceGroup(kind, "no_voice", package, root, patterns)


_FD, _YARU, _DEEPIN = "sound-theme-freedesktop", "yaru-theme-sound", "deepin-sound-theme"
_GAME = "fillets-ng-data"
#: Asterisk prompt-folder files that are tones, not speech (same in every language).
ASTERISK_TONES = ("beep", "beeperr", "ascending-2tone", "descending-2tone",
                  "confbridge-join", "confbridge-leave")

SOURCES: Tuple[SourceGroup, ...] = (
    # -- voice: one kind per speaker and language
    _voice("allison_en", "asterisk-core-sounds-en-wav", ASTERISK, "en_US_f_Allison/*.wav"),
    _voice("allison_es", "asterisk-core-sounds-es-wav", ASTERISK, "es_MX_f_Allison/*.wav"),
    _voice("june_fr", "asterisk-core-sounds-fr-wav", ASTERISK, "fr_CA_f_June/*.wav"),
    _voice("armelle_fr", "asterisk-prompt-fr-armelle", ASTERISK, "fr/*.gsm"),
    _voice("carlo_it", "asterisk-core-sounds-it-wav", ASTERISK, "it_IT_m_Carlo/*.wav"),
    _voice("menardi_it", "asterisk-prompt-it-menardi-wav", ASTERISK, "it_IT_f_Menardi/*.wav"),
    _voice("ivrvoice_ru", "asterisk-core-sounds-ru-wav", ASTERISK, "ru_RU_f_IvrvoiceRU/*.wav"),
    _voice("es_co", "asterisk-prompt-es-co", ASTERISK, "es/*.gsm"),
    _voice("speaker_test_en", "alsa-utils", THEMES,
           "alsa/Front_*.wav", "alsa/Rear_*.wav", "alsa/Side_*.wav"),
    _voice("fillets_elk_ru", _GAME, FILLETS, "sound/elk/en/deu-l-*.ogg"),
    _voice("fillets_parrot_de", _GAME, FILLETS, "sound/elk/en/deu-p-*.ogg"),
    # -- no_voice: one kind per sound category
    _sound("bell", _FD, THEMES, "freedesktop/stereo/bell.oga"),
    _sound("bell", _YARU, THEMES, "Yaru/stereo/bell.oga"),
    _sound("alarm", _FD, THEMES, "freedesktop/stereo/alarm-clock-elapsed.oga"),
    _sound("alarm", _GAME, FILLETS, "sound/bathyscaph/en/bat-t-budik.ogg"),
    _sound("camera_shutter", _FD, THEMES,
           "freedesktop/stereo/camera-shutter.oga", "freedesktop/stereo/screen-capture.oga"),
    _sound("camera_shutter", _DEEPIN, THEMES,
           "deepin/stereo/camera-shutter.wav", "deepin/stereo/screen-capture.wav"),
    _sound("phone_ring", _FD, THEMES, "freedesktop/stereo/phone-incoming-call.oga"),
    _sound("phone_ring", _GAME, FILLETS, "sound/bathyscaph/en/bat-t-phone*.ogg"),
    _sound("telephone_tone", _FD, THEMES, "freedesktop/stereo/phone-outgoing-*.oga"),
    _sound("telephone_tone", "asterisk-core-sounds-en-wav", ASTERISK,
           *(f"en_US_f_Allison/{name}.wav" for name in ASTERISK_TONES)),
    _sound("notification", _FD, THEMES, *(f"freedesktop/stereo/{p}.oga" for p in (
        "dialog-*", "message*", "complete", "device-*", "power-*", "network-*", "window-*",
        "suspend-error", "audio-volume-change", "service-log*"))),
    _sound("notification", _YARU, THEMES, *(f"Yaru/stereo/{p}.oga" for p in (
        "dialog-*", "message*", "complete", "device-*", "power-*", "battery-low",
        "audio-volume-change"))),
    _sound("notification", _DEEPIN, THEMES, *(f"deepin/stereo/{p}.wav" for p in (
        "dialog-*", "message", "complete-*", "device-*", "power-*", "audio-volume-change",
        "screen-capture-complete", "x-deepin-app-sent-to-desktop", "suspend-resume"))),
    _sound("jingle", _YARU, THEMES, "Yaru/stereo/desktop-log*.oga", "Yaru/stereo/system-ready.oga"),
    _sound("jingle", _DEEPIN, THEMES,
           "deepin/stereo/desktop-log*.wav", "deepin/stereo/system-shutdown.wav"),
    _sound("paper", _FD, THEMES, "freedesktop/stereo/trash-empty.oga"),
    _sound("paper", _YARU, THEMES, "Yaru/stereo/trash-empty.oga"),
    _sound("paper", _DEEPIN, THEMES, "deepin/stereo/trash-empty.wav"),
    _sound("keyboard", _GAME, FILLETS, "sound/linux/en/*.ogg"),
    _sound("mechanical", _GAME, FILLETS, "sound/keys/en/unlocking-*.ogg",
           "sound/corridor/en/ch-x-click*.ogg", "sound/dump/en/sm-x-tiktak.ogg",
           "sound/cabin1/en/k1-x-vrz.ogg"),
    _sound("machine", _GAME, FILLETS, "sound/bathroom/en/br-x-pracka.ogg",
           "sound/engine/en/mot-x-motor.ogg"),
    _sound("water", _GAME, FILLETS, "sound/share/sp-bubles_*.ogg"),
    _sound("impact", _GAME, FILLETS, "sound/share/sp-impact_*.ogg"),
    _sound("music", _GAME, FILLETS, "music/*.ogg"),
    _sound("noise", "alsa-utils", THEMES, "alsa/Noise.wav"),
)

#: Every package a source comes from.
PACKAGES = tuple(dict.fromkeys(s.package for s in SOURCES))

#: Asterisk prompt files (by name, any speaker) that are not speech.
NOT_SPEECH = {
    **{name: "a telephone tone (the same recording for every speaker)" for name in ASTERISK_TONES},
    "spy-jingle": "a jingle",
    "tt-monkeys": "16 s of screeching monkeys (the same recording for every speaker)",
}

#: Files in the sound folders never used as ``no_voice`` (paths relative to ``/``).
NOT_SOUND = {
    f"{THEMES}/freedesktop/stereo/audio-channel-*": "spoken channel names: the same "
    "recordings as alsa-utils' Front_Left.wav etc. (used as voice from there)",
    f"{THEMES}/alsa/[FRS][a-z]*_*.wav": "spoken channel names (used as voice)",
    f"{THEMES}/freedesktop/stereo/audio-test-signal.oga": "the same pink noise as alsa's Noise.wav",
    **{f"{FILLETS}/sound/{p}": "a voice effect (grunt, laugh, scream, babble, moan) or a line "
       "the game does not subtitle: may be a voice" for p in (
           "aztec/*", "barrel/*", "ending/*", "creatures/*", "viking1/*", "viking2/*",
           "society/*", "floppy/*", "imprisoned/*", "reactor/*", "puzzle/*", "rotate/*",
           "*/k1-chob-*", "columns/*", "city/*", "snowman/*", "steel/*", "warcraft/*",
           "electromagnet/*", "share/sp-dead_*", "music/*")},
}

#: Installed packages with recordings that are deliberately not used.
LEFT_OUT_PACKAGES = {
    "festvox-ru": "its 620 recorded sentences are the units of festival's msu_ru_nsh_clunits "
                  "voice, a training voice of the voice scenes: not held out",
}

@dataclass(frozen=True)
class Recording:
    """One installed file: its kind, label, package and path (relative to ``/``)."""

    kind: str
    label: str
    package: str
    path: str


# --------------------------------------------------------------------------
# Finding the installed recordings
# --------------------------------------------------------------------------
def _group_installed(group: SourceGroup, source_root: str) -> bool:
    top = group.patterns[0].split("/")[0]
    return os.path.isdir(os.path.join(source_root, group.root, top))


def _left_out(group: SourceGroup, path: str) -> bool:
    if group.label == "voice":
        return os.path.splitext(os.path.basename(path))[0] in NOT_SPEECH
    return any(fnmatch.fnmatch(path, pattern) for pattern in NOT_SOUND)


def _digest(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def _drop_duplicates(recordings: List[Recording], source_root: str) -> List[Recording]:
    """Keeps the first of files with the same bytes (hashing only equal sizes)."""
    by_size: Dict[int, List[Recording]] = {}
    for rec in recordings:
        by_size.setdefault(os.path.getsize(os.path.join(source_root, rec.path)), []).append(rec)
    seen, out = set(), []
    for rec in recordings:
        full = os.path.join(source_root, rec.path)
        key = _digest(full) if len(by_size[os.path.getsize(full)]) > 1 else rec.path
        if key not in seen:
            seen.add(key)
            out.append(rec)
    return out


def find_recordings(source_root: str = "/",
                    packages: Optional[Sequence[str]] = None) -> Dict[str, List[Recording]]:
    """The installed recordings of every kind, in :data:`SOURCES` order.

    Arguments
    ---------
    source_root : str
        Where the packages' files are: ``/`` for installed packages, or a
        folder where ``.deb`` files were unpacked with ``dpkg -x``.
    packages : list of str, optional
        Use only these Debian packages (default: all of :data:`PACKAGES`).

    Returns
    -------
    dict
        ``{kind: [Recording, ...]}`` (files sorted, duplicates and
        :data:`NOT_SPEECH` / :data:`NOT_SOUND` files left out); kinds with
        no file are absent. Missing packages are named in one warning.

    Example
    -------
    >>> find_recordings(str(getfixture("tmp_path")))
    {}
    """
    unknown = sorted(set(packages or ()) - set(PACKAGES))
    if unknown:
        raise ValueError(f"Unknown package(s) {unknown}; the sources are: {', '.join(PACKAGES)}.")
    wanted = set(PACKAGES if packages is None else packages)
    found: List[Recording] = []
    missing: Dict[str, List[str]] = {}
    for group in SOURCES:
        if group.package not in wanted:
            continue
        if not _group_installed(group, source_root):
            missing.setdefault(group.package, [])
            if group.kind not in missing[group.package]:
                missing[group.package].append(group.kind)
            continue
        base = os.path.join(source_root, group.root)
        paths = sorted({p for pattern in group.patterns
                        for p in glob.glob(os.path.join(base, pattern)) if os.path.isfile(p)})
        for path in paths:
            rel = os.path.relpath(path, source_root)
            if not _left_out(group, rel):
                found.append(Recording(group.kind, group.label, group.package, rel))
    if missing:
        logger.warning("Real recordings: not installed, skipped: %s.", "; ".join(
            f"{pkg} ({', '.join(kinds)})" for pkg, kinds in missing.items()))
    kinds: Dict[str, List[Recording]] = {}
    for rec in _drop_duplicates(found, source_root):
        kinds.setdefault(rec.kind, []).append(rec)
    return kinds


# --------------------------------------------------------------------------
# Reading recordings
# --------------------------------------------------------------------------
def _is_gsm(path: str) -> bool:
    return path.endswith(".gsm")


def recording_seconds(path: str) -> float:
    """Duration of a source file from its header (raw GSM: from its size)."""
    if _is_gsm(path):
        return os.path.getsize(path) // 33 * 160 / 8000  # 33-byte frames of 160 samples
    return float(sf.info(path).duration)


def read_recording(path: str, sample_rate: int, rng: Optional[np.random.Generator] = None,
                   max_seconds: Optional[float] = None) -> np.ndarray:
    """A source file as a mono float64 waveform at ``sample_rate``.

    Raw GSM 6.10 prompts are read as 8 kHz; a file longer than
    ``max_seconds`` (with ``rng``) is read only over a random window of that
    length (the soundtrack's two-minute pieces); everything else goes through
    :func:`~speechbrain_xai.data.inputs.read_clip`.
    """
    if _is_gsm(path):
        data, rate = sf.read(path, format="RAW", subtype="GSM610", samplerate=8000, channels=1)
        return resample(data, rate, sample_rate)
    if rng is not None and max_seconds is not None:
        info = sf.info(path)
        frames = int(np.ceil(max_seconds * info.samplerate))
        if info.frames > frames:
            start = int(rng.integers(0, info.frames - frames + 1))
            data, rate = sf.read(path, start=start, frames=frames, dtype="float64", always_2d=True)
            return resample(data.mean(axis=1), rate, sample_rate)
    return read_clip(path, sample_rate).double().numpy()


def resample(wav: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    """``wav`` (float64 numpy) from ``rate`` to ``new_rate`` Hz (torchaudio's sinc resampler, as
    :func:`~speechbrain_xai.data.inputs.read_clip`)."""
    if rate == new_rate:
        return np.asarray(wav, dtype=np.float64)
    import torch
    import torchaudio.functional as AF

    out = AF.resample(torch.as_tensor(wav, dtype=torch.float64), int(rate), int(new_rate))
    return out.numpy()
