"""Shared fixtures: tiny seeded classifiers in each layout the adapter knows."""

import os

import pytest

# Under pytest-xdist (the README's test command runs two workers), each worker and every
# recipe or command it starts uses one thread: the two workers then share the two cores
# instead of oversubscribing them (most of the suite is single-threaded Python and process
# start-up, so two workers nearly halve its wall time).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = "1"


def pytest_configure(config):
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


@pytest.fixture
def tiny_modules():
    """Fbank + sentence norm + SmallCNN + head: the recipe's layout, tiny."""
    from tests.helpers import tiny_modules as make

    return make(num_classes=3)


@pytest.fixture
def tiny_adapter(tiny_modules):
    from speechbrain_xai.adapter import ClassifierAdapter

    return ClassifierAdapter.from_modules(
        sample_rate=16000, class_names=["a", "b", "c"], **tiny_modules
    )


@pytest.fixture(scope="session")
def debug_classifier(tmp_path_factory):
    """The VocalMix classification recipe run once in --debug on tiny data.

    Returns a dict with ``pretrained`` (the exported SpeechBrain folder that
    ``ClassifierAdapter.from_hparams`` loads), ``data_folder`` and
    ``manifests`` (train/valid/test CSVs, paths under ``$data_root``).
    """
    from tests.helpers import listed_recipes, run_recipe

    row = [r for r in listed_recipes() if r["Hparams"].endswith("small_cnn.yaml")][0]
    base = tmp_path_factory.mktemp("debug_classifier")
    out = base / "out"
    run_recipe(row, base / "data", out)
    return {
        "pretrained": str(out / "pretrained"),
        "data_folder": str(base / "data"),
        "manifests": {s: str(out / "save" / f"{s}.csv") for s in ("train", "valid", "test")},
    }


@pytest.fixture(scope="session")
def debug_interpreter(debug_classifier, tmp_path_factory):
    """The VocalMix L-MAC recipe run once in --debug on the debug classifier.

    Returns a dict with ``output`` (the recipe's output folder: results,
    explanations, ``interpreter``) and ``manifests`` (the test manifest it used).
    """
    from tests.helpers import listed_recipes, run_recipe

    row = [r for r in listed_recipes() if r["Hparams"].endswith("VocalMix/interpret/hparams/lmac.yaml")][0]
    base = tmp_path_factory.mktemp("debug_interpreter")
    out = base / "out"
    run_recipe(row, debug_classifier["data_folder"], out,
               extra=["--classifier_source", debug_classifier["pretrained"],
                      "--manifest_folder", str(base / "manifests")])
    return {"output": out, "manifests": {s: str(base / "manifests" / f"{s}.csv")
                                          for s in ("train", "valid", "test")}}


@pytest.fixture(scope="session")
def report_outputs(tmp_path_factory):
    """Outputs of the package in the three layouts the report reads, made once
    (:func:`tests.helpers.build_report_outputs`); copy before changing them."""
    from tests.helpers import build_report_outputs

    return build_report_outputs(tmp_path_factory.mktemp("report_outputs"))
