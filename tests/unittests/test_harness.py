"""The evaluation harness: several explainers, conditions, ground truth, one table, resume."""

import csv
import json
import os

import pytest
import torch

from speechbrain_xai.brains.harness import TABLE_COLUMNS, ResultsTable, evaluate_explainers


@pytest.fixture
def voice_adapter(tiny_modules):
    from speechbrain_xai.adapter import ClassifierAdapter
    from speechbrain_xai.lobes.classifiers import ClassifierHead

    torch.manual_seed(0)
    modules = dict(tiny_modules, classifier=ClassifierHead(16, 2))
    return ClassifierAdapter.from_modules(sample_rate=16000, class_names=["voice", "no_voice"],
                                          **modules)


@pytest.fixture(scope="module")
def tiny_vocalmix(tmp_path_factory):
    from speechbrain_xai.data.datasets import vocalmix_datasets
    from speechbrain_xai.data.vocalmix import prepare_vocalmix

    folder = str(tmp_path_factory.mktemp("vocalmix"))
    csvs = prepare_vocalmix(folder, num_train=0, num_valid=0, num_test=4, duration=0.5)
    return vocalmix_datasets({"test": csvs["test"]}, folder, 16000)["test"]


GA = {"n_time": 2, "n_bands": 2, "population_size": 4, "max_generations": 2, "max_evaluations": 10,
      "prune": 2}


def run(adapter, data, folder, **options):
    explainers = {"saliency": {}, "ga": dict(GA), "noise": {"method": "random", "seed": 3}}
    return evaluate_explainers(
        adapter, explainers, data, str(folder / "results"), loader_kwargs={"batch_size": 2},
        conditions={"in_domain": {"kind": "none"}, "white": {"kind": "white", "snr_db": 0.0}},
        oracle_class="voice", target="voice", curve_steps=2, seed=5,
        explanations_folder=str(folder / "explanations"), save_explanations=["ga"],
        save_plots=False, **options)


def read_rows(folder):
    with open(folder / "results" / "per_clip.csv") as f:
        return list(csv.DictReader(f))


def test_one_table_for_every_method_condition_and_clip(voice_adapter, tiny_vocalmix, tmp_path):
    table = run(voice_adapter, tiny_vocalmix, tmp_path)
    rows = read_rows(tmp_path)
    assert len(rows) == 4 * 3 * 2  # clips x methods x conditions
    summary = json.loads((tmp_path / "results" / "results.json").read_text())["results"]
    assert set(summary) == {"in_domain", "white"}
    for condition in summary.values():
        assert set(condition) == {"saliency", "ga", "noise"}
        for entry in condition.values():
            assert set(TABLE_COLUMNS) <= set(entry) and entry["n"] == 4
            # ground truth on the two voice clips (the explained class is voice)
            assert entry["n_oracle"] == 2
            assert 0.0 <= entry["deletion_auc"] <= 1.0 and entry["seconds_per_clip"] > 0
    voice_rows = [r for r in rows if r["ID"] in ("test_00000", "test_00002")]
    assert all(r["oracle_auc"] != "nan" for r in voice_rows)
    assert all(r["oracle_auc"] == "nan" for r in rows if r not in voice_rows)
    assert all(float(r["evaluations"]) <= 10 for r in rows if r["method"] == "ga")
    markdown = (tmp_path / "results" / "results.md").read_text()
    assert markdown.count("\n") == 2 + 3 * 2 and "oracle_auc" in markdown
    assert table.summary() == ResultsTable(table.rows).summary()
    # the conditions differ: white noise at 0 dB changes what the classifier hears
    p_in = {(r["condition"], r["ID"]): r["p_masked_in"] for r in rows if r["method"] == "saliency"}
    assert p_in[("in_domain", "test_00000")] != p_in[("white", "test_00000")]


def test_saved_explanations_resume_without_recomputing(voice_adapter, tiny_vocalmix, tmp_path):
    run(voice_adapter, tiny_vocalmix, tmp_path)
    folder = tmp_path / "explanations" / "white" / "ga"
    saved = sorted(p for p in os.listdir(folder) if p.endswith(".json"))
    assert saved == [f"test_0000{i}.json" for i in range(4)]
    stamps = {p: os.path.getmtime(folder / p) for p in os.listdir(folder)}
    first = read_rows(tmp_path)
    run(voice_adapter, tiny_vocalmix, tmp_path)
    assert stamps == {p: os.path.getmtime(folder / p) for p in os.listdir(folder)}
    again = read_rows(tmp_path)
    ga = lambda rows: [r for r in rows if r["method"] == "ga"]  # noqa: E731
    assert ga(first) == ga(again)


def test_bad_settings_are_refused(voice_adapter, tiny_vocalmix, tmp_path):
    with pytest.raises(ValueError, match="oracle_class"):
        evaluate_explainers(voice_adapter, {"saliency": {}}, tiny_vocalmix, str(tmp_path),
                            oracle_class="dog")
    with pytest.raises(ValueError, match="unknown methods"):
        evaluate_explainers(voice_adapter, {"saliency": {}}, tiny_vocalmix, str(tmp_path),
                            explanations_folder=str(tmp_path), save_explanations=["ga"])
    with pytest.raises(ValueError, match="Unknown explainer"):
        evaluate_explainers(voice_adapter, {"shap": {}}, tiny_vocalmix, str(tmp_path))


def test_run_evaluation_runs_the_chosen_methods_only(voice_adapter, tiny_vocalmix, tmp_path):
    from speechbrain_xai.brains.harness import run_evaluation

    hparams = {"classifier": voice_adapter, "output_folder": str(tmp_path / "results"),
               "explainers": {"saliency": {}, "lime": {"num_samples": 10}, "all_ones": {}},
               "dataloader_opts": {"batch_size": 2}, "curve_steps": 0, "methods": ["all_ones"]}
    run_evaluation(hparams, {}, tiny_vocalmix)
    rows = read_rows(tmp_path)
    assert {r["method"] for r in rows} == {"all_ones"} and len(rows) == 4
    with pytest.raises(ValueError, match="'gradcam' is not an explainer.*saliency, lime, all_ones"):
        run_evaluation(dict(hparams, methods="gradcam"), {}, tiny_vocalmix)
