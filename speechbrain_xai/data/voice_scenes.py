"""Voice scenes: realistic voice-presence clips made offline (TTS speech in everyday sound).

VocalMix teaches a voice detector on synthetic sung vowels; recordings of
people talking over a kettle, a siren or birdsong look different. Voice
scenes bring the detector closer to them, still without downloading anything:
each clip (2 s at 16 kHz by default) is an everyday acoustic scene, and half
of the clips have a person talking in it.

* **Speech** comes from the Debian text-to-speech engines (espeak-ng,
  flite, festival: :mod:`speechbrain_xai.data.tts`) reading sentences drawn
  from a built-in word list (:mod:`speechbrain_xai.data.sentences`), at a
  random speaking rate, then sped up or slowed down by up to 10 % (pitch with
  it), given a slow level drift and sometimes soft clipping. Whichever
  engines are installed are used; ``apt-get install -y espeak-ng`` is enough.
* **Backgrounds** are the same for both labels: up to three of 22 everyday
  sounds (at least one in nine clips out of ten) synthesised in numpy (:mod:`speechbrain_xai.data.everyday_sounds`:
  bells, alarms, sirens, phone rings, ring tones, shutters, clicks, knocks,
  footsteps, typing, water, rain, wind, engines, fans, hum, birdsong, clock
  ticks, applause), a voice-free VocalMix background (instruments, noise) in
  three clips out of ten, and always some room noise; about 7 % of the clips
  are a quiet room alone.
* **Acoustics** are drawn per clip and applied to every stem alike, so none
  of them gives the label away: a synthetic room (RT60 0.1-0.8 s, seven
  clips in ten; each source its own direct-to-reverberant ratio) and a
  microphone channel (spectral tilt, rumble cut, sometimes a cheap
  microphone's low-pass, in 15 % of clips the 300-3400 Hz telephone band).
* **Mixing**: the voice takes a random sub-interval of the clip (up to 30 to
  100 % of it; a long sentence is cut to that window with short fades) at a
  voice-to-background SNR of -3 to +15 dB measured over that interval; the
  mixture is scaled to -40 to -15 dBFS with a peak guard. Stems are kept:
  ``mix == voice + background`` and the voice stem is exactly zero outside
  ``[voice_start, voice_end]``.

Held out for the test split (the held-out realistic set)
    *Voices*: the test split speaks with voices the training and validation
    splits never use (:data:`VOICES`): every flite voice (the flite engine as
    a whole; its ``kal`` voices are left out because festival's training
    voice ``kal_diphone`` is the same speaker), festival's
    ``cmu_us_slt_arctic_hts`` (the same speaker as flite's ``slt``),
    ``czech_ph``, ``suo_fi_lj_diphone`` and ``pc_diphone``, and espeak-ng
    voices whose language *and* variant both come from held-out lists
    (12 languages such as ``en-gb-x-rp``, ``fr-fr``, ``da``; variants
    ``m5 m6 m7 f4 f5 klatt3 klatt4``). Training voices: espeak-ng's other 20
    languages with variants ``(none) m1-m4 f1-f3 klatt klatt2 croak``, and
    festival's ``kal_diphone``, ``ked_diphone``, ``upc_ca_ona_hts``,
    ``czech_dita``, ``czech_krb``, ``hy_fi_mv_diphone``, ``lp_diphone`` and
    ``msu_ru_nsh_clunits`` (``hindi_NSK_diphone`` is not used: it crashes on
    Latin text). *Sentences*: test sentences come from the
    held-out word pool, which shares no content word with the training pool.
    *Sounds*: ``bicycle_bell``, ``ringtone``, ``footsteps``, ``rain``,
    ``clock_ticking`` and ``applause`` occur only in the test split (each of
    its everyday sounds is one of them with probability 1/2); each has a
    training relative (church and door bells, phone rings and beeps, knocks,
    running water, clicks, typing). Rooms, channels, VocalMix backgrounds,
    SNRs and levels are drawn alike in every split.

README paragraph
    *Realistic voice scenes.* ``prepare_voice_scenes(data_folder)`` (in
    ``speechbrain_xai.data.voice_scenes``) writes a voice-presence data set
    in the VocalMix layout (float32 stems, ``$data_root`` CSV manifests with
    ``voice_start``/``voice_end``/``snr_db``) from speech made offline by the
    Debian TTS engines (``apt-get install -y espeak-ng``; flite and festival
    voices are used when installed) over 22 synthesised everyday sounds,
    VocalMix backgrounds and room noise, through random rooms and microphone
    channels. Its test split is a held-out realistic set: voices (whole
    engines and voices), sentences and six sound kinds that training never
    sees, so its accuracy says how a detector does on voices and scenes it
    was not trained on. Generation costs about 0.15 CPU-seconds per clip
    (mostly the TTS engines: espeak-ng takes 0.04 s per sentence, flite
    0.1 s, festival 0.6-3 s), runs in ``num_workers`` processes, is
    deterministic for a seed and the installed engines, and skips work that
    is already done.

Example
-------
>>> pools = split_voices()
>>> sorted(pools) == ["test", "train"]
True
>>> set(pools["train"]) & set(pools["test"])
set()
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from speechbrain.utils.logger import get_logger

from speechbrain_xai.data import tts
from speechbrain_xai.data.acoustics import (
    apply_channel,
    change_speed,
    draw_channel,
    level_drift,
    reverberate,
    room_impulse_response,
    soft_clip,
)
from speechbrain_xai.data.clip_sets import RECIPE_HPARAMS as CLIP_SET_HPARAMS
from speechbrain_xai.data.clip_sets import (
    check_prepare_args,
    hparams_preparer,
    prepare_clip_set,
    write_stems,
)
from speechbrain_xai.data.everyday_sounds import SOUND_KINDS, synthesize_sound
from speechbrain_xai.data.sentences import make_sentence
from speechbrain_xai.data.vocalmix_synthesis import (
    check_audio_args,
    clip_rng,
    coloured_noise,
    fade_envelope,
    mix_at_level,
    scale_to_snr,
    synthesize_clip,
    unit_rms,
)

# Bump when the scenes change, so that ``skip_if_exists`` regenerates.
logger = get_logger(__name__)

GENERATOR_VERSION = 2  # 2: stems on a 2**-24 grid (mix_at_level)
SETTINGS_FILE = "voice_scenes_settings.json"
LABELS = ("voice", "no_voice")
DEFAULT_SNR_DB_RANGE = (-3.0, 15.0)
LEVEL_DB_RANGE = (-40.0, -15.0)

# Which voices each pool may use ("train" serves the train and valid splits).
VOICES = {
    "train": {
        "espeak-ng": {
            "languages": ("en-us", "en-gb", "en-gb-scotland", "en-029", "de", "nl", "es", "it",
                          "pt-br", "pl", "cs", "sv", "fi", "ro", "id", "sw", "af", "cy", "hu",
                          "tr"),
            "variants": ("", "m1", "m2", "m3", "m4", "f1", "f2", "f3", "klatt", "klatt2",
                         "croak"),
        },
        "flite": (),
        "festival": ("kal_diphone", "ked_diphone", "upc_ca_ona_hts", "czech_dita", "czech_krb",
                     "hy_fi_mv_diphone", "lp_diphone", "msu_ru_nsh_clunits"),
    },
    "test": {
        "espeak-ng": {
            "languages": ("en-gb-x-rp", "en-us-nyc", "fr-fr", "pt", "da", "nb", "hr", "sk", "is",
                          "lv", "eo", "ca"),
            "variants": ("m5", "m6", "m7", "f4", "f5", "klatt3", "klatt4"),
        },
        "flite": ("awb", "rms", "slt"),
        "festival": ("cmu_us_slt_arctic_hts", "czech_ph", "suo_fi_lj_diphone", "pc_diphone"),
    },
}
HELD_OUT_SOUNDS = ("bicycle_bell", "ringtone", "footsteps", "rain", "clock_ticking", "applause")
TRAIN_SOUNDS = tuple(k for k in SOUND_KINDS if k not in HELD_OUT_SOUNDS)


def _pool(split):
    return "test" if split == "test" else "train"


def _expand(catalogue) -> List[str]:
    """Voice strings of a catalogue ``{engine: names}`` (espeak: languages x variants)."""
    voices = []
    for engine in sorted(catalogue):
        entry = catalogue[engine]
        if engine == "espeak-ng":
            voices += [f"espeak-ng:{lang}" + (f"+{var}" if var else "")
                       for lang in entry["languages"] for var in entry["variants"]]
        else:
            voices += [f"{engine}:{name}" for name in entry]
    return voices


def split_voices(installed: Optional[Dict[str, Sequence[str]]] = None) -> Dict[str, List[str]]:
    """The voices of each pool, ``{"train": [...], "test": [...]}`` (``train``
    serves the train and valid splits).

    Arguments
    ---------
    installed : dict, optional
        A :func:`~speechbrain_xai.data.tts.discover_voices` result: keep only
        the voices it lists (default: the whole catalogue, :data:`VOICES`).

    Returns
    -------
    dict
        Voice strings per pool, engine by engine, e.g. ``"espeak-ng:de+f2"``.

    Example
    -------
    >>> installed = {"espeak-ng": ("de", "fr-fr", "+f2", "+f4"), "flite": ("slt",)}
    >>> split_voices(installed)
    {'train': ['espeak-ng:de', 'espeak-ng:de+f2'], 'test': ['espeak-ng:fr-fr+f4', 'flite:slt']}
    """
    return {pool: _expand(_installed_catalogue(pool, installed)) for pool in ("train", "test")}


def _installed_catalogue(pool, installed):
    catalogue = VOICES[pool]
    if installed is None:
        return dict(catalogue)
    out = {}
    for engine, entry in catalogue.items():
        have = set(installed.get(engine, ()))
        if engine == "espeak-ng":
            languages = [lang for lang in entry["languages"] if lang in have]
            variants = [v for v in entry["variants"] if not v or f"+{v}" in have]
            if languages and variants:
                out[engine] = {"languages": languages, "variants": variants}
        else:
            names = [name for name in entry if name in have]
            if names:
                out[engine] = names
    return out


def _voice_catalogues(engines, sizes):
    """The installed voices of each pool; a clear error when a split that
    has clips has no voice."""
    if engines is not None:
        unknown = [e for e in engines if e not in tts.ENGINES]
        if unknown or not engines:
            raise ValueError(f"engines must name some of {sorted(tts.ENGINES)}, got {engines!r}.")
    installed = tts.discover_voices(engines)
    wanted = list(tts.ENGINES) if engines is None else list(engines)
    catalogues = {pool: _installed_catalogue(pool, installed) for pool in ("train", "test")}
    needs = {"train": sizes["train"] + sizes["valid"], "test": sizes["test"]}
    for pool, catalogue in catalogues.items():
        if needs[pool] and not catalogue:
            have = ", ".join(sorted(installed)) or "none"
            raise tts.TTSUnavailableError(
                f"No text-to-speech voice for the {pool} pool of the voice scenes (engines "
                f"installed among {wanted}: {have}). Install one with: "
                f"{tts.install_hint(wanted)} (espeak-ng alone serves every split)."
            )
    return catalogues


def draw_voice(rng: np.random.Generator, catalogue: dict) -> str:
    """Draws a voice: an engine uniformly, then one of its voices uniformly
    (espeak-ng: a language and a variant).

    Example
    -------
    >>> draw_voice(np.random.default_rng(0), {"flite": ["slt"]})
    'flite:slt'
    """
    engines = sorted(e for e, entry in catalogue.items()
                     if (entry["languages"] and entry["variants"] if e == "espeak-ng" else entry))
    if not engines:
        raise ValueError(f"No voice to draw from in {catalogue!r}.")
    engine = engines[int(rng.integers(0, len(engines)))]
    entry = catalogue[engine]
    if engine == "espeak-ng":
        lang = entry["languages"][int(rng.integers(0, len(entry["languages"])))]
        var = entry["variants"][int(rng.integers(0, len(entry["variants"])))]
        return f"espeak-ng:{lang}" + (f"+{var}" if var else "")
    return f"{engine}:{entry[int(rng.integers(0, len(entry)))]}"


def _streams(seed, split, index):
    """Three independent generators of a clip: the voice's draws, the
    scene's draws (alike for both labels) and the waveforms' randomness."""
    return clip_rng(seed, split, index).spawn(3)


def scene_spec(settings: dict, split: str, index: int) -> dict:
    """What clip ``index`` of ``split`` holds, drawn without making audio.

    Arguments
    ---------
    settings : dict
        The data set settings (as in ``voice_scenes_settings.json``): ``seed``
        and ``voices`` (the installed catalogue per pool) are read.
    split : str
        ``"train"``, ``"valid"`` or ``"test"``.
    index : int
        Clip index; the label is ``LABELS[index % 2]``.

    Returns
    -------
    dict
        ``label``; ``voice``, ``text``, ``tts_rate``, ``speed``,
        ``drift_db``, ``clip_drive`` (0: none), ``voice_drr_db`` and
        ``fraction`` (the longest share of the clip the voice may take) for
        voice clips; ``sounds`` (``[kind, gain_db, clip_drive]`` each),
        ``vocalmix`` (``[kind, gain_db]`` or ``None``), ``room_noise_db``,
        ``rt60`` (0: no room), ``background_drr_db``, ``telephone``,
        ``snr_db`` and ``level_db``.

    Example
    -------
    >>> settings = {"seed": 1, "voices": {"train": {"flite": ["slt"]}, "test": {}}}
    >>> spec = scene_spec(settings, "train", 0)
    >>> spec["label"], spec["voice"]
    ('voice', 'flite:slt')
    >>> scene_spec(settings, "valid", 1)["voice"] is None
    True
    """
    voice_rng, scene_rng, _ = _streams(settings["seed"], split, index)
    label = LABELS[index % len(LABELS)]
    held_out = split == "test"
    spec = {"label": label, "voice": None}
    if label == "voice":
        spec.update(
            voice=draw_voice(voice_rng, settings["voices"][_pool(split)]),
            text=make_sentence(voice_rng, held_out=held_out),
            tts_rate=round(float(voice_rng.uniform(0.8, 1.25)), 4),
            speed=round(float(voice_rng.uniform(0.9, 1.1)), 4),
            drift_db=round(float(voice_rng.uniform(0.0, 4.0)), 3),
            clip_drive=round(float(voice_rng.uniform(1.5, 5.0)), 3) if voice_rng.random() < 0.1 else 0.0,
            voice_drr_db=round(float(voice_rng.uniform(-3.0, 12.0)), 3),
            fraction=round(float(voice_rng.uniform(0.3, 1.0)), 4),
        )
    # the scene: the same draws for both labels
    r = scene_rng
    vocalmix = None
    if r.random() < 0.3:
        vocalmix = [str(r.choice(["mix", "music", "noise"])), round(float(r.uniform(-12, 0)), 3)]
    num_sounds = int(r.choice(4, p=(0.1, 0.45, 0.3, 0.15)))
    kinds: List[str] = []
    while len(kinds) < num_sounds:
        pool = HELD_OUT_SOUNDS if held_out and r.random() < 0.5 else TRAIN_SOUNDS
        kind = str(pool[int(r.integers(0, len(pool)))])
        if kind not in kinds:
            kinds.append(kind)
    quiet = not kinds and vocalmix is None
    spec.update(
        sounds=[[k, round(float(r.uniform(-12, 0)), 3),
                 round(float(r.uniform(1.5, 5.0)), 3) if r.random() < 0.1 else 0.0] for k in kinds],
        vocalmix=vocalmix,
        room_noise_db=0.0 if quiet else round(float(r.uniform(-45.0, -25.0)), 3),
        rt60=round(float(r.uniform(0.1, 0.8)), 4) if r.random() < 0.7 else 0.0,
        background_drr_db=round(float(r.uniform(-3.0, 12.0)), 3),
        telephone=bool(r.random() < 0.15),
        snr_db=round(float(r.uniform(*settings.get("snr_db_range", DEFAULT_SNR_DB_RANGE))), 4),
        level_db=round(float(r.uniform(*LEVEL_DB_RANGE)), 4),
    )
    return spec


def _background(spec, rng, num_samples, sample_rate, duration):
    out = np.zeros(num_samples)
    for kind, gain_db, drive in spec["sounds"]:
        sound = synthesize_sound(kind, rng, num_samples, sample_rate)
        if drive:
            sound = unit_rms(soft_clip(sound, drive))
        out += 10 ** (gain_db / 20) * sound
    if spec["vocalmix"] is not None:
        kind, gain_db = spec["vocalmix"]
        music = synthesize_clip(rng, sample_rate, duration, voice=False, background=kind)
        out += 10 ** (gain_db / 20) * unit_rms(music["background"].astype(np.float64))
    return out


def _fit(speech, rng, max_len, sample_rate):
    """Cuts ``speech`` to a random window of at most ``max_len`` samples, with
    20 ms fades where it was cut."""
    if len(speech) <= max_len:
        return speech
    offset = int(rng.integers(0, len(speech) - max_len + 1))
    window = speech[offset:offset + max_len].copy()
    fade = int(0.02 * sample_rate)
    window *= fade_envelope(max_len, fade if offset else 1, fade if offset + max_len < len(speech) else 1)
    return window


def render_scene(spec: dict, rng: np.random.Generator, sample_rate: int = 16000,
                 duration: float = 2.0, speech: Optional[np.ndarray] = None) -> dict:
    """Makes the audio of a :func:`scene_spec`.

    Arguments
    ---------
    spec : dict
        The scene (from :func:`scene_spec`).
    rng : numpy.random.Generator
        Source of the waveforms' randomness (noise, sound internals, the
        voice's position).
    sample_rate : int
        Sample rate in Hz.
    duration : float
        Clip length in seconds.
    speech : numpy.ndarray, optional
        The dry speech at ``sample_rate`` (required when ``spec`` has a voice).

    Returns
    -------
    dict
        ``mixture``, ``voice``, ``background`` (float32 ``[N]``, ``mixture ==
        voice + background``), ``voice_start``, ``voice_end`` (seconds; 0, 0
        without voice), ``snr_db`` (over the voice interval; nan without
        voice) and ``level_db``.

    Example
    -------
    >>> spec = {"voice": None, "sounds": [["siren", -3.0, 0.0]], "vocalmix": None,
    ...         "room_noise_db": -30.0, "rt60": 0.3, "background_drr_db": 6.0,
    ...         "telephone": False, "snr_db": 6.0, "level_db": -25.0}
    >>> clip = render_scene(spec, np.random.default_rng(0), 16000, 1.0)
    >>> clip["mixture"].shape, float(np.abs(clip["voice"]).max()), clip["voice_end"]
    ((16000,), 0.0, 0.0)
    """
    num_samples = int(round(duration * sample_rate))
    channel = draw_channel(rng, sample_rate, telephone=spec["telephone"])
    background = _background(spec, rng, num_samples, sample_rate, duration)
    if spec["rt60"]:
        ir = room_impulse_response(rng, sample_rate, spec["rt60"], spec["background_drr_db"])
        background = reverberate(background, ir, keep_tail=False)
    noise = unit_rms(coloured_noise(rng, num_samples, sample_rate))
    background = background + 10 ** (spec["room_noise_db"] / 20) * noise
    background = apply_channel(background, channel, sample_rate)
    voice = np.zeros(num_samples)
    start = end = 0
    snr_db = float("nan")
    if spec["voice"] is not None:
        if speech is None:
            raise ValueError("This scene has a voice: pass its speech (synthesize_speech).")
        seg = change_speed(np.asarray(speech, dtype=np.float64), spec["speed"])
        seg = seg * level_drift(rng, len(seg), sample_rate, spec["drift_db"])
        if spec["clip_drive"]:
            seg = soft_clip(seg, spec["clip_drive"])
        if spec["rt60"]:
            seg = reverberate(seg, room_impulse_response(rng, sample_rate, spec["rt60"],
                                                         spec["voice_drr_db"]))
        seg = apply_channel(seg, channel, sample_rate)
        seg = _fit(seg, rng, max(int(spec["fraction"] * num_samples), 1), sample_rate)
        start = int(rng.integers(0, num_samples - len(seg) + 1))
        end = start + len(seg)
        seg, snr_db = scale_to_snr(seg, background, start, spec["snr_db"])
        voice[start:end] = seg
    voice32, background32, mixture = mix_at_level(voice, background, spec["level_db"])
    return {
        "mixture": mixture,
        "voice": voice32,
        "background": background32,
        "voice_start": start / sample_rate,
        "voice_end": end / sample_rate,
        "snr_db": snr_db,
        "level_db": float(20 * np.log10(np.sqrt(np.mean(np.square(mixture, dtype=np.float64))))),
    }


#: Attempts at a sentence a voice fails to speak (then another voice of the pool).
TTS_ATTEMPTS = 3


def _speak(spec: dict, settings: dict, split: str, index: int) -> np.ndarray:
    """The spec's sentence spoken by its voice. A voice that fails on a
    sentence (festival's diphone voices do on some words) gets up to
    :data:`TTS_ATTEMPTS` other sentences, then the pool's other voices do,
    all drawn from a seeded stream of the clip (the same data every time);
    ``spec`` records what was spoken."""
    fallback = clip_rng(settings["seed"], split, index).spawn(4)[3]  # after _streams' three
    tried = []
    for attempt in range(4 * TTS_ATTEMPTS):
        try:
            return tts.synthesize_speech(spec["text"], spec["voice"], settings["sample_rate"],
                                         rate=spec["tts_rate"])
        except tts.TTSUnavailableError:
            raise
        except RuntimeError as err:
            tried.append(f"{spec['voice']}: {str(err).splitlines()[0][:120]}")
            logger.warning("%s clip %d: %s; trying another %s.", split, index, tried[-1],
                           "sentence" if (attempt + 1) % TTS_ATTEMPTS else "voice")
            spec["text"] = make_sentence(fallback, held_out=split == "test")
            if (attempt + 1) % TTS_ATTEMPTS == 0:
                spec["voice"] = draw_voice(fallback, settings["voices"][_pool(split)])
    raise RuntimeError(f"No voice of the {_pool(split)} pool spoke {split} clip {index}: "
                       + "; ".join(tried[-3:]))


def make_scene(settings: dict, split: str, index: int) -> dict:
    """Clip ``index`` of ``split``: its spec, speech and audio (see
    :func:`render_scene`; the result also holds ``spec``)."""
    spec = scene_spec(settings, split, index)
    render_rng = _streams(settings["seed"], split, index)[2]
    speech = None if spec["voice"] is None else _speak(spec, settings, split, index)
    clip = render_scene(spec, render_rng, settings["sample_rate"], settings["duration"], speech)
    clip["spec"] = spec
    return clip


def _write_clip(folder, split, settings, index):
    """Makes clip ``index`` of ``split``, writes its wavs, returns its CSV row."""
    clip = make_scene(settings, split, index)
    return write_stems(folder, split, index, clip, clip["spec"]["label"], settings)


def voice_scenes_settings(num_train: int = 1000, num_valid: int = 200, num_test: int = 200,
                          duration: float = 2.0, sample_rate: int = 16000, seed: int = 1234,
                          snr_db_range: Tuple[float, float] = DEFAULT_SNR_DB_RANGE,
                          engines: Optional[Sequence[str]] = None, num_workers: int = 1) -> dict:
    """Checks the arguments of :func:`prepare_voice_scenes` and returns the
    data set settings (the installed voices of each pool and the engines'
    versions included, so that a change of engines regenerates the data)."""
    sizes = check_prepare_args(num_train, num_valid, num_test, seed, num_workers, snr_db_range)
    sample_rate, duration = check_audio_args(sample_rate, duration)
    voices = _voice_catalogues(None if engines is None else list(engines), sizes)
    used = sorted({e for catalogue in voices.values() for e in catalogue})
    return {
        "dataset": "VoiceScenes",
        "generator_version": GENERATOR_VERSION,
        **{f"num_{split}": num for split, num in sizes.items()},
        "duration": duration,
        "sample_rate": sample_rate,
        "seed": int(seed),
        "snr_db_range": [float(v) for v in snr_db_range],
        "voices": json.loads(json.dumps(voices)),  # tuples -> lists, as read back
        "engine_versions": {e: tts.engine_version(e) for e in used},
        "held_out_sounds": list(HELD_OUT_SOUNDS),
        "wav_subtype": "FLOAT",
        "path_prefix": "$data_root",
    }


def prepare_voice_scenes(
    data_folder: str,
    save_folder: Optional[str] = None,
    num_train: int = 1000,
    num_valid: int = 200,
    num_test: int = 200,
    duration: float = 2.0,
    sample_rate: int = 16000,
    seed: int = 1234,
    skip_if_exists: bool = True,
    num_workers: int = 1,
    snr_db_range: Tuple[float, float] = DEFAULT_SNR_DB_RANGE,
    engines: Optional[Sequence[str]] = None,
) -> Dict[str, str]:
    """Generates the voice scenes and writes SpeechBrain CSV manifests.

    The files are laid out as VocalMix's (see
    :mod:`speechbrain_xai.data.clip_sets`): ``data_folder/{split}/{ID}_{mix,
    voice,background}.wav`` (float32) and ``save_folder/{train,valid,test}.csv``
    with the columns ``ID, duration, wav, voice_wav, background_wav, label,
    voice_start, voice_end, snr_db`` and paths under ``$data_root/``. Clip
    ``i`` of a split depends only on ``(seed, split, i)``, the audio settings
    and the installed voices, not on the split sizes or ``num_workers``;
    labels alternate ``voice`` / ``no_voice``. The test split holds out
    voices, sentences and sound kinds (see the module documentation).

    Arguments
    ---------
    data_folder, save_folder, num_train, num_valid, num_test, duration, sample_rate, seed, skip_if_exists, num_workers
        As for :func:`~speechbrain_xai.data.vocalmix.prepare_vocalmix` (the
        settings file is ``voice_scenes_settings.json``; the ``num_test``
        clips are the held-out realistic set).
    snr_db_range : tuple of float
        Range of the voice-to-background SNR in dB over the voice interval
        (default -3 to +15 dB).
    engines : list of str, optional
        TTS engines to use (default: every installed one of ``espeak-ng``,
        ``flite``, ``festival``).

    Returns
    -------
    dict
        The manifest of each split, ``{split: csv_path}``.

    Example
    -------
    >>> folder = str(getfixture("tmp_path"))
    >>> if "espeak-ng" in tts.installed_engines():
    ...     csvs = prepare_voice_scenes(folder, num_train=2, num_valid=2, num_test=2,
    ...                                 duration=1.0, engines=["espeak-ng"])
    ...     labels = [line.split(",")[5] for line in open(csvs["test"]).read().splitlines()[1:]]
    ... else:
    ...     labels = ["voice", "no_voice"]
    >>> labels
    ['voice', 'no_voice']
    """
    settings = voice_scenes_settings(num_train, num_valid, num_test, duration, sample_rate, seed,
                                     snr_db_range, engines, num_workers)
    voices = split_voices_of(settings)
    return prepare_clip_set(
        data_folder, save_folder, settings, _write_clip, SETTINGS_FILE, "voice scenes",
        "prepare_voice_scenes", skip_if_exists, num_workers,
        details=f", {len(voices['train'])} training and {len(voices['test'])} held-out voices",
    )


def split_voices_of(settings: dict) -> Dict[str, List[str]]:
    """The voice strings of each pool recorded in data set ``settings``.

    Example
    -------
    >>> split_voices_of({"voices": {"train": {"flite": ["awb"]}, "test": {}}})
    {'train': ['flite:awb'], 'test': []}
    """
    return {pool: _expand(settings["voices"][pool]) for pool in ("train", "test")}


# The hyperparameters a recipe uses to describe its voice scenes, and the
# ``prepare_voice_scenes`` argument each one sets (all optional but data_folder).
RECIPE_HPARAMS = {**CLIP_SET_HPARAMS, "tts_engines": "engines", "data_workers": "num_workers"}
prepare_voice_scenes_from_hparams = hparams_preparer(prepare_voice_scenes, RECIPE_HPARAMS)
