"""The genetic-explainer recipes, run as a user runs them, in --debug mode (VocalMix:
also resumed; ESC-50: on a generated stand-in of the data set)."""

import csv
import json
import os

from tests.helpers import listed_recipes, run_recipe
from tests.integration.test_lmac_recipe import make_esc50_standin


def row_for(task):
    return [r for r in listed_recipes() if r["Task"] == task and r["Script"].endswith("explain_ga.py")][0]


ROW = row_for("VocalMix/interpret")


def test_ga_recipe_explains_saves_and_resumes(debug_classifier, tmp_path):
    out = tmp_path / "out"
    extra = ["--classifier_source", debug_classifier["pretrained"],
             "--test_csv", debug_classifier["manifests"]["test"]]
    run_recipe(ROW, debug_classifier["data_folder"], out, extra)
    folder = out / "explanations"
    with open(folder / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    for row in rows:
        saved = json.load(open(folder / f"{row['ID']}.json"))
        assert saved["method"] == "genetic" and saved["settings"]["fill"] == "zero"
        genome = saved["settings"]["genome"]
        assert len(genome) == 32 and sum(genome) == saved["settings"]["num_selected"]
        assert saved["settings"]["evaluations"] <= 12
        assert 0.0 <= float(row["deletion_auc"]) <= 1.0 and 0.0 <= float(row["p_masked_in"]) <= 1.0
        assert os.path.isfile(folder / f"{row['ID']}_masked_in.wav")
    summary = json.load(open(folder / "metrics_summary.json"))
    assert summary["clips"] == 2 and "deletion_auc" in summary

    # a second run finds every clip saved: nothing is recomputed, the summary is rebuilt
    stamps = {name: os.path.getmtime(folder / name) for name in os.listdir(folder) if name.endswith(".wav")}
    run_recipe(ROW, debug_classifier["data_folder"], out, extra)
    assert stamps == {name: os.path.getmtime(folder / name) for name in stamps}
    with open(folder / "metrics.csv") as f:
        again = list(csv.DictReader(f))
    assert [r["ID"] for r in again] == [r["ID"] for r in rows]
    assert [r["p_masked_in"] for r in again] == [r["p_masked_in"] for r in rows]


def test_esc50_ga_recipe_explains_the_first_test_clips_on_a_standin(debug_classifier, tmp_path):
    data = tmp_path / "esc"
    make_esc50_standin(data / "ESC-50-master", clips_per_fold=3)  # 3 test clips, 2 explained
    out = tmp_path / "out"
    run_recipe(row_for("ESC50/interpret"), data, out,
               extra=["--classifier_source", debug_classifier["pretrained"]])
    assert (out / "save" / "test.csv").is_file()
    folder = out / "explanations"
    with open(folder / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["ID"] for r in rows] == ["5-100-A-1", "5-101-A-0"]  # the first num_explain clips
    for row in rows:
        assert not any(k.startswith(("oracle", "energy")) for k in row)  # oracle_class: null
        saved = json.load(open(folder / f"{row['ID']}.json"))
        settings = saved["settings"]
        assert saved["method"] == "genetic" and (settings["n_time"], settings["n_bands"]) == (10, 6)
        assert len(settings["genome"]) == 60 and sum(settings["genome"]) == settings["num_selected"]
        assert settings["evaluations"] <= 20
        assert 0.0 <= float(row["deletion_auc"]) <= 1.0 and 0.0 <= float(row["p_masked_in"]) <= 1.0
        assert os.path.isfile(folder / f"{row['ID']}_masked_in.wav")
    summary = json.load(open(folder / "metrics_summary.json"))
    assert summary["clips"] == 2 and "insertion_auc" in summary
