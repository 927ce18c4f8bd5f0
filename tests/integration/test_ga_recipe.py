"""The genetic-explainer recipe, run as a user runs it, in --debug mode, and resumed."""

import csv
import json
import os

from tests.helpers import listed_recipes, run_recipe

ROW = [r for r in listed_recipes() if r["Script"].endswith("interpret/explain_ga.py")][0]


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
