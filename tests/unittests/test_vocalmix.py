"""Tests for the VocalMix data set on disk (speechbrain_xai.data.vocalmix)."""

import csv
import json
import os

import numpy as np
import pytest

from speechbrain_xai.data import vocalmix
from speechbrain_xai.data.vocalmix import prepare_vocalmix
from speechbrain_xai.data.vocalmix_synthesis import clip_rng, synthesize_clip

SR = 16000


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _small(folder, **kwargs):
    args = dict(num_train=4, num_valid=2, num_test=2, duration=0.5)
    args.update(kwargs)
    return prepare_vocalmix(str(folder), **args)


# --------------------------------------------------------------------------
# prepare_vocalmix
# --------------------------------------------------------------------------
def test_manifests_load_with_speechbrain(tmp_path):
    from speechbrain.dataio.dataio import read_audio
    from speechbrain.dataio.dataset import DynamicItemDataset

    data = tmp_path / "data"
    csvs = _small(data, num_train=5)
    assert set(csvs) == {"train", "valid", "test"}
    for split, path in csvs.items():
        assert os.path.dirname(path) == str(data)
        with open(path, encoding="utf-8") as f:
            assert f.readline().strip() == ",".join(vocalmix.CSV_COLUMNS)
        dataset = DynamicItemDataset.from_csv(path, replacements={"data_root": str(data)})
        assert len(dataset) == {"train": 5, "valid": 2, "test": 2}[split]
        for clip_id in dataset.data_ids:
            row = dataset.data[clip_id]
            assert row["duration"] == 0.5
            mix = read_audio(row["wav"]).numpy()
            voice = read_audio(row["voice_wav"]).numpy()
            background = read_audio(row["background_wav"]).numpy()
            assert mix.shape == voice.shape == background.shape == (int(0.5 * SR),)
            assert np.array_equal(mix, voice + background)  # float32 wavs: exact
            start, end = float(row["voice_start"]), float(row["voice_end"])
            if row["label"] == "voice":
                assert 0 <= start < end <= 0.5 and np.isfinite(float(row["snr_db"]))
                assert np.abs(voice).max() > 0
            else:
                assert start == end == 0.0 and np.isnan(float(row["snr_db"]))
                assert not voice.any()
    labels = [r["label"] for r in _read_csv(csvs["train"])]
    assert labels == ["voice", "no_voice", "voice", "no_voice", "voice"]
    settings = json.loads((data / "vocalmix_settings.json").read_text())
    assert settings["num_train"] == 5 and settings["seed"] == 1234
    assert not [n for n in os.listdir(data) if n.startswith(".")]  # no temporaries left


def test_save_folder_and_balance(tmp_path):
    manifests = tmp_path / "manifests"
    csvs = _small(tmp_path / "data", save_folder=manifests, num_train=12, task="source")
    assert all(os.path.dirname(p) == str(manifests) for p in csvs.values())
    labels = [r["label"] for r in _read_csv(csvs["train"])]
    assert {lab: labels.count(lab) for lab in set(labels)} == {"voice": 4, "music": 4, "noise": 4}


def test_clip_identical_when_sizes_change(tmp_path):
    import soundfile as sf

    a = _small(tmp_path / "a", num_train=3, num_valid=1, num_test=2)
    b = _small(tmp_path / "b", num_train=6, num_valid=2, num_test=1)
    rows_a = {r["ID"]: r for split in a for r in _read_csv(a[split])}
    rows_b = {r["ID"]: r for split in b for r in _read_csv(b[split])}
    common = sorted(set(rows_a) & set(rows_b))
    assert common == ["test_00000", "train_00000", "train_00001", "train_00002", "valid_00000"]
    for clip_id in common:
        assert rows_a[clip_id] == rows_b[clip_id]
        split = clip_id.split("_")[0]
        for stem in ("mix", "voice", "background"):
            xa, _ = sf.read(tmp_path / "a" / split / f"{clip_id}_{stem}.wav", dtype="float32")
            xb, _ = sf.read(tmp_path / "b" / split / f"{clip_id}_{stem}.wav", dtype="float32")
            assert np.array_equal(xa, xb)
    # and the files are the in-memory clips
    clip = synthesize_clip(clip_rng(1234, "train", 2), duration=0.5, voice=True)
    x, _ = sf.read(tmp_path / "a" / "train" / "train_00002_mix.wav", dtype="float32")
    assert np.array_equal(x, clip["mixture"])


def test_workers_give_identical_files(tmp_path):
    _small(tmp_path / "one", num_train=4, num_valid=0, num_test=0)
    _small(tmp_path / "two", num_train=4, num_valid=0, num_test=0, num_workers=2)
    one, two = tmp_path / "one", tmp_path / "two"
    assert sorted(os.listdir(one / "train")) == sorted(os.listdir(two / "train"))
    for name in os.listdir(one / "train"):
        assert (one / "train" / name).read_bytes() == (two / "train" / name).read_bytes()
    assert (one / "train.csv").read_text() == (two / "train.csv").read_text()


def test_skip_if_exists(tmp_path, monkeypatch):
    data = tmp_path / "data"
    csvs = _small(data)
    stamp = {p: os.stat(p).st_mtime_ns for p in csvs.values()}

    def fail(*args, **kwargs):
        raise AssertionError("should have skipped")

    monkeypatch.setattr(vocalmix, "_write_clip", fail)
    assert _small(data) == csvs
    assert {p: os.stat(p).st_mtime_ns for p in csvs.values()} == stamp
    monkeypatch.undo()

    # different settings: regenerated
    old = (data / "train" / "train_00000_mix.wav").read_bytes()
    _small(data, seed=99)
    assert (data / "train" / "train_00000_mix.wav").read_bytes() != old
    assert json.loads((data / "vocalmix_settings.json").read_text())["seed"] == 99
    # fewer clips: the extra files of the previous run are gone
    _small(data, seed=99, num_train=2)
    assert sorted(os.listdir(data / "train")) == sorted(
        f"train_0000{i}_{s}.wav" for i in range(2) for s in ("mix", "voice", "background")
    )
    # a missing manifest: regenerated
    os.remove(csvs["valid"])
    _small(data, seed=99, num_train=2)
    assert os.path.isfile(csvs["valid"])
    # skip_if_exists=False: always regenerated
    monkeypatch.setattr(vocalmix, "_write_clip", fail)
    with pytest.raises(AssertionError, match="should have skipped"):
        _small(data, seed=99, num_train=2, skip_if_exists=False)


def test_shared_data_folder_stays_consistent(tmp_path):
    data = tmp_path / "data"
    a = _small(data, save_folder=tmp_path / "a", num_train=6)
    _small(data, save_folder=tmp_path / "b", num_train=2)  # rewrites the shared audio
    assert json.loads((data / "vocalmix_settings.json").read_text())["num_train"] == 2
    a = _small(data, save_folder=tmp_path / "a", num_train=6)  # must notice and regenerate
    for row in _read_csv(a["train"]):
        assert os.path.isfile(row["wav"].replace("$data_root", str(data)))


def test_second_save_folder_reuses_the_audio(tmp_path, monkeypatch):
    data = tmp_path / "data"
    a = _small(data, save_folder=tmp_path / "a")
    stamp = {n: os.stat(data / "train" / n).st_mtime_ns for n in os.listdir(data / "train")}

    def fail(*args, **kwargs):
        raise AssertionError("should have reused the audio")

    monkeypatch.setattr(vocalmix, "_write_clip", fail)
    b = _small(data, save_folder=tmp_path / "b")  # another recipe, same settings
    assert all(open(a[s]).read() == open(b[s]).read() for s in a)
    assert (tmp_path / "b" / "vocalmix_settings.json").read_text() == (
        tmp_path / "a" / "vocalmix_settings.json").read_text()
    assert stamp == {n: os.stat(data / "train" / n).st_mtime_ns for n in os.listdir(data / "train")}
    # a missing audio file: the copy is refused and the audio generated again
    os.remove(data / "train" / "train_00000_voice.wav")
    with pytest.raises(AssertionError, match="should have reused"):
        _small(data, save_folder=tmp_path / "c")
    monkeypatch.undo()
    c = _small(data, save_folder=tmp_path / "c")
    assert os.path.isfile(data / "train" / "train_00000_voice.wav")
    assert open(a["train"]).read() == open(c["train"]).read()


def test_interrupted_run_leaves_no_manifest(tmp_path, monkeypatch):
    data = tmp_path / "data"
    _small(data)
    real = vocalmix._write_clip

    def crash(folder, split, settings, index):
        if split == "valid":
            raise KeyboardInterrupt
        return real(folder, split, settings, index)

    monkeypatch.setattr(vocalmix, "_write_clip", crash)
    with pytest.raises(KeyboardInterrupt):
        _small(data, seed=7)
    assert not [n for n in os.listdir(data) if n.endswith((".csv", ".json")) or n.startswith(".")]
    monkeypatch.undo()
    csvs = _small(data, seed=7)
    assert all(os.path.isfile(p) for p in csvs.values())


def test_bad_prepare_arguments(tmp_path):
    data = tmp_path / "data"
    for kwargs, match in (
        (dict(num_train=-1), "num_train"),
        (dict(num_valid=1.5), "num_valid"),
        (dict(duration=0.3), "duration"),
        (dict(task="speaker"), "task"),
        (dict(sample_rate=100), "sample_rate"),
        (dict(seed=-3), "seed"),
        (dict(num_workers=0), "num_workers"),
    ):
        with pytest.raises(ValueError, match=match):
            _small(data, **kwargs)
    assert not data.exists()  # nothing written on bad input
    (data / "train").mkdir(parents=True)
    (data / "train" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="did not write"):
        _small(data)
    assert (data / "train" / "notes.txt").exists()


def test_empty_split(tmp_path):
    # a size of 0 is allowed: the manifest holds only its header
    csvs = _small(tmp_path, num_valid=0)
    assert _read_csv(csvs["valid"]) == []
    assert open(csvs["valid"], encoding="utf-8").read().strip() == ",".join(vocalmix.CSV_COLUMNS)
    assert os.listdir(tmp_path / "valid") == []
