"""The evaluation recipes (the harness), run as a user runs them, in --debug mode: the
genetic explainer alone (VocalMix: also resumed; ESC-50: on a generated stand-in of
the data set), and every method side by side with a trained L-MAC interpreter."""

import csv
import json
import os

from tests.helpers import listed_recipes, run_recipe
from tests.integration.test_lmac_recipe import make_esc50_standin


def row_for(task, hparams="ga"):
    return [r for r in listed_recipes() if r["Task"] == task and r["Script"].endswith("evaluate.py")
            and hparams in r["Hparams"]][0]


ROW = row_for("VocalMix/interpret")


def read_rows(out):
    with open(out / "per_clip.csv") as f:
        return list(csv.DictReader(f))


def test_ga_recipe_explains_saves_and_resumes(debug_classifier, tmp_path):
    out = tmp_path / "out"
    extra = ["--classifier_source", debug_classifier["pretrained"],
             "--test_csv", debug_classifier["manifests"]["test"]]
    run_recipe(ROW, debug_classifier["data_folder"], out, extra)
    folder = out / "explanations" / "in_domain" / "ga"
    rows = read_rows(out)
    assert len(rows) == 2 and {r["method"] for r in rows} == {"ga"}
    for row in rows:
        saved = json.load(open(folder / f"{row['ID']}.json"))
        assert saved["method"] == "ga" and saved["settings"]["fill"] == "zero"
        assert saved["settings"]["trim"] == 2  # the recipe passes trim (tests/recipes.csv)
        genome = saved["details"]["genome"]
        assert len(genome) == 32 and sum(genome) == saved["details"]["num_selected"]
        assert saved["details"]["evaluations"] == int(float(row["evaluations"])) <= 12
        assert 0.0 <= float(row["deletion_auc"]) <= 1.0 and 0.0 <= float(row["p_masked_in"]) <= 1.0
        assert os.path.isfile(folder / f"{row['ID']}_masked_in.wav")
    summary = json.load(open(out / "results.json"))["results"]["in_domain"]["ga"]
    assert summary["n"] == 2 and "deletion_auc" in summary

    # a second run finds every clip saved: nothing is recomputed, the table is rebuilt
    stamps = {name: os.path.getmtime(folder / name) for name in os.listdir(folder) if name.endswith(".wav")}
    run_recipe(ROW, debug_classifier["data_folder"], out, extra)
    assert stamps == {name: os.path.getmtime(folder / name) for name in stamps}
    again = read_rows(out)
    assert [r["ID"] for r in again] == [r["ID"] for r in rows]
    assert [r["p_masked_in"] for r in again] == [r["p_masked_in"] for r in rows]


def test_esc50_ga_recipe_explains_the_first_test_clips_on_a_standin(debug_classifier, tmp_path):
    data = tmp_path / "esc"
    make_esc50_standin(data / "ESC-50-master", clips_per_fold=3)  # 3 test clips, 2 explained
    out = tmp_path / "out"
    run_recipe(row_for("ESC50/interpret"), data, out,
               extra=["--classifier_source", debug_classifier["pretrained"]])
    assert (out / "save" / "test.csv").is_file()
    folder = out / "explanations" / "in_domain" / "ga"
    rows = read_rows(out)
    assert [r["ID"] for r in rows] == ["5-100-A-1", "5-101-A-0"]  # the first num_explain clips
    for row in rows:
        assert not any(k.startswith(("oracle", "energy")) for k in row)  # oracle_class: null
        saved = json.load(open(folder / f"{row['ID']}.json"))
        settings, details = saved["settings"], saved["details"]
        assert saved["method"] == "ga" and (settings["n_time"], settings["n_bands"]) == (10, 6)
        assert len(details["genome"]) == 60 and sum(details["genome"]) == details["num_selected"]
        assert details["evaluations"] <= 20
        assert 0.0 <= float(row["deletion_auc"]) <= 1.0 and 0.0 <= float(row["p_masked_in"]) <= 1.0
        assert os.path.isfile(folder / f"{row['ID']}_masked_in.wav")
    summary = json.load(open(out / "results.json"))["results"]["in_domain"]["ga"]
    assert summary["n"] == 2 and "insertion_auc" in summary


def test_every_method_in_one_table_with_the_trained_interpreter(debug_classifier, debug_interpreter,
                                                                 tmp_path):
    out = tmp_path / "out"
    run_recipe(row_for("VocalMix/interpret", "evaluate"), debug_classifier["data_folder"], out, extra=[
        "--classifier_source", debug_classifier["pretrained"],
        "--interpreter_source", str(debug_interpreter["output"] / "interpreter"),
        "--test_csv", debug_classifier["manifests"]["test"]])
    results = json.loads((out / "results.json").read_text())["results"]
    expected = {"L-MAC", "ga", "lime", "saliency", "integrated_gradients", "smoothgrad", "gradcam",
                "all_ones", "random"}
    assert set(results) == {"in_domain", "mixture", "speech_like", "white_noise"}
    for condition in results.values():
        assert set(condition) == expected
        assert all(entry["n"] == 2 for entry in condition.values())
    table = (out / "results.md").read_text()
    assert all(f"| {m} |" in table for m in expected) and "seconds_per_clip" in table
    rows = read_rows(out)
    assert len(rows) == 2 * len(expected) * 4
    lime = [r for r in rows if r["method"] == "lime"]
    assert all(float(r["evaluations"]) == 20 for r in lime)
