"""Killed runs resume: training, batch explanation and the AM grid, killed with SIGKILL for real.

Every run is a child process, forked from the test so that it starts without
importing torch again, computing on one thread like the uninterrupted run it is
compared with. A copy of the run slowed down at one place (a sleep after each
training step, each saved batch of explanations, each search step) is killed
with SIGKILL when its outputs show it is midway; the same command runs again,
and what it finishes with is compared with an uninterrupted run.
"""

import functools
import glob
import importlib
import json
import multiprocessing
import os
import re
import runpy
import signal
import sys
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from tests.helpers import ROOT, tiny_modules

FORK = multiprocessing.get_context("fork")
RECIPE = os.path.join(ROOT, "recipes", "VocalMix", "classification", "train.py")
HPARAMS = os.path.join(ROOT, "recipes", "VocalMix", "classification", "hparams", "small_cnn.yaml")


# --------------------------------------------------------------------------
# Runs as child processes
# --------------------------------------------------------------------------
def _child(log, slow, fn, args):
    out = open(log, "a", buffering=1)
    os.dup2(out.fileno(), 1)
    os.dup2(out.fileno(), 2)
    sys.stdout = sys.stderr = out
    import logging

    handler = logging.StreamHandler(out)
    handler.setLevel(logging.INFO)
    logging.getLogger("speechbrain_xai").addHandler(handler)
    logging.getLogger("speechbrain_xai").setLevel(logging.INFO)
    torch.set_num_threads(1)
    for target, seconds in (slow or {}).items():
        module, attr = target.split(":")
        owner = importlib.import_module(module)
        *path, name = attr.split(".")
        for part in path:
            owner = getattr(owner, part)
        original = getattr(owner, name)

        @functools.wraps(original)
        def slowed(*a, _original=original, _seconds=seconds, **k):
            result = _original(*a, **k)
            time.sleep(_seconds)
            return result

        setattr(owner, name, slowed)
    sys.exit(fn(*args) or 0)


def start(fn, *args, log, slow=None):
    """``fn(*args)`` in a forked child; ``slow`` = ``{"module:Class.method": seconds}``
    sleeps after each call of those methods."""
    proc = FORK.Process(target=_child, args=(str(log), slow, fn, args))
    proc.start()
    proc.log = str(log)
    return proc


def finish(proc, timeout=300):
    proc.join(timeout)
    assert proc.exitcode == 0, f"run failed ({proc.exitcode}):\n{_tail(proc.log)}"
    return _tail(proc.log, 100_000)


def run(fn, *args, log):
    return finish(start(fn, *args, log=log))


def kill_when(proc, condition, timeout=300):
    """SIGKILLs ``proc`` as soon as ``condition()`` holds; fails if it ends first."""
    deadline = time.time() + timeout
    while not condition():
        assert proc.is_alive(), f"the run ended before it could be killed:\n{_tail(proc.log)}"
        assert time.time() < deadline, "timed out waiting for the kill point"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    assert proc.exitcode == -signal.SIGKILL


def _tail(path, n=3000):
    with open(path, errors="replace") as f:
        return f.read()[-n:]


def _recipe(*argv):
    import speechbrain as sb

    # `pip freeze` for env.log takes seconds per run and is not what is tested
    sb.utils.logger.get_environment_description = lambda: "(not recorded by this test)\n"
    sys.argv = [RECIPE, *argv]
    runpy.run_path(RECIPE, run_name="__main__")


def _cli(*argv):
    from speechbrain_xai.cli import main

    # saved without pictures (they take seconds each, and are written like the
    # other files)
    return main([str(a) for a in argv] + ["--no-pictures"])


def _stamps(paths):
    return {p: os.stat(p).st_mtime_ns for p in paths}


def _visible(folder):
    return sorted(n for n in os.listdir(folder) if not n.startswith("."))


# --------------------------------------------------------------------------
# Training: the classifier recipe killed in the middle of epoch 2
# --------------------------------------------------------------------------
def _intra_epoch_checkpoints(save, epoch):
    found = []
    for meta in glob.glob(os.path.join(save, "CKPT*", "CKPT.yaml")):
        folder = os.path.dirname(meta)
        try:
            with open(meta) as f, open(os.path.join(folder, "counter.ckpt")) as c:
                if "brain_intra_epoch_ckpt" in f.read() and c.read().strip() == str(epoch):
                    found.append(folder)
        except FileNotFoundError:  # an older checkpoint being deleted while we look
            continue
    return found


def _incomplete_checkpoints(save):
    """Checkpoint folders of ``save`` that miss a file their CKPT.yaml lists
    (a CKPT.yaml that lists none fails outright)."""
    out = []
    for meta in glob.glob(os.path.join(save, "CKPT*", "CKPT.yaml")):
        with open(meta) as f:
            listed = re.findall(r"- (\S+\.ckpt)", f.read())
        assert listed, f"{meta} lists no files"
        if not all(os.path.isfile(os.path.join(os.path.dirname(meta), n)) for n in listed):
            out.append(os.path.dirname(meta))
    return out


def test_classifier_training_killed_mid_epoch_resumes_exactly(tmp_path):
    def args(out):
        return [HPARAMS, "--data_folder", tmp_path / "data", "--output_folder", out,
                "--num_train", "16", "--num_valid", "4", "--num_test", "4", "--batch_size", "2",
                "--clip_duration", "0.5", "--number_of_epochs", "3", "--ckpt_interval_steps", "2"]

    # what each run would import on its first optimiser (torch._dynamo, seconds), once
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])
    ref, out = tmp_path / "reference", tmp_path / "killed"
    run(_recipe, *map(str, args(ref)), log=tmp_path / "reference.log")
    proc = start(_recipe, *map(str, args(out)), log=tmp_path / "killed.log",
                 slow={"speechbrain_xai.brains.classifier:ClassifierBrain.fit_batch": 0.3})
    save = str(out / "save")
    kill_when(proc, lambda: _intra_epoch_checkpoints(save, 2))
    # killed in epoch 2: epoch 1 logged, a complete intra-epoch checkpoint of epoch 2 saved
    assert (out / "train_log.txt").read_text().count("epoch:") == 1
    (resume_from,) = _intra_epoch_checkpoints(save, 2)
    # every checkpoint lists its files and has them all, but one whose deletion the kill cut
    # short (SpeechBrain deletes with one rmtree): that one is never the one resumed from, and
    # the resumed run removes it (checked below)
    for folder in _incomplete_checkpoints(save):
        assert folder != resume_from

    run(_recipe, *map(str, args(out)), log=tmp_path / "resumed.log")
    assert f"Loading a checkpoint from {resume_from}" in (out / "log.txt").read_text()
    assert not _incomplete_checkpoints(save)
    # the same log line for line, the same model, the same test predictions
    assert (out / "train_log.txt").read_text() == (ref / "train_log.txt").read_text()
    assert (out / "test_predictions.csv").read_text() == (ref / "test_predictions.csv").read_text()
    for name in ("embedding_model.ckpt", "classifier.ckpt"):
        a, b = (torch.load(folder / "pretrained" / name) for folder in (ref, out))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name


# --------------------------------------------------------------------------
# Batch explanation: speechbrain-xai explain and compare (the harness)
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def classifier_and_clips(tmp_path_factory):
    """A tiny classifier exported as a SpeechBrain folder, and six 0.5 s clips."""
    from speechbrain.dataio.encoder import CategoricalEncoder

    from speechbrain_xai.export import export_pretrained

    base = tmp_path_factory.mktemp("resume_explain")
    modules = tiny_modules(num_classes=2)
    encoder = CategoricalEncoder()
    encoder.update_from_iterable(["voice", "no_voice"])
    template = os.path.join(ROOT, "recipes", "VocalMix", "classification", "hparams", "inference",
                            "small_cnn.yaml")
    folder = export_pretrained(
        str(base / "classifier"), template,
        {"n_mels": 24, "channels": [4, 8], "emb_dim": 16, "n_classes": 2},
        {"embedding_model": modules["embedding_model"], "classifier": modules["classifier"],
         "mean_var_norm": modules["mean_var_norm"], "label_encoder": encoder})
    rng = np.random.default_rng(0)
    clips = []
    for i in range(6):
        path = str(base / f"clip_{i}.wav")
        sf.write(path, (0.05 * (i + 1) * rng.standard_normal(8000)).astype(np.float32), 16000,
                 subtype="FLOAT")
        clips.append(path)
    return folder, clips


def _same_explanations(a, b):
    """Two explanation folders hold the same files with the same contents
    (the json files up to their timings)."""
    assert _visible(a) == _visible(b)
    for name in _visible(a):
        pa, pb = os.path.join(a, name), os.path.join(b, name)
        if name.endswith(".json"):
            ja, jb = (json.load(open(p)) for p in (pa, pb))
            for j in (ja, jb):
                j.pop("seconds")
                j.get("harness_row", {}).pop("seconds_per_clip", None)
            assert ja == jb, name
        elif name.endswith(".wav"):  # the samples (the header's PEAK chunk has a timestamp)
            assert np.array_equal(sf.read(pa)[0], sf.read(pb)[0]), name
        elif name.endswith(".npy"):
            assert np.array_equal(np.load(pa), np.load(pb)), name


def _check_readable(folder):
    """Every visible file of an explanation folder is whole."""
    for name in _visible(folder):
        path = os.path.join(folder, name)
        if name.endswith(".json"):
            json.load(open(path))
        elif name.endswith(".npy"):
            np.load(path)
        elif name.endswith(".wav"):
            assert sf.info(path).frames > 0


def _reference_and_slowed(args, tmp_path):
    """An uninterrupted command line run into ``reference/``, and the same run
    into ``killed/`` started with every save slowed down (for the kill to land)."""
    ref, out = tmp_path / "reference", tmp_path / "killed"
    run(_cli, *args, "--out", ref, log=tmp_path / "reference.log")
    proc = start(_cli, *args, "--out", out, log=tmp_path / "killed.log",
                 slow={"speechbrain_xai.explanation:Explanation.save": 0.5})
    return ref, out, proc


def test_explain_killed_midway_resumes_and_skips_what_is_done(classifier_and_clips, tmp_path):
    classifier, clips = classifier_and_clips
    args = ["explain", *clips, "--classifier", classifier, "--method", "saliency",
            "--batch-size", "2"]
    ref, out, proc = _reference_and_slowed(args, tmp_path)
    folder = str(out / "saliency")
    done = lambda: glob.glob(os.path.join(folder, "*.json"))  # noqa: E731
    kill_when(proc, lambda: len(done()) >= 2)  # the first batch saved
    first = done()
    assert 2 <= len(first) < len(clips)
    _check_readable(folder)
    stamps = _stamps(os.path.join(folder, n) for n in _visible(folder) if n.startswith(
        tuple(os.path.basename(p)[:-5] for p in first)))

    log = run(_cli, *args, "--out", out, log=tmp_path / "resumed.log")
    found = re.search(r"Explained (\d+) clip\(s\) .*, (\d+) already done", log)
    assert found and (int(found[1]), int(found[2])) == (len(clips) - len(first), len(first))
    assert _stamps(stamps) == stamps  # finished outputs untouched
    assert not [n for n in os.listdir(folder) if n.startswith(".")]
    _same_explanations(folder, str(ref / "saliency"))


def test_compare_killed_midway_resumes_with_the_same_table(classifier_and_clips, tmp_path):
    classifier, clips = classifier_and_clips
    args = ["compare", *clips, "--classifier", classifier, "--methods", "saliency,random",
            "--batch-size", "2"]
    ref, out, proc = _reference_and_slowed(args, tmp_path)
    folders = {m: str(out / "explanations" / "in_domain" / m) for m in ("saliency", "random")}
    count = lambda m: len(glob.glob(os.path.join(folders[m], "*.json")))  # noqa: E731
    kill_when(proc, lambda: count("random") >= 2)  # the first batch saved by both methods
    assert not (out / "results.json").exists()
    done = {}
    for method, folder in folders.items():
        _check_readable(folder)
        done[method] = _stamps(os.path.join(folder, n) for n in _visible(folder))
        assert 0 < count(method) < len(clips)

    run(_cli, *args, "--out", out, log=tmp_path / "resumed.log")
    for method, folder in folders.items():
        assert _stamps(done[method]) == done[method]  # skipped, not redone
        _same_explanations(folder, str(ref / "explanations" / "in_domain" / method))

    def table(folder):
        text = (folder / "per_clip.csv").read_text().splitlines()
        drop = text[0].split(",").index("seconds_per_clip")
        return [[c for i, c in enumerate(line.split(",")) if i != drop] for line in text]

    assert table(out) == table(ref) and len(table(out)) == 1 + 2 * len(clips)


# --------------------------------------------------------------------------
# The activation-maximisation grid
# --------------------------------------------------------------------------
def _am_settings():
    from speechbrain_xai.explainers.activation_maximization import setting_grid

    return setting_grid([20, 40], [0.1], [0.1, 0.01], ["max", "min"])


def _am_search(folder):
    from speechbrain_xai.adapter import ClassifierAdapter
    from speechbrain_xai.brains.am_search import run_search
    from speechbrain_xai.explainers.activation_maximization import LatentActivationMaximizer, UnitSpec
    from speechbrain_xai.lobes.gan import SpectrogramGenerator

    adapter = ClassifierAdapter.from_modules(sample_rate=16000, class_names=["voice", "no_voice"],
                                             **tiny_modules(num_classes=2))
    torch.manual_seed(1)
    generator = SpectrogramGenerator(latent_dim=8, frames=16, n_mels=24, channels=(8, 4)).eval()
    generator.set_feature_stats(torch.linspace(-40, -60, 24), torch.full((24,), 8.0))
    maximizer = LatentActivationMaximizer(adapter, generator, UnitSpec(index=0, relative=True))
    run_search(maximizer, _am_settings(), [0, 1, 2], folder, settings_per_batch=2,
               checkpoint_every=10)


def test_am_grid_killed_midway_resumes_and_skips_finished_settings(tmp_path):
    from speechbrain_xai.explainers.activation_maximization import SearchResult

    ref, out = str(tmp_path / "reference"), str(tmp_path / "killed")
    run(_am_search, ref, log=tmp_path / "reference.log")
    proc = start(_am_search, out, log=tmp_path / "killed.log",
                 slow={"speechbrain_xai.explainers.activation_maximization:"
                       "LatentActivationMaximizer.to_features": 0.02})
    parts = lambda: glob.glob(os.path.join(out, "*_steps*.pt"))  # noqa: E731
    states = lambda: glob.glob(os.path.join(out, "search_state_*.pt"))  # noqa: E731
    # killed inside the second batch's search, after its first state checkpoint
    kill_when(proc, lambda: len(parts()) >= 2 and states())
    finished = _stamps(parts())
    assert len(finished) == 2

    log = run(_am_search, out, log=tmp_path / "resumed.log")
    resumed = re.search(r"Resuming the search at step (\d+)", log)
    assert resumed and 0 < int(resumed[1]) < 40  # inside the second batch (40 steps)
    assert log.count("Search: 2 settings") == len(_am_settings()) // 2 - 1  # batch 1 skipped
    assert _stamps(finished) == finished and not states()
    a, b = (SearchResult.load(folder, _am_settings()) for folder in (ref, out))
    for field in ("features", "params", "activation", "objective", "best_step"):
        assert torch.equal(getattr(a, field), getattr(b, field)), field
