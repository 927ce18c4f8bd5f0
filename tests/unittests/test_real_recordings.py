"""Tests for the real-recordings test set (speechbrain_xai.data.real_recordings
and its catalogue, speechbrain_xai.data.debian_sounds).

The set is built from Debian packages; the tests that build it use the two
smallest (sound-theme-freedesktop and asterisk-prompt-es-co, 1.7 MB installed)
and are skipped without them. The catalogue's rules (exclusions, duplicates,
missing packages) are also tested on a small fake file tree, everywhere."""

import csv
import fnmatch
import logging
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from speechbrain_xai.data import debian_sounds
from speechbrain_xai.data.clip_sets import CSV_COLUMNS
from speechbrain_xai.data.debian_sounds import (
    ASTERISK,
    NOT_SOUND,
    NOT_SPEECH,
    THEMES,
    find_recordings,
    read_recording,
)
from speechbrain_xai.data.real_recordings import (
    MANIFEST_COLUMNS,
    place_speech,
    prepare_real_recordings,
    sound_track,
)

SMALL = ("sound-theme-freedesktop", "asterisk-prompt-es-co")
_SMALL_FOLDERS = (f"/{THEMES}/freedesktop/stereo", f"/{ASTERISK}/es")
needs_packages = pytest.mark.skipif(
    not all(os.path.isdir(p) for p in _SMALL_FOLDERS),
    reason="the Debian sound packages are not installed "
           "(apt-get install -y sound-theme-freedesktop asterisk-prompt-es-co: 1.7 MB)",
)


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _stems(row, root):
    return [sf.read(row[c].replace("$data_root", root), dtype="float32")[0]
            for c in ("wav", "voice_wav", "background_wav")]


def _tiny(folder, num_voice=4, num_no_voice=4):
    return prepare_real_recordings(str(folder), num_voice=num_voice, num_no_voice=num_no_voice,
                                   duration=1.0, packages=SMALL)


# --------------------------------------------------------------------------
# the set, from the installed packages
# --------------------------------------------------------------------------
@needs_packages
def test_tiny_set_manifest_and_stems(tmp_path):
    csvs = _tiny(tmp_path)
    assert list(csvs) == ["test"]
    rows = _read_csv(csvs["test"])
    assert tuple(rows[0]) == MANIFEST_COLUMNS and MANIFEST_COLUMNS[:len(CSV_COLUMNS)] == CSV_COLUMNS
    assert [r["label"] for r in rows] == ["voice", "no_voice"] * 4
    # the only voice of these packages; the conditions take turns (no pink noise installed)
    voices = [r for r in rows if r["label"] == "voice"]
    assert {r["kind"] for r in voices} == {"es_co"}
    assert [r["condition"] for r in voices] == ["alone", "over_sound_6dB", "over_sound_0dB",
                                                "over_sound_12dB"]
    for row in rows:
        mix, voice, background = _stems(row, str(tmp_path))
        assert mix.shape == (16000,) and np.array_equal(mix, voice + background)
        packages = [s.split(":", 1)[0] for s in row["source"].split(" + ")]
        assert set(packages) <= set(SMALL)
        start = round(float(row["voice_start"]) * 16000)
        end = round(float(row["voice_end"]) * 16000)
        if row["label"] == "voice":
            assert packages[0] == "asterisk-prompt-es-co" and 0 <= start < end <= 16000
            assert not voice[:start].any() and not voice[end:].any() and voice[start:end].any()
            alone = row["condition"] == "alone"
            assert (row["snr_db"] == "inf") == alone and background.any() != alone
        else:
            assert packages[0] == "sound-theme-freedesktop" and row["snr_db"] == "nan"
            assert not voice.any() and background.any() and start == end == 0
    assert len({r["kind"] for r in rows if r["label"] == "no_voice"}) == 4  # kinds take turns


@needs_packages
def test_same_seed_same_bytes_and_more_clips_extend_the_set(tmp_path):
    small = _read_csv(_tiny(tmp_path / "a", 2, 2)["test"])
    again = _read_csv(_tiny(tmp_path / "b", 2, 2)["test"])
    larger = _read_csv(_tiny(tmp_path / "c", 3, 3)["test"])
    for name, other in (("b", again), ("c", larger)):
        for row, twin in zip(small, other):
            assert row == twin
            a = row["wav"].replace("$data_root", str(tmp_path / "a"))
            b = twin["wav"].replace("$data_root", str(tmp_path / name))
            assert open(a, "rb").read() == open(b, "rb").read()
    assert len(larger) == 6


@needs_packages
def test_installed_files_respect_the_exclusion_lists():
    for kind, recordings in find_recordings().items():
        for rec in recordings:
            if rec.label == "voice":
                assert os.path.splitext(os.path.basename(rec.path))[0] not in NOT_SPEECH, rec
            else:
                assert not any(fnmatch.fnmatch(rec.path, p) for p in NOT_SOUND), rec
                assert "audio-channel" not in rec.path, rec


# --------------------------------------------------------------------------
# the catalogue's rules, on a fake file tree (runs everywhere)
# --------------------------------------------------------------------------
def _fake_tree(root):
    rng = np.random.default_rng(0)
    stereo = root / THEMES / "freedesktop" / "stereo"
    stereo.mkdir(parents=True)
    sf.write(stereo / "bell.oga", rng.standard_normal(4410) * 0.1, 44100, format="OGG")
    shutil.copyfile(stereo / "bell.oga", stereo / "message.oga")  # the same bytes
    shutil.copyfile(stereo / "bell.oga", stereo / "audio-channel-front-left.oga")  # "spoken"
    prompts = root / ASTERISK / "es"
    prompts.mkdir(parents=True)
    for name in ("hola", "beep"):  # beep: a tone in a voice folder
        sf.write(prompts / f"{name}.gsm", rng.standard_normal(12000) * 0.1, 8000,
                 format="RAW", subtype="GSM610")


def test_catalogue_rules_on_a_fake_tree(tmp_path, caplog):
    _fake_tree(tmp_path)
    with caplog.at_level(logging.WARNING):
        found = find_recordings(str(tmp_path), packages=[*SMALL, "alsa-utils"])
    # one warning names the missing package and what it would have given
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "alsa-utils (speaker_test_en, noise)" in warnings[0]
    paths = {kind: [os.path.basename(r.path) for r in recs] for kind, recs in found.items()}
    # spoken channel names and the beep are left out; identical files are used once
    assert paths == {"es_co": ["hola.gsm"], "bell": ["bell.oga"]}
    wav = read_recording(str(tmp_path / ASTERISK / "es" / "hola.gsm"), 16000)
    assert wav.shape == (24000,) and np.isfinite(wav).all()
    with pytest.raises(ValueError, match="Unknown package"):
        find_recordings(str(tmp_path), packages=["no-such-package"])


def test_nothing_installed_is_one_clear_error(tmp_path):
    with pytest.raises(RuntimeError, match="apt-get install -y sound-theme-freedesktop"):
        prepare_real_recordings(str(tmp_path / "data"), source_root=str(tmp_path))
    assert not (tmp_path / "data").exists()


def test_every_package_of_the_catalogue_is_listed_once():
    assert len(set(debian_sounds.PACKAGES)) == len(debian_sounds.PACKAGES)
    assert {s.package for s in debian_sounds.SOURCES} == set(debian_sounds.PACKAGES)


# --------------------------------------------------------------------------
# shaping recordings into clips
# --------------------------------------------------------------------------
def test_place_speech_cuts_a_window_of_speech():
    rng = np.random.default_rng(0)
    speech = np.concatenate([np.ones(3000), np.zeros(3000), np.ones(6000)])  # 8 kHz
    voice, start, end = place_speech(rng, speech, 4000, 8000)
    assert (start, end) == (0, 4000)
    assert np.mean(np.abs(voice) > 0.5) >= 0.6  # mostly speech, not the pause


def test_sound_track_fills_the_clip_from_a_short_sound():
    for seed in range(6):
        track = sound_track(np.random.default_rng(seed), np.ones(300), 4000, 8000)
        assert track.shape == (4000,) and 290 <= np.count_nonzero(track) <= 4000
