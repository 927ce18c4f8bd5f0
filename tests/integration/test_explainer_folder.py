"""Any registered explainer as a SpeechBrain pretrained folder: export, then from_hparams."""

import csv
import os

import pytest
import torch

from speechbrain_xai import ClassifierAdapter, get_explainer
from speechbrain_xai.inference import ExplainerInterface, export_explainer

GA = {"n_time": 4, "n_bands": 2, "population_size": 6, "max_generations": 2, "max_evaluations": 14,
      "prune": 2, "seed": 3}


def first_test_clip(debug_classifier):
    with open(debug_classifier["manifests"]["test"]) as f:
        row = next(csv.DictReader(f))
    return row["wav"].replace("$data_root", debug_classifier["data_folder"])


def test_the_ga_on_a_classifier_loads_like_any_speechbrain_model(debug_classifier, tmp_path):
    folder = export_explainer(str(tmp_path / "ga_explainer"), debug_classifier["pretrained"], "ga", GA)
    # the hub layout: the classifier's checkpoints beside one hyperparams.yaml
    assert {"hyperparams.yaml", "embedding_model.ckpt", "classifier.ckpt"} <= set(os.listdir(folder))
    explainer = ExplainerInterface.from_hparams(folder, savedir=str(tmp_path / "savedir"))
    assert explainer.explainer.name == "ga" and explainer.explainer.settings()["n_time"] == 4
    path = first_test_clip(debug_classifier)
    exp = explainer.explain_file(path, target="voice")
    assert exp.method == "ga" and exp.class_names == ["voice", "no_voice"]
    assert exp.target.tolist() == [0] and exp.mask.shape[0] == 1
    # the same explainer built by hand on the classifier's own folder gives the same mask
    adapter = ClassifierAdapter.from_hparams(debug_classifier["pretrained"], savedir=str(tmp_path / "c"))
    direct = get_explainer("ga", adapter, **GA).explain(explainer.load_audio(path).unsqueeze(0),
                                                         target="voice")
    assert torch.equal(direct.mask, exp.mask)
    batch = explainer(torch.stack([explainer.load_audio(path)] * 2))
    assert torch.equal(batch.mask[0], batch.mask[1])


def test_export_refuses_what_it_cannot_write(debug_classifier, tmp_path):
    with pytest.raises(ValueError, match="Unknown explainer"):
        export_explainer(str(tmp_path / "a"), debug_classifier["pretrained"], "shap")
    with pytest.raises(ValueError, match="plain values"):
        export_explainer(str(tmp_path / "b"), debug_classifier["pretrained"], "ga",
                         {"selection": torch.sigmoid})
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
