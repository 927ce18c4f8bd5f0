"""Tests for the realistic voice scenes (speechbrain_xai.data.voice_scenes and
its parts: tts, sentences, everyday_sounds)."""

import csv
import json
import os

import numpy as np
import pytest

from speechbrain_xai.data import tts, voice_scenes
from speechbrain_xai.data.clip_sets import CSV_COLUMNS
from speechbrain_xai.data.everyday_sounds import SOUND_KINDS, synthesize_sound
from speechbrain_xai.data.sentences import content_words, make_sentence
from speechbrain_xai.data.voice_scenes import (
    HELD_OUT_SOUNDS,
    TRAIN_SOUNDS,
    VOICES,
    prepare_voice_scenes,
    render_scene,
    scene_spec,
    split_voices,
)

SR = 16000
needs_espeak = pytest.mark.skipif("espeak-ng" not in tts.installed_engines(),
                                  reason="espeak-ng is not installed (apt-get install -y espeak-ng)")


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _catalogue_settings(seed=3):
    """Settings with the whole voice catalogue (no engine needed for specs)."""
    return {"seed": seed, "voices": json.loads(json.dumps(VOICES))}


def _small(folder, **kwargs):
    args = dict(num_train=4, num_valid=2, num_test=2, duration=1.0, engines=["espeak-ng"])
    args.update(kwargs)
    return prepare_voice_scenes(str(folder), **args)


def _words(text):
    return set(text.lower().replace(",", " ").replace(".", " ").rstrip("?!").split())


# --------------------------------------------------------------------------
# everyday sounds
# --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", SOUND_KINDS)
def test_everyday_sounds_are_finite_and_audible(kind):
    for seed in range(3):
        for rate in (8000, 16000):
            wav = synthesize_sound(kind, np.random.default_rng(seed), rate, rate)
            assert wav.shape == (rate,) and np.isfinite(wav).all()
            assert np.sqrt(np.mean(wav ** 2)) == pytest.approx(1.0)  # not silent before scaling
    again = synthesize_sound(kind, np.random.default_rng(2), SR, SR)
    assert np.array_equal(again, synthesize_sound(kind, np.random.default_rng(2), SR, SR))
    assert not np.array_equal(again, synthesize_sound(kind, np.random.default_rng(5), SR, SR))


def test_unknown_sound_and_short_length_are_refused():
    with pytest.raises(ValueError, match="pick one of"):
        synthesize_sound("violin", np.random.default_rng(0), SR)
    with pytest.raises(ValueError, match="num_samples"):
        synthesize_sound("siren", np.random.default_rng(0), 100)


# --------------------------------------------------------------------------
# what the test split holds out
# --------------------------------------------------------------------------
def test_sentence_pools_share_no_word():
    held, train = content_words(True), content_words(False)
    assert not held & train
    rng = np.random.default_rng(0)
    test_sentences = {make_sentence(rng, held_out=True) for _ in range(500)}
    train_sentences = {make_sentence(rng, held_out=False) for _ in range(500)}
    assert not test_sentences & train_sentences
    assert all(_words(s) & held and not _words(s) & train for s in test_sentences)
    assert all(_words(s) & train and not _words(s) & held for s in train_sentences)
    lengths = [len(s.split()) for s in train_sentences]
    assert min(lengths) <= 3 and max(lengths) >= 12  # the length varies


def test_voice_catalogue_holds_whole_voices_out():
    train, test = VOICES["train"], VOICES["test"]
    espeak_train, espeak_test = train["espeak-ng"], test["espeak-ng"]
    assert not set(espeak_train["languages"]) & set(espeak_test["languages"])
    assert not set(espeak_train["variants"]) & set(espeak_test["variants"])
    assert not set(train["festival"]) & set(test["festival"])
    assert not train["flite"] and test["flite"]  # flite: a whole engine held out
    # the same speaker under two engines stays on one side
    assert not any("slt" in v for v in split_voices()["train"])
    assert not any("kal" in v for v in split_voices()["test"])


def test_held_out_voices_sounds_and_texts_never_in_train_or_valid():
    settings = _catalogue_settings()
    pools = split_voices()
    held_words = content_words(True)
    seen_held_kinds = set()
    for split in ("train", "valid", "test"):
        for index in range(0, 160):
            spec = scene_spec(settings, split, index)
            assert spec["label"] == ("voice" if index % 2 == 0 else "no_voice")
            kinds = {kind for kind, _, _ in spec["sounds"]}
            if split == "test":
                seen_held_kinds |= kinds & set(HELD_OUT_SOUNDS)
            else:
                assert kinds <= set(TRAIN_SOUNDS)
            if spec["voice"] is None:
                continue
            pool = "test" if split == "test" else "train"
            assert spec["voice"] in pools[pool]
            assert bool(_words(spec["text"]) & held_words) == (split == "test")
    assert seen_held_kinds == set(HELD_OUT_SOUNDS)


# --------------------------------------------------------------------------
# one scene
# --------------------------------------------------------------------------
def _fake_speech(seconds, seed):
    """A voiced-like harmonic tone with syllable gaps (no TTS needed)."""
    t = np.arange(int(seconds * SR)) / SR
    f0 = 120 + 20 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    tone = sum(np.sin(k * phase) / k for k in range(1, 20))
    syllables = np.clip(np.sin(2 * np.pi * 4 * t + seed), 0, None)
    return (0.3 * tone * syllables).astype(np.float32)


def test_scene_stems_add_up_and_voice_stays_in_its_interval():
    settings = _catalogue_settings(seed=11)
    for index in range(0, 24, 2):  # voice clips
        spec = scene_spec(settings, "train", index)
        speech = _fake_speech(0.4 + 0.3 * index, index)  # short ones and cut ones
        clip = render_scene(spec, np.random.default_rng(index), SR, 1.5, speech)
        mix, voice, bg = clip["mixture"], clip["voice"], clip["background"]
        for wav in (mix, voice, bg):
            assert wav.dtype == np.float32 and wav.shape == (int(1.5 * SR),)
            assert np.isfinite(wav).all()
        assert np.array_equal(mix, voice + bg)
        assert np.abs(mix).max() <= 0.95
        start, end = round(clip["voice_start"] * SR), round(clip["voice_end"] * SR)
        assert 0 <= start < end <= len(voice)
        assert (end - start) <= spec["fraction"] * len(voice) + 1
        assert not voice[:start].any() and not voice[end:].any()
        inside, under = voice[start:end].astype(np.float64), bg[start:end].astype(np.float64)
        snr = 10 * np.log10(np.mean(inside ** 2) / np.mean(under ** 2))
        assert snr == pytest.approx(clip["snr_db"], abs=0.05)
        assert snr >= spec["snr_db"] - 0.05  # the floor may only raise it


def test_a_voice_that_fails_on_a_sentence_gets_others_then_another_voice(monkeypatch):
    settings = dict(_catalogue_settings(seed=11), sample_rate=SR, duration=1.0)
    failing = scene_spec(settings, "train", 0)["voice"]
    calls = []

    def speak(text, voice, sample_rate, rate=1.0):
        calls.append((text, voice))
        if voice == failing:  # this voice fails on every sentence
            raise RuntimeError("festival made no audio (SIOD ERROR)")
        return _fake_speech(0.8, len(calls))

    monkeypatch.setattr(tts, "synthesize_speech", speak)
    clip = voice_scenes.make_scene(settings, "train", 0)
    texts = [t for t, v in calls if v == failing]
    assert len(texts) == voice_scenes.TTS_ATTEMPTS and len(set(texts)) == len(texts)
    assert clip["spec"]["voice"] != failing and clip["voice"].any()
    assert clip["spec"]["text"] == calls[-1][0]
    calls.clear()  # the same data every time
    again = voice_scenes.make_scene(settings, "train", 0)
    assert again["spec"] == clip["spec"] and np.array_equal(again["mixture"], clip["mixture"])
    monkeypatch.setattr(tts, "synthesize_speech",
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no audio")))
    with pytest.raises(RuntimeError, match="No voice of the train pool"):
        voice_scenes.make_scene(settings, "train", 0)


def test_no_voice_scene_has_a_silent_voice_stem():
    settings = _catalogue_settings(seed=11)
    spec = scene_spec(settings, "test", 1)
    clip = render_scene(spec, np.random.default_rng(0), SR, 1.0)
    assert not clip["voice"].any() and clip["voice_end"] == 0.0 and np.isnan(clip["snr_db"])
    assert np.sqrt(np.mean(clip["background"].astype(np.float64) ** 2)) > 1e-4
    with pytest.raises(ValueError, match="pass its speech"):
        render_scene(scene_spec(settings, "test", 0), np.random.default_rng(0), SR, 1.0)


# --------------------------------------------------------------------------
# text to speech
# --------------------------------------------------------------------------
@pytest.mark.parametrize("voice", ["espeak-ng:en-us+f3", "flite:slt", "festival:kal_diphone"])
def test_each_engine_speaks(voice, tmp_path, monkeypatch):
    engine, name = tts.parse_voice(voice)
    installed = tts.discover_voices([engine])
    if not tts.voice_installed(voice, installed):
        pytest.skip(f"{voice} is not installed ({tts.install_hint([engine])})")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    wav = tts.synthesize_speech("The little dog walked home at 7 30.", voice, SR)
    assert os.listdir(tmp_path) == []  # the engine's temporary folder is gone
    assert wav.dtype == np.float32 and np.isfinite(wav).all()
    assert 0.8 < len(wav) / SR < 5.0
    edge = int(0.03 * SR)  # trimmed: speech close to both ends
    assert np.abs(wav[:edge]).max() > 0 and np.abs(wav[-edge:]).max() > 0


@needs_espeak
def test_speaking_rate_and_determinism():
    text = "Where is the station, thank you very much."
    slow = tts.synthesize_speech(text, "espeak-ng:de+m2", SR, rate=0.8)
    fast = tts.synthesize_speech(text, "espeak-ng:de+m2", SR, rate=1.25)
    assert len(fast) < 0.85 * len(slow)
    assert np.array_equal(slow, tts.synthesize_speech(text, "espeak-ng:de+m2", SR, rate=0.8))
    native = tts.synthesize_speech(text, "espeak-ng:de+m2", 22050, rate=0.8)
    assert abs(len(native) / 22050 - len(slow) / SR) < 0.05  # resampled, same length in time


def test_missing_engine_names_its_package(monkeypatch, tmp_path):
    monkeypatch.setattr(tts, "installed_engines", lambda: ())
    assert tts.discover_voices() == {}
    with pytest.raises(tts.TTSUnavailableError, match="apt-get install -y flite"):
        tts.synthesize_speech("hello", "flite:slt")
    with pytest.raises(tts.TTSUnavailableError,
                       match="apt-get install -y espeak-ng flite festival"):
        prepare_voice_scenes(str(tmp_path / "data"), num_train=2, num_valid=2, num_test=2)
    assert not (tmp_path / "data").exists()  # nothing written


def test_some_engines_installed(monkeypatch, tmp_path):
    # only training voices installed: the test split cannot be made, and says so
    monkeypatch.setattr(tts, "discover_voices",
                        lambda engines=None: {"festival": ("kal_diphone", "ked_diphone")})
    with pytest.raises(tts.TTSUnavailableError, match="test pool"):
        prepare_voice_scenes(str(tmp_path / "data"), num_train=2, num_valid=2, num_test=2)
    assert not (tmp_path / "data").exists()
    # a flite-only machine makes test clips (flite is a held-out engine)
    monkeypatch.setattr(tts, "discover_voices", lambda engines=None: {"flite": ("kal", "slt")})
    monkeypatch.setattr(tts, "engine_version", lambda engine: "test")
    settings = voice_scenes.voice_scenes_settings(0, 0, 4)
    assert voice_scenes.split_voices_of(settings) == {"train": [], "test": ["flite:slt"]}


def test_bad_arguments(tmp_path):
    data = tmp_path / "data"
    for kwargs, match in (
        (dict(engines=["say"]), "engines"),
        (dict(snr_db_range=(10, 0)), "snr_db_range"),
        (dict(duration=0.2), "duration"),
        (dict(num_test=-1), "num_test"),
        (dict(num_workers=0), "num_workers"),
    ):
        with pytest.raises(ValueError, match=match):
            _small(data, **kwargs)
    assert not data.exists()
    with pytest.raises(ValueError, match="engine:name"):
        tts.synthesize_speech("hello", "slt")


# --------------------------------------------------------------------------
# the data set on disk
# --------------------------------------------------------------------------
@needs_espeak
def test_prepare_is_deterministic_and_loads_with_speechbrain(tmp_path, monkeypatch):
    from speechbrain.dataio.dataset import DynamicItemDataset
    from speechbrain.dataio.dataio import read_audio

    a = _small(tmp_path / "a")
    b = _small(tmp_path / "b", num_workers=2)
    fewer = _small(tmp_path / "c", num_train=2)
    for split in ("train", "valid", "test"):
        names = sorted(os.listdir(tmp_path / "a" / split))
        assert names == sorted(os.listdir(tmp_path / "b" / split))
        for name in names:
            one = (tmp_path / "a" / split / name).read_bytes()
            assert one == (tmp_path / "b" / split / name).read_bytes(), name
            if os.path.exists(tmp_path / "c" / split / name):
                assert one == (tmp_path / "c" / split / name).read_bytes(), name
        assert open(a[split]).read() == open(b[split]).read()
    assert len(_read_csv(fewer["train"])) == 2

    rows = _read_csv(a["train"]) + _read_csv(a["test"])
    assert list(_read_csv(a["train"])[0]) == list(CSV_COLUMNS)
    assert [r["label"] for r in rows] == ["voice", "no_voice"] * 3
    for row in rows:
        paths = {k: row[k].replace("$data_root", str(tmp_path / "a"))
                 for k in ("wav", "voice_wav", "background_wav")}
        mix, voice, bg = (read_audio(paths[k]).numpy() for k in ("wav", "voice_wav", "background_wav"))
        assert np.array_equal(mix, voice + bg)
        start, end = round(float(row["voice_start"]) * SR), round(float(row["voice_end"]) * SR)
        if row["label"] == "voice":
            assert not voice[:start].any() and not voice[end:].any()
            assert np.sqrt(np.mean(voice[start:end] ** 2)) > 1e-4  # present where labelled
            assert -3.05 <= float(row["snr_db"])
        else:
            assert not voice.any() and row["snr_db"] == "nan" and start == end == 0

    data = DynamicItemDataset.from_csv(a["train"], replacements={"data_root": str(tmp_path / "a")})
    data.add_dynamic_item(read_audio, takes="wav", provides="sig")
    data.set_output_keys(["id", "sig", "label"])
    item = data[0]
    assert item["sig"].shape == (SR,) and item["label"] == "voice"

    settings = json.loads((tmp_path / "a" / "voice_scenes_settings.json").read_text())
    assert settings["voices"]["train"].keys() == {"espeak-ng"}
    assert settings["held_out_sounds"] == list(HELD_OUT_SOUNDS)

    def fail(*args, **kwargs):
        raise AssertionError("should have skipped")

    monkeypatch.setattr(voice_scenes, "_write_clip", fail)
    assert _small(tmp_path / "a") == a  # same settings: nothing regenerated
    # a recipe's hyperparameters, another save folder: the audio is reused
    hparams = {"data_folder": str(tmp_path / "a"), "num_train": 4, "num_valid": 2, "num_test": 2,
               "clip_duration": 1.0, "tts_engines": ["espeak-ng"]}
    s = voice_scenes.prepare_voice_scenes_from_hparams(hparams, str(tmp_path / "s"))
    assert all(open(s[split]).read() == open(a[split]).read() for split in a)
