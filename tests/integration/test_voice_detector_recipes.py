"""The shipped voice detector's recipes in --debug (classifier, L-MAC, GAN), shipped into a
folder with ship.py, and the shipped folders loaded the way a hub id loads (offline cache)."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from tests.helpers import ROOT, listed_recipes, run_recipe


def row(script):
    return [r for r in listed_recipes() if r["Script"] == f"recipes/VoiceScenes/{script}"][0]


@pytest.fixture(scope="module")
def debug_chain(tmp_path_factory):
    base = tmp_path_factory.mktemp("voice_detector")
    data = base / "data"
    clf, lmac, gan = base / "clf", base / "lmac", base / "gan"
    run_recipe(row("classification/train.py"), data, clf)
    source = ["--classifier_source", str(clf / "pretrained")]
    run_recipe(row("interpret/train_lmac.py"), data, lmac, extra=source)
    run_recipe(row("interpret/train_gan.py"), data, gan, extra=source)
    shipped = base / "shipped"
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "recipes/VoiceScenes/ship.py"),
                           "--classifier", clf, "--lmac", lmac, "--gan", gan, "--dest", shipped],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"clf": clf, "lmac": lmac, "gan": gan, "shipped": shipped}


def test_each_test_set_is_scored_and_the_folders_are_shipped_with_cards(debug_chain):
    accuracy = json.loads((debug_chain["clf"] / "test_accuracy.json").read_text())
    assert set(accuracy) == {"test", "test_vocalmix", "test_voice_scenes"}
    shipped = debug_chain["shipped"]
    for folder, files in (("voice_detector", {"embedding_model.ckpt", "classifier.ckpt"}),
                          ("voice_detector_lmac", {"decoder.ckpt", "classifier.ckpt"}),
                          ("voice_detector_gan", {"generator.ckpt"})):
        present = set(os.listdir(shipped / folder))
        assert {"hyperparams.yaml", "README.md"} | files <= present, folder
    card = (shipped / "voice_detector" / "README.md").read_text()
    assert "held-out realistic" in card and "recipes/VoiceScenes/classification/train.py" in card
    assert f"{100 * accuracy['test_voice_scenes']:.1f}%" in card
    # the interpreter's run records its decoder's mask heads; the card states them
    heads = json.loads((debug_chain["lmac"] / "test_voice_scenes" / "results.json").read_text())["decoder_heads"]
    assert heads == 2
    assert "One mask head per class (2)" in (shipped / "voice_detector_lmac" / "README.md").read_text()


def test_ship_replaces_only_the_folders_it_is_given(debug_chain, tmp_path):
    dest = tmp_path / "pretrained"
    shutil.copytree(debug_chain["shipped"], dest)
    (dest / "voice_detector_lmac" / "README.md").write_text("old card")
    before = {name: (dest / "voice_detector" / name).read_bytes()
              for name in os.listdir(dest / "voice_detector")}
    ship = [sys.executable, os.path.join(ROOT, "recipes/VoiceScenes/ship.py"), "--dest", dest]
    proc = subprocess.run(ship + ["--lmac", debug_chain["lmac"]], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    card = (dest / "voice_detector_lmac" / "README.md").read_text()
    assert "voice-detector-lmac" in card and "One mask head per class (2)" in card
    assert {name: (dest / "voice_detector" / name).read_bytes()
            for name in os.listdir(dest / "voice_detector")} == before
    proc = subprocess.run(ship, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "nothing to ship" in proc.stderr


def hub_cache(folder, cache, repo):
    """The layout huggingface_hub keeps for a downloaded model repo."""
    commit = "0" * 40
    snapshot = cache / f"models--{repo.replace('/', '--')}" / "snapshots" / commit
    shutil.copytree(folder, snapshot)
    refs = cache / f"models--{repo.replace('/', '--')}" / "refs"
    refs.mkdir(parents=True)
    (refs / "main").write_text(commit)


def test_shipped_folders_load_through_the_hub_code_path_offline(debug_chain, tmp_path, monkeypatch):
    from speechbrain.inference.interfaces import Pretrained
    from speechbrain.utils.fetching import FetchConfig

    from speechbrain_xai.adapter import ClassifierAdapter
    from speechbrain_xai.inference import LMACInterpreter

    cache = tmp_path / "hub"
    for name in ("voice_detector", "voice_detector_lmac", "voice_detector_gan"):
        hub_cache(debug_chain["shipped"] / name, cache, f"speechbrain-xai/{name.replace('_', '-')}")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    offline = FetchConfig(allow_network=False, huggingface_cache_dir=str(cache))
    interp = LMACInterpreter.from_hparams("speechbrain-xai/voice-detector-lmac",
                                          savedir=str(tmp_path / "s1"), fetch_config=offline)
    wav = torch.randn(1, 16000) * 0.1
    mask, masked_in, label = interp.interpret_batch(wav)
    assert mask.shape[0] == 1 and label[0] in ("voice", "no_voice")
    local = LMACInterpreter.from_hparams(str(debug_chain["shipped"] / "voice_detector_lmac"))
    assert torch.allclose(local.interpret_batch(wav)[0], mask, atol=1e-6)
    adapter = ClassifierAdapter.from_hparams("speechbrain-xai/voice-detector", savedir=str(tmp_path / "s2"),
                                             fetch_config=offline)
    assert adapter.class_names == interp.adapter.class_names
    assert torch.allclose(adapter(wav), interp.adapter(wav), atol=1e-6)
    gan = Pretrained.from_hparams("speechbrain-xai/voice-detector-gan", savedir=str(tmp_path / "s3"),
                                  fetch_config=offline)
    excerpt = gan.mods.generator(torch.randn(2, gan.mods.generator.latent_dim))
    assert excerpt.shape == (2, 64, 64) and torch.isfinite(excerpt).all()
