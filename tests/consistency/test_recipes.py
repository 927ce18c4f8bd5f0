"""Recipe hygiene: every recipe listed with a --debug test, every YAML key used,
package classes referenced as speechbrain_xai...., training and inference
hyperparameters building the same model."""

import glob
import os
import re

import pytest
import torch

from tests.helpers import ROOT, listed_recipes


def all_recipe_hparams():
    files = glob.glob(os.path.join(ROOT, "recipes", "**", "hparams", "*.yaml"), recursive=True)
    return sorted(os.path.relpath(f, ROOT) for f in files)


def test_every_recipe_is_listed_with_a_debug_test():
    listed = {r["Hparams"] for r in listed_recipes()}
    missing = [f for f in all_recipe_hparams() if f not in listed]
    assert not missing, f"Add these to tests/recipes.csv: {missing}"
    for row in listed_recipes():
        assert os.path.isfile(os.path.join(ROOT, row["Script"])), row
        assert os.path.isfile(os.path.join(ROOT, row["Hparams"])), row


def top_level_keys(path):
    with open(path) as f:
        return [m.group(1) for m in re.finditer(r"^([A-Za-z_][\w]*):", f.read(), re.M)]


def library_keys(code):
    """Keys read by the library functions and classes a recipe imports
    (those marked with speechbrain_xai.hparams.reads_hparams)."""
    import importlib

    keys = set()
    pattern = r"from (speechbrain_xai[\w.]*) import (?:\(([^)]*)\)|([\w, ]+))"
    for module, grouped, plain in re.findall(pattern, code):
        names = grouped or plain
        mod = importlib.import_module(module)
        for name in re.findall(r"\w+", names):
            keys |= set(getattr(getattr(mod, name, None), "hparams_keys", ()))
    return keys


@pytest.mark.parametrize("hparams", all_recipe_hparams())
def test_every_yaml_key_is_used(hparams):
    path = os.path.join(ROOT, hparams)
    text = open(path).read()
    script = [r["Script"] for r in listed_recipes() if r["Hparams"] == hparams][0]
    code = "".join(open(p).read() for p in glob.glob(os.path.join(ROOT, os.path.dirname(script), "*.py")))
    read_by_library = library_keys(code)
    unused = [
        key for key in top_level_keys(path)
        if not key.startswith("__")
        and key not in read_by_library
        and f"<{key}>" not in text and f"<{key}." not in text
        and not re.search(rf"""(\[["']{key}["']\]|hparams\.{key}\b|["']{key}["'])""", code)
    ]
    assert not unused, f"{hparams}: keys never used: {unused}"


@pytest.mark.parametrize("hparams", all_recipe_hparams())
def test_package_code_referenced_by_full_path(hparams):
    text = open(os.path.join(ROOT, hparams)).read()
    for tag in re.findall(r"!(?:new|name|apply):([\w.]+)", text):
        assert tag.split(".")[0] in {"speechbrain", "speechbrain_xai", "torch"}, tag


@pytest.mark.parametrize("hparams", [h for h in all_recipe_hparams() if "classification" in h])
def test_inference_template_builds_the_trained_model(hparams, tmp_path):
    from hyperpyyaml import load_hyperpyyaml

    path = os.path.join(ROOT, hparams)
    with open(path) as f:
        train = load_hyperpyyaml(f, {"data_folder": str(tmp_path), "output_folder": str(tmp_path)})
    template = os.path.join(os.path.dirname(path), train["inference_template"])
    with open(template) as f:
        infer = load_hyperpyyaml(f, {k: train[k] for k in train["inference_keys"]})
    for name in ("embedding_model", "classifier"):
        a, b = train[name].state_dict(), infer[name].state_dict()
        assert {k: v.shape for k, v in a.items()} == {k: v.shape for k, v in b.items()}, name
    assert type(train["compute_features"]) is type(infer["compute_features"])
    wav = torch.randn(1, 16000)
    assert torch.equal(train["compute_features"](wav), infer["compute_features"](wav))
