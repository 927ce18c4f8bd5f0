"""Loading that cannot run code, and output names from data that cannot leave their folder."""

import csv
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from speechbrain_xai.data.inputs import MAX_ID_LENGTH, gather_inputs, safe_id, unique_ids
from speechbrain_xai.files import torch_load, torch_save


class Payload:
    """Unpickled, it makes the folder ``marker``: the proof that loading ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_torch_load_refuses_a_pickled_object_without_running_it(tmp_path):
    marker = tmp_path / "code_ran"
    torch.save({"weight": torch.ones(2), "trap": Payload(marker)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="bad.pt: holds more than tensors") as err:
        torch_load(str(tmp_path / "bad.pt"))
    assert "\n" not in str(err.value) and not marker.exists()
    torch_save({"params": torch.ones(2), "step": 3, "key": "abc", "seeds": [0, 1]}, str(tmp_path / "ok.pt"))
    assert torch_load(str(tmp_path / "ok.pt"))["step"] == 3  # what the package saves still loads


def test_a_search_state_holding_an_object_is_refused(tmp_path, tiny_adapter):
    from speechbrain_xai.explainers.activation_maximization import (
        LatentActivationMaximizer,
        UnitSpec,
        setting_grid,
    )
    from speechbrain_xai.lobes.gan import SpectrogramGenerator

    marker = tmp_path / "code_ran"
    state = tmp_path / "search_state.pt"
    torch.save({"step": 1, "key": Payload(marker)}, state)
    generator = SpectrogramGenerator(latent_dim=8, frames=16, n_mels=24, channels=(8, 4)).eval()
    search = LatentActivationMaximizer(tiny_adapter, generator, UnitSpec(index=0))
    with pytest.raises(ValueError, match="holds more than tensors"):
        search.search(setting_grid([2], [0.1], [0.1], ["max"]), [0], checkpoint_path=str(state))
    assert not marker.exists()


def test_a_pretrained_folder_holding_an_object_is_refused(tmp_path):
    from speechbrain_xai.adapter import ClassifierAdapter
    from tests.helpers import tiny_pretrained_folder

    folder = tiny_pretrained_folder(tmp_path / "classifier")
    ClassifierAdapter.from_hparams(folder, savedir=str(tmp_path / "fine"))  # loads as it is
    marker = tmp_path / "code_ran"
    torch.save(Payload(marker), os.path.join(folder, "classifier.ckpt"))
    with pytest.raises(Exception, match="Weights only load failed"):
        ClassifierAdapter.from_hparams(folder, savedir=str(tmp_path / "trap"))
    assert not marker.exists()


def evil_ids(tmp_path):
    """Ids that would write outside an output folder if used as they are."""
    return ["../evil", "/abs/evil", str(tmp_path / "outside" / "evil"), "a/../../b", "", "..",
            "evil", "x" * 300, "sp ace/é"]


def test_ids_become_plain_unique_file_names(tmp_path):
    ids = evil_ids(tmp_path)
    names = unique_ids(ids)
    assert len(set(names)) == len(names) == len(ids)
    for name in names:
        assert name == os.path.basename(name) and name not in ("", ".", "..")
        assert not name.startswith(".") and len(name) <= MAX_ID_LENGTH
    assert names[:2] == ["evil", "abs_evil"] and names[4] == "clip" and names[6] == "evil_1"
    assert safe_id("x" * 300) != safe_id("x" * 299 + "y")  # cut names keep a hash of the whole id
    # a manifest's ids go through the same names
    wav = tmp_path / "a.wav"
    sf.write(wav, np.full(400, 0.1, np.float32), 16000)
    with open(tmp_path / "m.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ID", "wav"])
        writer.writerows([i, str(wav)] for i in ids)
    assert [c.id for c in gather_inputs([str(tmp_path / "m.csv")])] == names


def test_the_harness_saves_inside_its_folder_whatever_the_ids(tmp_path, tiny_adapter):
    from speechbrain_xai.brains.harness import evaluate_explainers
    from speechbrain_xai.data.datasets import audio_dataset
    from speechbrain_xai.explainers import get_explainer

    ids = evil_ids(tmp_path)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    with open(inputs / "m.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ID", "wav"])
        for k, clip_id in enumerate(ids):
            wav = np.random.default_rng(k).standard_normal(4000).astype(np.float32) * 0.1
            sf.write(inputs / f"{k}.wav", wav, 16000)
            writer.writerow([clip_id, str(inputs / f"{k}.wav")])
    run = tmp_path / "run"

    def evaluate():
        return evaluate_explainers(
            tiny_adapter, {"random": {"seed": 1}}, audio_dataset(str(inputs / "m.csv"), sample_rate=16000),
            str(run / "results"), loader_kwargs={"batch_size": 4}, curve_steps=0,
            explanations_folder=str(run / "explanations"), save_explanations=True, save_plots=False)

    table = evaluate()
    assert sorted(os.listdir(tmp_path)) == ["inputs", "run"]  # nothing beside the run folder
    assert sorted(os.listdir(run)) == ["explanations", "results"]
    assert sorted(os.listdir(run / "explanations")) == ["in_domain"]
    saved = run / "explanations" / "in_domain" / "random"
    assert sorted(os.listdir(run / "explanations" / "in_domain")) == ["random"]
    assert sorted(n[:-len(".json")] for n in os.listdir(saved) if n.endswith(".json")) == sorted(unique_ids(ids))
    assert sorted(r["ID"] for r in table.rows) == sorted(ids)  # the table keeps the ids as they are
    stamps = {n: os.stat(saved / n).st_mtime_ns for n in os.listdir(saved)}
    again = evaluate()  # a rerun finds every clip saved under its name: nothing is redone
    assert {n: os.stat(saved / n).st_mtime_ns for n in os.listdir(saved)} == stamps
    assert sorted(r["ID"] for r in again.rows) == sorted(ids)
    # the last guard: an explanation saved under a raw id is refused
    exp = get_explainer("random", tiny_adapter).explain(torch.randn(1, 4000))
    for raw in ("../evil", "/abs/evil", ""):
        with pytest.raises(ValueError, match="plain file names"):
            exp.save(str(saved), [raw])
