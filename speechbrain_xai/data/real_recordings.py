"""Real recordings: a held-out voice-presence test set built from Debian packages.

VocalMix and the voice scenes are generated: synthetic voices, text-to-speech
and numpy-made sounds. This set is made of *recorded* audio that Debian ships
(:mod:`speechbrain_xai.data.debian_sounds`: real speakers reading telephone
prompts and game lines; bells, alarms, shutters, phone rings, chimes, typing,
machines, music...), so a detector's accuracy on it says how it does on real
voices and real everyday sounds, still without downloading anything. None of
these recordings is used by a training set of the project.

Clips (2 s at 16 kHz by default). Kinds take turns within a label (each of
the 11 voice kinds gets about ``num_voice / 11`` clips, each of the 15 sound
kinds ``num_no_voice / 15``, fewer kinds when fewer packages are installed);
labels alternate ``voice`` / ``no_voice``.

* ``voice``: a recording, its leading and trailing silence trimmed, cut to a
  window of the clip's length that is mostly speech, or placed whole at a
  random time when shorter. Conditions in turn within a kind
  (:data:`VOICE_CONDITIONS`): ``alone``, over a real sound of a random kind
  at 6, 0 and 12 dB SNR (``over_sound_6dB``...: measured over the speech),
  ``over_noise_20dB`` (alsa-utils' pink test noise repeated under the whole clip:
  a quiet noise floor).
* ``no_voice``: a sound cropped, or when shorter, repeated with random gaps
  or placed once at a random time. Conditions in turn
  (:data:`NO_VOICE_CONDITIONS`): ``alone``; ``pair``, mixed with a sound of
  another kind 0 to 6 dB quieter; ``alone_8k``, through the 8 kHz telephone
  band (most voices are 8 kHz prompts: the bandwidth must not give the label
  away); ``over_noise_20dB``, the pink noise 20 dB below the sound (as for
  the voices: a noise floor must not give the label away either).

Every clip is scaled to -40 to -15 dBFS. The stems are kept as in the other
sets (:mod:`speechbrain_xai.data.clip_sets`): ``mix == voice + background``
exactly; the voice stem is zero outside ``[voice_start, voice_end]``, where
the recording lies in the clip (the speaker's own pauses inside it stay in
the voice stem); ``snr_db`` is the voice-to-background SNR over that
interval, ``inf`` for a voice alone (or over a near-silent part of a sound:
then the real, higher SNR is recorded) and ``nan`` without voice. The
manifest is ``test.csv`` (the set is for evaluation only) with three more
columns: ``kind``, ``condition`` and ``source`` (``package:path`` of each
recording in the clip, the main one first, joined by ``" + "``). Every
choice of file and condition is recorded in the settings file and depends
only on the seed and the installed files; clip ``j`` of a kind does not
depend on how many clips are asked for.

README paragraph
    *Real recordings.* ``prepare_real_recordings(data_folder)`` (in
    ``speechbrain_xai.data.real_recordings``) writes a held-out test set of
    real recordings from Debian packages in the VocalMix layout (plus
    ``kind``, ``condition`` and ``source`` columns): speakers of six languages
    reading telephone prompts and game lines, alone and over real sounds, and
    15 kinds of real everyday and system sounds (bells, alarms, shutters,
    phone rings, typing, music...), alone, in pairs, through a telephone band
    or over noise. ``recipes/VoiceScenes/real_recordings.py`` measures a
    detector on it, per class, kind and condition. Packages:
    ``apt-get install -y`` the ones listed in
    ``speechbrain_xai.data.debian_sounds.PACKAGES`` (about 195 MB to
    download); whichever are installed are used.

Example
-------
>>> [condition for condition, _ in VOICE_CONDITIONS]
['alone', 'over_sound', 'over_sound', 'over_sound', 'over_noise']
>>> _turns(5, ["bell", "music"])  # (kind, clip of that kind): kinds take turns
[('bell', 0), ('music', 0), ('bell', 1), ('music', 1), ('bell', 2)]
"""

from __future__ import annotations

import os
import zlib
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from speechbrain.utils.logger import get_logger

from speechbrain_xai.data.clip_sets import CSV_COLUMNS, prepare_clip_set, write_stems
from speechbrain_xai.data.debian_sounds import (
    PACKAGES,
    SOURCES,
    Recording,
    find_recordings,
    read_recording,
    recording_seconds,
    resample,
)
from speechbrain_xai.data.vocalmix_synthesis import (
    check_audio_args,
    clip_rng,
    fade_envelope,
    is_int,
    mix_at_level,
    scale_to_snr,
    unit_rms,
)
from speechbrain_xai.data.voice_scenes import LEVEL_DB_RANGE

logger = get_logger(__name__)

# Bump when the clips change, so that ``skip_if_exists`` regenerates.
GENERATOR_VERSION = 1
SETTINGS_FILE = "real_recordings_settings.json"
SPLIT = "test"
LABELS = ("voice", "no_voice")
EXTRA_COLUMNS = ("kind", "condition", "source")
MANIFEST_COLUMNS = CSV_COLUMNS + EXTRA_COLUMNS

#: ``(condition, snr_db)`` of voice clips, in turn within each kind.
VOICE_CONDITIONS = (("alone", None), ("over_sound", 6.0), ("over_sound", 0.0),
                    ("over_sound", 12.0), ("over_noise", 20.0))
#: Conditions of no_voice clips, in turn within each kind.
NO_VOICE_CONDITIONS = ("alone", "pair", "alone_8k", "over_noise")
#: Sound-to-noise ratio (dB, over the sound's active frames) of no_voice clips over noise.
NOISE_FLOOR_DB = 20.0
#: Voice recordings shorter than this (before trimming) are not used.
MIN_VOICE_SECONDS = 1.0
TELEPHONE_RATE = 8000
_FRAME_S = 0.01
_FADE_S = 0.01


# --------------------------------------------------------------------------
# Shaping recordings into clips
# --------------------------------------------------------------------------
def _frame_power_db(wav: np.ndarray, frame: int) -> np.ndarray:
    frames = wav[: len(wav) // frame * frame].reshape(-1, frame)
    return 10 * np.log10(np.mean(np.square(frames), axis=1) + 1e-20)


def trim_silence(wav: np.ndarray, sample_rate: int, floor_db: float = 40.0) -> np.ndarray:
    """Cuts leading and trailing frames (10 ms) more than ``floor_db`` below the loudest.

    Example
    -------
    >>> wav = np.concatenate([np.zeros(800), np.ones(1600), np.zeros(800)])
    >>> len(trim_silence(wav, 8000))
    1600
    """
    frame = max(int(_FRAME_S * sample_rate), 1)
    power = _frame_power_db(wav, frame)
    if power.size == 0:
        return wav
    active = np.flatnonzero(power > power.max() - floor_db)
    return wav[active[0] * frame:(active[-1] + 1) * frame]


def _with_fades(segment, sample_rate, fade_in, fade_out):
    fade = int(_FADE_S * sample_rate)
    return segment * fade_envelope(len(segment), fade if fade_in else 1, fade if fade_out else 1)


def place_speech(rng: np.random.Generator, speech: np.ndarray, num_samples: int,
                 sample_rate: int, min_active: float = 0.6) -> Tuple[np.ndarray, int, int]:
    """Puts a (trimmed) recording in a clip of ``num_samples``.

    A longer recording is cut to a random window in which at least
    ``min_active`` of the 10 ms frames are within 30 dB of the loudest (the
    most active window when none is), with 10 ms fades where it was cut; a
    shorter one is placed whole at a random time.

    Returns
    -------
    tuple
        ``(voice [num_samples], start, end)``: the voice stem is zero outside
        ``[start, end)`` (samples).

    Example
    -------
    >>> voice, start, end = place_speech(np.random.default_rng(0), np.ones(400), 1000, 8000)
    >>> end - start, float(voice[:start].sum() + voice[end:].sum())
    (400, 0.0)
    """
    out = np.zeros(num_samples)
    if len(speech) <= num_samples:
        start = int(rng.integers(0, num_samples - len(speech) + 1))
        out[start:start + len(speech)] = speech
        return out, start, start + len(speech)
    frame = max(int(_FRAME_S * sample_rate), 1)
    power = _frame_power_db(speech, frame)
    active = (power > power.max() - 30.0).astype(np.float64)
    width = max(num_samples // frame, 1)
    fraction = np.convolve(active, np.ones(width) / width, mode="valid")  # per window start
    good = np.flatnonzero(fraction >= min_active)
    if good.size == 0:
        good = np.flatnonzero(fraction == fraction.max())
    offset = min(int(rng.choice(good)) * frame, len(speech) - num_samples)
    window = speech[offset:offset + num_samples]
    out[:] = _with_fades(window, sample_rate, offset > 0, offset + num_samples < len(speech))
    return out, 0, num_samples


def sound_track(rng: np.random.Generator, sound: np.ndarray, num_samples: int,
                sample_rate: int) -> np.ndarray:
    """A sound filling a clip of ``num_samples``: a random crop of a longer
    one (10 ms fades where cut); a shorter one is repeated with random gaps
    of 0.1-0.8 s (half of the time) or placed once at a random time.

    Example
    -------
    >>> track = sound_track(np.random.default_rng(1), np.ones(100), 2000, 1000)
    >>> track.shape, float(track.max())
    ((2000,), 1.0)
    """
    n = len(sound)
    if n >= num_samples:
        offset = int(rng.integers(0, n - num_samples + 1))
        return _with_fades(sound[offset:offset + num_samples], sample_rate, offset > 0,
                           offset + num_samples < n)
    out = np.zeros(num_samples)
    if rng.random() < 0.5:
        position = int(rng.integers(0, min(int(0.5 * sample_rate), num_samples - n) + 1))
        while position < num_samples:
            piece = sound[:num_samples - position]
            if len(piece) < n:
                piece = _with_fades(piece, sample_rate, False, True)
            out[position:position + len(piece)] = piece
            position += n + int(rng.uniform(0.1, 0.8) * sample_rate)
    else:
        position = int(rng.integers(0, num_samples - n + 1))
        out[position:position + n] = sound
    return out


def noise_floor(rng: np.random.Generator, noise: np.ndarray, num_samples: int) -> np.ndarray:
    """A noise recording repeated end to end and cut at a random offset to
    fill ``num_samples``: a steady floor under the whole clip.

    Example
    -------
    >>> floor = noise_floor(np.random.default_rng(0), np.arange(1.0, 4.0), 7)
    >>> floor.shape, bool((floor > 0).all())
    ((7,), True)
    """
    reps = -(-(num_samples + len(noise)) // len(noise))
    offset = int(rng.integers(0, len(noise)))
    return np.tile(noise, reps)[offset:offset + num_samples]


def telephone_band(wav: np.ndarray, sample_rate: int) -> np.ndarray:
    """``wav`` through an 8 kHz channel (down and up again), same length.

    Example
    -------
    >>> x = np.random.default_rng(0).standard_normal(1600)
    >>> telephone_band(x, 16000).shape
    (1600,)
    """
    if sample_rate <= TELEPHONE_RATE:
        return wav
    narrow = resample(resample(wav, sample_rate, TELEPHONE_RATE), TELEPHONE_RATE, sample_rate)
    out = np.zeros(len(wav))
    out[:min(len(wav), len(narrow))] = narrow[:len(wav)]
    return out


# --------------------------------------------------------------------------
# The plan: which recordings each clip uses
# --------------------------------------------------------------------------
def _stream(seed: int, kind: str, *index: int) -> np.random.Generator:
    key = (zlib.crc32(kind.encode("utf-8")), *index)
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=key))


def _source(rec: Recording) -> List[str]:
    return [rec.package, rec.path]


def _eligible_voices(recordings: List[Recording], seed: int, kind: str, count: int,
                     source_root: str) -> List[Recording]:
    """Up to ``count`` recordings of a voice kind, in a seeded order, long enough."""
    order = _stream(seed, kind).permutation(len(recordings))
    chosen = []
    for i in order:
        rec = recordings[int(i)]
        if recording_seconds(os.path.join(source_root, rec.path)) >= MIN_VOICE_SECONDS:
            chosen.append(rec)
            if len(chosen) == count:
                break
    return chosen


def _turns(num: int, kinds: List[str]) -> List[Tuple[str, int]]:
    """``(kind, j)`` of each of ``num`` clips: kinds take turns; ``j`` counts within a kind."""
    return [(kinds[i % len(kinds)], i // len(kinds)) for i in range(num)]


def plan_clips(recordings: Dict[str, List[Recording]], num_voice: int, num_no_voice: int,
               seed: int, source_root: str = "/") -> List[dict]:
    """The recordings and condition of every clip (JSON-serialisable).

    Arguments
    ---------
    recordings : dict
        From :func:`find_recordings`.
    num_voice, num_no_voice : int
        Number of clips of each label.
    seed : int
        The set's seed.
    source_root : str
        Where the packages' files are.

    Returns
    -------
    list of dict
        One per clip, labels alternating while both last: ``label``,
        ``kind``, ``condition``, ``snr_db`` (voice over a sound; else
        ``None``) and ``sources`` (``[package, path]``, the main one first).
    """
    voice_kinds = [k for k, recs in recordings.items() if recs[0].label == "voice"]
    sound_kinds = [k for k, recs in recordings.items() if recs[0].label == "no_voice"]
    for label, kinds, num in (("voice", voice_kinds, num_voice),
                              ("no_voice", sound_kinds, num_no_voice)):
        if num and not kinds:
            need = sorted({s.package for s in SOURCES if s.label == label})
            raise RuntimeError(f"No {label} recordings installed; apt-get install -y "
                               f"{' '.join(need)} (or ask for num_{label}=0).")
    backgrounds = [k for k in sound_kinds if k != "noise"] or sound_kinds
    voice_conditions = [c for c in VOICE_CONDITIONS
                        if c[0] != "over_noise" or "noise" in recordings]
    if not backgrounds:
        voice_conditions = [c for c in voice_conditions if c[0] == "alone"]

    voices = {}
    if num_voice:
        per_kind = -(-num_voice // len(voice_kinds))
        voices = {k: _eligible_voices(recordings[k], seed, k, per_kind, source_root)
                  for k in voice_kinds}
        empty = [k for k, recs in voices.items() if not recs]
        if empty:
            logger.warning("Real recordings: no file of %s lasts %.1f s: kind(s) skipped.",
                           ", ".join(empty), MIN_VOICE_SECONDS)
            voice_kinds = [k for k in voice_kinds if voices[k]]
        if not voice_kinds:
            raise RuntimeError(f"No installed voice recording lasts {MIN_VOICE_SECONDS} s.")
    order = {k: _stream(seed, k).permutation(len(recordings[k])) for k in sound_kinds}

    def pick(rng, kinds):
        kind = kinds[int(rng.integers(len(kinds)))]
        return recordings[kind][int(rng.integers(len(recordings[kind])))]

    voice_clips = []
    for kind, j in _turns(num_voice, voice_kinds):
        rng = _stream(seed, kind, j)
        condition, snr_db = voice_conditions[j % len(voice_conditions)]
        sources = [_source(voices[kind][j % len(voices[kind])])]
        if condition == "over_sound":
            sources.append(_source(pick(rng, backgrounds)))
        elif condition == "over_noise":
            sources.append(_source(pick(rng, ["noise"])))
        name = condition if snr_db is None else f"{condition}_{snr_db:g}dB"
        voice_clips.append({"label": "voice", "kind": kind, "condition": name,
                            "snr_db": snr_db, "sources": sources})
    sound_clips = []
    for kind, j in _turns(num_no_voice, sound_kinds):
        rng = _stream(seed, kind, j)
        condition = NO_VOICE_CONDITIONS[j % len(NO_VOICE_CONDITIONS)]
        partners = [k for k in backgrounds if k != kind]
        if (condition == "pair" and not partners) or (
                condition == "over_noise" and (kind == "noise" or "noise" not in recordings)):
            condition = "alone"
        main = recordings[kind][int(order[kind][j % len(order[kind])])]
        sources = [_source(main)]
        if condition == "pair":
            sources.append(_source(pick(rng, partners)))
        elif condition == "over_noise":
            sources.append(_source(pick(rng, ["noise"])))
            condition = f"over_noise_{NOISE_FLOOR_DB:g}dB"
        sound_clips.append({"label": "no_voice", "kind": kind, "condition": condition,
                            "snr_db": None, "sources": sources})
    clips = []
    for i in range(max(len(voice_clips), len(sound_clips))):
        clips += voice_clips[i:i + 1] + sound_clips[i:i + 1]
    return clips


# --------------------------------------------------------------------------
# Rendering and writing
# --------------------------------------------------------------------------
def render_clip(spec: dict, rng: np.random.Generator, source_root: str = "/",
                sample_rate: int = 16000, duration: float = 2.0) -> dict:
    """Makes the audio of one planned clip (see :func:`plan_clips`).

    Returns
    -------
    dict
        ``mixture``, ``voice``, ``background`` (float32 ``[N]``, ``mixture ==
        voice + background``), ``voice_start``, ``voice_end`` (seconds; 0, 0
        without voice), ``snr_db`` (over the voice interval; ``inf`` for a
        voice alone, nan without voice).
    """
    num_samples = int(round(duration * sample_rate))
    # every source but the speech is only needed over one clip's length
    audio = [read_recording(os.path.join(source_root, path), sample_rate,
                            None if i == 0 and spec["label"] == "voice" else rng, duration + 0.5)
             for i, (_, path) in enumerate(spec["sources"])]
    voice = np.zeros(num_samples)
    start = end = 0
    snr_db = float("nan")
    if spec["label"] == "voice":
        speech = trim_silence(audio[0], sample_rate)
        voice, start, end = place_speech(rng, speech, num_samples, sample_rate)
        background = np.zeros(num_samples)
        snr_db = float("inf")
        if spec["condition"].startswith("over_noise"):
            background = unit_rms(noise_floor(rng, audio[1], num_samples))
        elif len(audio) > 1:
            background = unit_rms(sound_track(rng, audio[1], num_samples, sample_rate))
        if len(audio) > 1:
            voice[start:end], snr_db = scale_to_snr(voice[start:end], background, start,
                                                    spec["snr_db"])
    else:
        background = unit_rms(sound_track(rng, audio[0], num_samples, sample_rate))
        if spec["condition"] == "pair":
            partner = unit_rms(sound_track(rng, audio[1], num_samples, sample_rate))
            background = background + 10 ** (-rng.uniform(0.0, 6.0) / 20) * partner
        elif spec["condition"] == "alone_8k":
            background = telephone_band(background, sample_rate)
        elif spec["condition"].startswith("over_noise"):
            frame = max(int(_FRAME_S * sample_rate), 1)
            power_db = _frame_power_db(background, frame)
            active = power_db[power_db > power_db.max() - 30.0]
            noise_db = 10 * np.log10(np.mean(10 ** (active / 10))) - NOISE_FLOOR_DB
            noise = unit_rms(noise_floor(rng, audio[1], num_samples))
            background = background + 10 ** (noise_db / 20) * noise
    voice32, background32, mixture = mix_at_level(voice, background,
                                                  rng.uniform(*LEVEL_DB_RANGE))
    return {"mixture": mixture, "voice": voice32, "background": background32,
            "voice_start": start / sample_rate, "voice_end": end / sample_rate,
            "snr_db": snr_db}


def _write_clip(folder, split, settings, index):
    """Renders clip ``index``, writes its stems, returns its manifest row."""
    spec = settings["clips"][index]
    clip = render_clip(spec, clip_rng(settings["seed"], split, index), settings["source_root"],
                       settings["sample_rate"], settings["duration"])
    row = write_stems(folder, split, index, clip, spec["label"], settings)
    row["kind"] = spec["kind"]
    row["condition"] = spec["condition"]
    row["source"] = " + ".join(f"{package}:{path}" for package, path in spec["sources"])
    return row


def real_recordings_settings(num_voice: int = 120, num_no_voice: int = 120,
                             duration: float = 2.0, sample_rate: int = 16000, seed: int = 1234,
                             source_root: str = "/",
                             packages: Optional[Sequence[str]] = None) -> dict:
    """Checks the arguments of :func:`prepare_real_recordings`, finds the
    recordings and returns the set's settings (the plan of every clip
    included, so that other installed files regenerate the set)."""
    for name, value in (("num_voice", num_voice), ("num_no_voice", num_no_voice),
                        ("seed", seed)):
        if not is_int(value) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    if num_voice + num_no_voice == 0:
        raise ValueError("num_voice + num_no_voice must be at least 1.")
    sample_rate, duration = check_audio_args(sample_rate, duration)
    source_root = os.path.abspath(os.fspath(source_root))
    recordings = find_recordings(source_root, packages)
    if not recordings:
        raise RuntimeError(
            f"No real recordings found under {source_root}: install the Debian packages, "
            f"e.g. apt-get install -y sound-theme-freedesktop asterisk-prompt-es-co "
            f"(all sources: {' '.join(PACKAGES)})."
        )
    clips = plan_clips(recordings, int(num_voice), int(num_no_voice), int(seed), source_root)
    return {
        "dataset": "RealRecordings",
        "generator_version": GENERATOR_VERSION,
        "num_test": len(clips),
        "duration": duration,
        "sample_rate": sample_rate,
        "seed": int(seed),
        "source_root": source_root,
        "packages": sorted({s[0] for clip in clips for s in clip["sources"]}),
        "clips": clips,
        "wav_subtype": "FLOAT",
        "path_prefix": "$data_root",
    }


def prepare_real_recordings(
    data_folder: str,
    save_folder: Optional[str] = None,
    num_voice: int = 120,
    num_no_voice: int = 120,
    duration: float = 2.0,
    sample_rate: int = 16000,
    seed: int = 1234,
    source_root: str = "/",
    packages: Optional[Sequence[str]] = None,
    skip_if_exists: bool = True,
    num_workers: int = 1,
) -> Dict[str, str]:
    """Builds the real-recordings test set and writes its SpeechBrain manifest.

    The files are laid out as VocalMix's (see
    :mod:`speechbrain_xai.data.clip_sets`): ``data_folder/test/test_NNNNN_
    {mix,voice,background}.wav`` (float32) and ``save_folder/test.csv`` with
    the columns :data:`MANIFEST_COLUMNS` (paths under ``$data_root/``).

    Arguments
    ---------
    data_folder : str
        Where the audio is written (owned by the set).
    save_folder : str, optional
        Where the manifest and ``real_recordings_settings.json`` go (default:
        data_folder).
    num_voice, num_no_voice : int
        Number of clips of each label (kinds take turns within a label).
    duration : float
        Clip length in seconds.
    sample_rate : int
        Sample rate of the clips in Hz.
    seed : int
        The set's seed (which files, windows, conditions, levels).
    source_root : str
        Where the Debian packages' files are (``/``, or a folder where the
        ``.deb`` files were unpacked with ``dpkg -x``).
    packages : list of str, optional
        Use only these packages (default: every installed one of
        :data:`PACKAGES`; the missing ones are named in one warning).
    skip_if_exists : bool
        Reuse a finished set with the same settings.
    num_workers : int
        Processes used to write the clips (the output does not depend on it).

    Returns
    -------
    dict
        ``{"test": csv_path}``.

    Example
    -------
    >>> try:
    ...     prepare_real_recordings(str(getfixture("tmp_path")), source_root="/nonexistent")
    ... except RuntimeError as err:
    ...     print(str(err).split(":")[0])
    No real recordings found under /nonexistent
    """
    settings = real_recordings_settings(num_voice, num_no_voice, duration, sample_rate, seed,
                                        source_root, packages)
    kinds = {clip["kind"] for clip in settings["clips"]}
    return prepare_clip_set(
        data_folder, save_folder, settings, _write_clip, SETTINGS_FILE, "real recordings",
        "prepare_real_recordings", skip_if_exists, num_workers,
        details=f", {len(kinds)} kinds from {len(settings['packages'])} packages",
        splits=(SPLIT,), columns=MANIFEST_COLUMNS,
    )
