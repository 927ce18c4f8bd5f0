"""Generated data is the same on every machine: the content hashes of the manifests.

The constant below was recorded when the generator last changed
(``GENERATOR_VERSION`` 3 of ``vocalmix_synthesis``). A machine, or a numpy /
scipy / libsndfile version, that generates other samples fails here: then the
documented results of the recipes do not hold there as they are.
"""

import csv
import json
import os

import numpy as np

from speechbrain_xai.data.clip_sets import CSV_COLUMNS, check_content, content_hash, read_content_hash
from speechbrain_xai.data.vocalmix import SETTINGS_FILE, prepare_vocalmix
from speechbrain_xai.data.vocalmix_synthesis import mix_at_level

#: Eight short clips of both labels.
SMALL = dict(num_train=4, num_valid=2, num_test=2, duration=0.5, seed=1234)
SMALL_SHA256 = "bfa4adc5509cd91ea9c4c9d9b96eddf396438fd1b7ec0e4c698cd23b84311417"


def test_small_vocalmix_has_the_recorded_hash(tmp_path):
    csvs = prepare_vocalmix(tmp_path, **SMALL)
    recorded = read_content_hash(tmp_path, SETTINGS_FILE)
    assert recorded["sha256"] == content_hash(csvs)
    assert recorded["sha256"] == SMALL_SHA256, (
        "VocalMix generated other samples than on the machine that recorded SMALL_SHA256 "
        "(library versions? CPU?); compare the manifests' sha256 column clip by clip")
    assert recorded["clips"] == {"train": 4, "valid": 2, "test": 2}
    assert check_content(csvs, str(tmp_path)) == []


def test_every_clip_has_its_hash_and_a_changed_file_is_found(tmp_path):
    csvs = prepare_vocalmix(tmp_path, num_train=2, num_valid=1, num_test=1, duration=0.5)
    with open(csvs["train"]) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert all(len(r["sha256"]) == 64 for r in rows) and rows[0]["sha256"] != rows[1]["sha256"]
    wav = rows[1]["background_wav"].replace("$data_root", str(tmp_path))
    with open(wav, "r+b") as f:  # one sample changed
        f.seek(-4, os.SEEK_END)
        f.write(b"\x00\x00\x80\x3f")
    assert check_content(csvs, str(tmp_path)) == [rows[1]["ID"]]


def test_the_hash_does_not_depend_on_worker_processes(tmp_path):
    one = prepare_vocalmix(tmp_path / "one", **SMALL)
    two = prepare_vocalmix(tmp_path / "two", **SMALL, num_workers=2)
    assert content_hash(one) == content_hash(two)


def test_a_data_set_without_hashes_is_generated_again(tmp_path):
    prepare_vocalmix(tmp_path, **SMALL)
    os.remove(tmp_path / "vocalmix_hash.json")  # as written before hashes existed
    csvs = prepare_vocalmix(tmp_path, **SMALL)
    with open(tmp_path / "vocalmix_hash.json") as f:
        assert json.load(f)["sha256"] == content_hash(csvs) == SMALL_SHA256


def test_rounding_differences_of_another_machine_do_not_reach_the_samples():
    rng = np.random.default_rng(0)
    fade = np.linspace(0.0, 1.0, 8000) ** 6  # many samples near zero, whose float32 step is tiny
    voice, background = rng.standard_normal(8000) * fade, 0.1 * rng.standard_normal(8000) * fade
    # float64 results off by ~1e-17, as another CPU's maths functions give after some arithmetic
    nudged = voice + 1e-17 * rng.standard_normal(8000)
    ours, theirs = mix_at_level(voice, background, -20.0), mix_at_level(nudged, background, -20.0)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs))
    assert np.array_equal(ours[2], ours[0] + ours[1])  # mixture == voice + background, exactly
