"""torchrun with two CPU processes (gloo): the merged outputs equal a single process's.

* the classification recipe trains with SpeechBrain's DDP in --debug, and its
  test set, split across the processes, comes back whole in
  test_predictions.csv and in the accuracy;
* ddp_job.py runs the command line (explain, compare), the evaluation harness
  and an activation-maximisation grid under torchrun and in this process; the
  tables, per-clip rows, saved explanations and search results match.
"""

import csv
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from tests.helpers import ROOT, listed_recipes, run_recipe

#: Test clips of the recipe run: odd, so the two processes get 2 and 1.
NUM_TEST = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun_args():
    return ["torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}"]


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def ddp_classifier(tmp_path_factory):
    """The VocalMix small-CNN recipe in --debug under torchrun, smaller still."""
    row = [r for r in listed_recipes() if r["Hparams"].endswith("small_cnn.yaml")][0]
    base = tmp_path_factory.mktemp("ddp_classifier")
    out = base / "out"
    extra = ["--num_train", "4", "--num_valid", "2", "--num_test", str(NUM_TEST), "--clip_duration",
             "0.5", "--n_mels", "32", "--channels", "[4,8]", "--emb_dim", "16",
             "--distributed_backend", "gloo"]
    proc = run_recipe(dict(row, Debug_args="--batch_size 2"), base / "data", out, extra,
                      launcher=torchrun_args())
    return {"out": out, "data": base / "data", "log": proc.stdout + proc.stderr}


def test_classifier_trains_with_ddp_and_tests_every_clip_once(ddp_classifier):
    out = ddp_classifier["out"]
    log = (out / "train_log.txt").read_text()
    assert "epoch: 2" in log and "test accuracy" in log  # trained, validated, tested
    truth = {r["ID"]: r["label"] for r in read_csv(out / "save" / "test.csv")}
    predictions = read_csv(out / "test_predictions.csv")
    assert sorted(r["ID"] for r in predictions) == sorted(truth) and len(truth) == NUM_TEST
    # the accuracy is over every process's clips (merged before it is computed)
    names = [k for k in predictions[0] if k != "ID"]
    correct = [max(names, key=lambda n: float(r[n])) == truth[r["ID"]] for r in predictions]
    accuracy = json.loads((out / "test_accuracy.json").read_text())["test"]
    assert accuracy == pytest.approx(sum(correct) / NUM_TEST)
    assert (out / "pretrained" / "hyperparams.yaml").is_file()


@pytest.fixture(scope="module")
def job_outputs(ddp_classifier, tmp_path_factory):
    """ddp_job.py under torchrun and in this process, on 5 VocalMix clips."""
    from speechbrain_xai.data.vocalmix import prepare_vocalmix
    from tests.integration.ddp_job import run_job

    base = tmp_path_factory.mktemp("ddp_job")
    data = str(base / "vocalmix")
    manifest = prepare_vocalmix(data, num_train=0, num_valid=0, num_test=5, duration=0.5)["test"]
    classifier = str(ddp_classifier["out"] / "pretrained")
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", *torchrun_args(), os.path.join(ROOT, "tests", "integration", "ddp_job.py"),
           str(base / "ddp"), classifier, manifest, data]
    proc = subprocess.run(cmd, env=env, cwd=str(base), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in each torchrun process
    try:
        assert run_job(str(base / "single"), classifier, manifest, data) == 0
    finally:
        torch.set_num_threads(threads)
    return base / "ddp", base / "single"


def timeless(rows):
    """Per-clip rows without the wall times, in a fixed order."""
    rows = [{k: v for k, v in r.items() if not k.startswith("seconds")} for r in rows]
    return sorted(rows, key=lambda r: (r["condition"], r["method"], r["ID"]))


def timeless_summary(path):
    results = json.loads(path.read_text())["results"]
    return {c: {m: {k: v for k, v in e.items() if not k.startswith("seconds")}
                for m, e in methods.items()} for c, methods in results.items()}


@pytest.mark.parametrize("folder", ["harness", "compare"])
def test_merged_table_equals_single_process(job_outputs, folder):
    ddp, single = (p / folder for p in job_outputs)
    rows = read_csv(ddp / "per_clip.csv")
    assert len(rows) == len({(r["condition"], r["method"], r["ID"]) for r in rows})  # none twice
    assert timeless(rows) == timeless(read_csv(single / "per_clip.csv"))
    assert timeless_summary(ddp / "results.json") == timeless_summary(single / "results.json")
    saved = sorted(p.relative_to(ddp / "explanations") for p in (ddp / "explanations").rglob("*.json"))
    assert saved and saved == sorted(p.relative_to(single / "explanations")
                                     for p in (single / "explanations").rglob("*.json"))
    assert not [p for p in ddp.rglob(".*")]  # no temporaries left
    if folder == "compare":
        assert (ddp / "report.html").is_file()


def test_explain_command_explains_every_clip_once(job_outputs):
    ddp, single = (p / "explain" / "saliency" for p in job_outputs)
    names = sorted(p.name for p in ddp.glob("*.json"))
    assert len(names) == 5 and names == sorted(p.name for p in single.glob("*.json"))
    for name in names:  # the same batches (clips of one length): the same numbers
        a, b = ({k: v for k, v in json.loads((f / name).read_text()).items() if k != "seconds"}
                for f in (ddp, single))
        assert a == b
    assert (ddp.parent / "report.html").is_file()


def test_am_grid_equals_single_process(job_outputs):
    ddp, single = (p / "am" for p in job_outputs)
    files = sorted(p.name for p in ddp.glob("*.pt"))
    assert len(files) == 8 and files == sorted(p.name for p in single.glob("*.pt"))  # no states left
    for name in files:
        a, b = (torch.load(f / name) for f in (ddp, single))
        assert a["seeds"] == b["seeds"] == list(range(5))
        for key in ("features", "params", "activation", "objective", "best_step"):
            assert torch.equal(a[key], b[key]), (name, key)  # rows are independent
