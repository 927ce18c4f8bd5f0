"""Tests for the VocalMix generator (speechbrain_xai.data.vocalmix)."""

import csv
import json
import os

import numpy as np
import pytest

from speechbrain_xai.data import vocalmix
from speechbrain_xai.data.vocalmix import (
    clip_rng,
    clip_spec,
    prepare_vocalmix,
    synthesize_clip,
    voice_activity,
)

SR = 16000
ARRAYS = ("mixture", "voice", "background", "voice_f0")


def _read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _small(folder, **kwargs):
    args = dict(num_train=4, num_valid=2, num_test=2, duration=0.5)
    args.update(kwargs)
    return prepare_vocalmix(str(folder), **args)


# --------------------------------------------------------------------------
# synthesize_clip
# --------------------------------------------------------------------------
def test_same_seed_same_clip():
    for voice in (True, False):
        a = synthesize_clip(np.random.default_rng(5), voice=voice)
        b = synthesize_clip(np.random.default_rng(5), voice=voice)
        for key in ARRAYS:
            assert np.array_equal(a[key], b[key]), key
        assert a["voice_start"] == b["voice_start"]
        assert a["background_families"] == b["background_families"]
    c = synthesize_clip(np.random.default_rng(6), voice=True)
    assert not np.array_equal(a["mixture"], c["mixture"])


@pytest.mark.parametrize("background", ["mix", "music", "noise"])
@pytest.mark.parametrize("voice", [True, False])
def test_mixture_is_sum_of_stems(voice, background):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        clip = synthesize_clip(rng, duration=1.0, voice=voice, background=background)
        n = SR
        for key in ARRAYS:
            assert clip[key].shape == (n,) and clip[key].dtype == np.float32
            assert np.isfinite(clip[key]).all()
        assert np.array_equal(clip["mixture"], clip["voice"] + clip["background"])
        assert np.abs(clip["mixture"]).max() <= 0.95
        assert -40.0 < clip["level_db"] < -15.0
        assert np.sqrt(np.mean(clip["background"].astype(np.float64) ** 2)) > 0
        families = set(clip["background_families"])
        if background == "music":
            assert families <= set(vocalmix.INSTRUMENT_FAMILIES)
        if background == "noise":
            assert families <= set(vocalmix.NOISE_FAMILIES)


def test_voice_stem_confined_to_its_interval():
    for seed in range(8):
        clip = synthesize_clip(np.random.default_rng(seed), voice=True)
        start, end = round(clip["voice_start"] * SR), round(clip["voice_end"] * SR)
        v = clip["voice"].astype(np.float64)
        assert 0 <= start < end <= len(v)
        assert 0.3 - 1e-3 <= (end - start) / len(v) <= 0.8 + 1e-3
        assert not v[:start].any() and not v[end:].any()
        inside = v[start:end]
        # energy throughout the interval, not only somewhere in it
        for quarter in np.array_split(inside[int(0.1 * SR): -int(0.1 * SR) or None], 4):
            assert np.sqrt(np.mean(quarter**2)) > 1e-4
        # the SNR reported is the one in the mixture, over the voice interval
        b = clip["background"][start:end].astype(np.float64)
        snr = 10 * np.log10(np.mean(inside**2) / np.mean(b**2))
        assert abs(snr - clip["snr_db"]) < 0.01
        low, high = vocalmix.DEFAULT_SNR_DB_RANGE
        assert low - 1e-6 <= clip["snr_db"] <= high + 1e-6
        n = np.arange(len(v))
        assert ((clip["voice_f0"] > 0) == ((n >= start) & (n < end))).all()
        # frame annotation follows the interval
        act = voice_activity(clip["voice_start"], clip["voice_end"], 200, 2.0)
        assert act.sum() == pytest.approx((end - start) / SR * 100, abs=1)


def test_no_voice_clip_has_silent_voice_stem():
    clip = synthesize_clip(np.random.default_rng(0), voice=False)
    assert not clip["voice"].any() and not clip["voice_f0"].any()
    assert clip["voice_start"] == clip["voice_end"] == 0.0
    assert np.isnan(clip["snr_db"]) and clip["voice_info"] == {}
    assert np.array_equal(clip["mixture"], clip["background"])


def _acf_f0(frame, fmin=90.0, fmax=500.0):
    frame = frame - frame.mean()
    ac = np.correlate(frame, frame, "full")[len(frame) - 1:]
    ac = ac / ac[0]
    lo, hi = int(SR / fmax), int(SR / fmin)
    lag = lo + int(np.argmax(ac[lo:hi]))
    return SR / lag, ac[lag]


def test_voice_is_harmonic_and_follows_its_f0():
    clip = synthesize_clip(np.random.default_rng(3), voice=True)
    start, end = round(clip["voice_start"] * SR), round(clip["voice_end"] * SR)
    peaks, errors = [], []
    for pos in range(start + 1600, end - 2400, 800):
        f0, peak = _acf_f0(clip["voice"][pos:pos + 640].astype(np.float64))
        peaks.append(peak)
        errors.append(abs(1200 * np.log2(f0 / clip["voice_f0"][pos + 320])))
    assert np.median(peaks) > 0.6  # strong periodicity at 1/f0
    assert np.median(errors) < 30  # cents


def test_bad_clip_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="duration"):
        synthesize_clip(rng, duration=0.2)
    with pytest.raises(ValueError, match="sample_rate"):
        synthesize_clip(rng, sample_rate=4000)
    with pytest.raises(ValueError, match="background"):
        synthesize_clip(rng, background="choir")
    with pytest.raises(ValueError, match="snr_db_range"):
        synthesize_clip(rng, snr_db_range=(10, -5))


def test_clip_rng_and_spec():
    assert clip_rng(1, "train", 0).random() == clip_rng(1, "train", 0).random()
    assert clip_rng(1, "train", 0).random() != clip_rng(1, "train", 1).random()
    assert clip_rng(1, "train", 0).random() != clip_rng(1, "test", 0).random()
    assert clip_rng(1, "train", 0).random() != clip_rng(2, "train", 0).random()
    assert [clip_spec("voice", i)[:2] for i in range(2)] == [("voice", True), ("no_voice", False)]
    assert [clip_spec("source", i) for i in range(1, 3)] == [
        ("music", False, "music"),
        ("noise", False, "noise"),
    ]


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


# --------------------------------------------------------------------------
# the label must not be given away by loudness or one frequency band
# --------------------------------------------------------------------------
def _best_threshold_accuracy(feature, labels):
    order = np.argsort(feature, kind="stable")
    y = labels[order]
    neg_below = np.concatenate([[0], np.cumsum(1 - y)])
    pos_above = y.sum() - np.concatenate([[0], np.cumsum(y)])
    acc = (neg_below + pos_above) / len(y)
    return float(max(acc.max(), 1.0 - acc.min()))


def test_not_trivially_separable():
    num = 200
    labels = np.array([i % 2 == 0 for i in range(num)], dtype=int)
    mixes = np.stack(
        [
            synthesize_clip(clip_rng(2024, "train", i), voice=bool(labels[i]))["mixture"]
            for i in range(num)
        ]
    ).astype(np.float64)

    features = {
        "rms": np.log(np.sqrt(np.mean(mixes**2, axis=1))),
        "peak": np.log(np.abs(mixes).max(axis=1)),
    }
    n_fft, hop = 512, 256
    frames = np.lib.stride_tricks.sliding_window_view(mixes, n_fft, axis=1)[:, ::hop]
    frames = frames * np.hanning(n_fft)
    power = (np.abs(np.fft.rfft(frames, axis=-1)) ** 2).sum(axis=1)  # [clips, bins]
    freqs = np.fft.rfftfreq(n_fft, 1.0 / SR)
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    edges = {
        "linear": np.linspace(0, SR / 2, 17),
        "mel": 700 * (10 ** (np.linspace(0, mel(SR / 2), 17) / 2595) - 1),
    }
    total = power.sum(axis=1)
    for scale, e in edges.items():
        for b in range(16):
            band = power[:, (freqs >= e[b]) & (freqs <= e[b + 1])].sum(axis=1) + 1e-20
            features[f"{scale}{b}"] = np.log(band)
            features[f"{scale}{b}_relative"] = np.log(band / total)
    accuracies = {name: _best_threshold_accuracy(f, labels) for name, f in features.items()}
    worst = max(accuracies, key=accuracies.get)
    assert accuracies[worst] < 0.75, (worst, accuracies[worst])
