"""The VocalMix classification recipe, run as a user runs it, in --debug mode."""

import csv

import pytest
import torch

from speechbrain_xai import ClassifierAdapter
from tests.helpers import listed_recipes, run_recipe

ROWS = [r for r in listed_recipes() if r["Task"] == "VocalMix/classification"]


@pytest.mark.parametrize("row", ROWS, ids=[r["Hparams"].rsplit("/", 1)[-1] for r in ROWS])
def test_recipe_runs_and_export_reproduces_predictions(row, tmp_path):
    import speechbrain as sb

    out = tmp_path / "out"
    run_recipe(row, tmp_path / "data", out)
    folder = out / "pretrained"
    assert (folder / "hyperparams.yaml").is_file()
    adapter = ClassifierAdapter.from_hparams(str(folder), savedir=str(tmp_path / "savedir"))
    assert adapter.sample_rate == 16000 and sorted(adapter.class_names) == ["no_voice", "voice"]
    assert adapter.has_feature_path

    with open(out / "test_predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows, "the recipe wrote no test predictions"
    with open(out / "save" / "test.csv") as f:
        wav_of = {r["ID"]: r["wav"].replace("$data_root", str(tmp_path / "data")) for r in csv.DictReader(f)}
    for r in rows:
        wav = sb.dataio.dataio.read_audio(wav_of[r["ID"]])
        probs = adapter.probabilities(*adapter.prepare(wav))[0]
        expected = torch.tensor([float(r[name]) for name in adapter.class_names])
        assert torch.allclose(probs, expected, atol=1e-4), (r["ID"], probs, expected)
