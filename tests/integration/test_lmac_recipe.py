"""The L-MAC recipes, run as a user runs them, in --debug mode, and the
exported interpreter reloaded in a fresh process."""

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import ROOT, listed_recipes, run_recipe


def row_for(task):
    return [r for r in listed_recipes() if r["Task"] == task and "lmac" in r["Hparams"]][0]


RELOAD = """
import csv, glob, json, os, sys
import numpy as np, torch
from speechbrain_xai.inference import LMACInterpreter
folder, savedir, manifest, data_root, masks_folder = sys.argv[1:6]
interp = LMACInterpreter.from_hparams(folder, savedir=savedir)
reference = {os.path.basename(p)[:-len("_mask.npy")]: torch.from_numpy(np.load(p))
             for p in glob.glob(os.path.join(masks_folder, "*_mask.npy"))}
wav_of = {r["ID"]: r["wav"].replace("$data_root", data_root) for r in csv.DictReader(open(manifest))}
worst, labels = 0.0, []
for clip_id, expected in reference.items():
    mask, masked_in, label = interp.interpret_file(wav_of[clip_id])
    worst = max(worst, float((mask - expected).abs().max()))
    labels.append(label)
wavs = torch.stack([interp.load_audio(wav_of[i]) for i in reference])
masks, audio, batch_labels = interp(wavs)
exp = interp.explain_batch(wavs)
print(json.dumps({"worst": worst, "n": len(reference), "labels": labels, "batch_labels": batch_labels,
                  "shapes": [list(masks.shape), list(audio.shape)],
                  "explain_worst": float((exp.mask - masks).abs().max()), "method": exp.method}))
"""


def test_vocalmix_lmac_debug_and_exported_interpreter_reproduces_masks(debug_interpreter, debug_classifier,
                                                                          tmp_path):
    out = debug_interpreter["output"]
    results = json.loads((out / "results.json").read_text())
    methods = set(results["results"]["in_domain"])
    assert {"L-MAC", "saliency", "integrated_gradients", "smoothgrad", "gradcam", "all_ones",
            "random"} == methods
    assert set(results["results"]) == {"in_domain", "mixture", "speech_like", "white_noise"}
    for entry in results["results"]["in_domain"].values():
        assert {"AG", "FF", "deletion_auc", "insertion_auc", "seconds_per_clip"} <= set(entry)
    assert results["decoder_parameters"] > 0 and results["epochs_trained"] >= 2
    # lmac.yaml tests and exports the last checkpoint (the end of the guided stage)
    assert results["checkpoint_selection"] == "last"
    assert results["epoch_selected"] == results["epochs_trained"]
    assert "L-MAC" in (out / "results.md").read_text()
    assert len(list((out / "save").glob("CKPT*"))) <= 2  # keeps the best few only
    # a fresh process loads the exported folder and reproduces the in-domain masks of the run
    masks_folder = out / "explanations" / "in_domain" / "L-MAC"
    proc = subprocess.run(
        [sys.executable, "-c", RELOAD, str(out / "interpreter"), str(tmp_path / "savedir"),
         debug_interpreter["manifests"]["test"], debug_classifier["data_folder"], str(masks_folder)],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["n"] >= 1 and report["worst"] < 1e-4
    assert report["labels"] == report["batch_labels"]
    assert report["shapes"][0][0] == report["n"] == report["shapes"][1][0]
    assert report["explain_worst"] < 1e-5 and report["method"] == "lmac"


def make_esc50_standin(root, clips_per_fold=1, sample_rate=44100):
    """A tiny ESC-50-master: audio/*.wav + meta/esc50.csv, 5 folds, 2 classes."""
    (root / "audio").mkdir(parents=True)
    (root / "meta").mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for fold in range(1, 6):
        for k in range(clips_per_fold):
            target = (fold + k) % 2
            name = f"{fold}-{100 + k}-A-{target}.wav"
            t = np.arange(int(0.5 * sample_rate)) / sample_rate
            tone = 0.3 * np.sin(2 * np.pi * (440 if target else 1500) * t)
            sf.write(root / "audio" / name, (tone + 0.05 * rng.standard_normal(t.size)).astype(np.float32),
                     sample_rate)
            rows.append({"filename": name, "fold": fold, "target": target,
                         "category": ["dog", "rain"][target], "esc10": "True",
                         "src_file": str(100 + k), "take": "A"})
    with open(root / "meta" / "esc50.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_esc50_prepare_and_lmac_debug_on_a_standin(debug_classifier, tmp_path):
    from speechbrain_xai.data.esc50 import prepare_esc50

    data = tmp_path / "esc"
    make_esc50_standin(data / "ESC-50-master")
    csvs = prepare_esc50(str(data), str(tmp_path / "manifests"), download=False)
    counts = {split: len(list(csv.DictReader(open(path)))) for split, path in csvs.items()}
    assert counts == {"train": 3, "valid": 1, "test": 1}
    with pytest.raises(RuntimeError, match="ESC-50"):
        prepare_esc50(str(tmp_path / "empty"), str(tmp_path / "m2"), download=False)

    out = tmp_path / "out"
    run_recipe(row_for("ESC50/interpret"), data, out, extra=[
        "--classifier_source", debug_classifier["pretrained"],
        "--layers=[embedding_model.blocks.0,embedding_model.blocks.1]",
        "--layer_channels=[8,16]", "--n_freq=201",
        "--gradcam_layer", "embedding_model.blocks.1",
    ])
    results = json.loads((out / "results.json").read_text())
    assert {"L-MAC", "saliency", "gradcam"} <= set(results["results"]["in_domain"])
    assert (out / "interpreter" / "decoder.ckpt").is_file()


def test_diagnose_lmac_script_on_the_debug_interpreter(debug_interpreter, debug_classifier, tmp_path):
    """diagnose_lmac.py runs on an exported interpreter: one row per mask, the
    oracle mask scores 1 against itself on every ranking, and a manifest
    without voice clips is refused in one line."""
    script = os.path.join(ROOT, "recipes", "VocalMix", "interpret", "diagnose_lmac.py")
    manifest = debug_interpreter["manifests"]["test"]
    args = [sys.executable, script, str(debug_interpreter["output"] / "interpreter"),
            "--manifest", manifest, "--data_folder", debug_classifier["data_folder"],
            "--savedir", str(tmp_path / "savedir")]
    with open(manifest, newline="") as f:
        voiced = sum(r["label"] == "voice" for r in csv.DictReader(f))
    assert voiced, "the debug test split should hold a voice clip"
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.strip().strip("|").split("|")[1:]]
            for line in proc.stdout.splitlines() if line.startswith("| ") and "---" not in line}
    assert {"L-MAC", "Grad-CAM", "oracle mask"} <= set(rows)
    oracle = rows["oracle mask"]
    assert float(oracle[1]) == 1.0 and float(oracle[3]) == 1.0  # oracle AUC, frequency ranking
    for name in ("L-MAC", "Grad-CAM"):
        values = [float(v) for v in rows[name] if v != "nan"]
        assert all(0.0 <= v <= 1.0 for v in values), rows[name]
    no_voice = tmp_path / "no_voice.csv"
    with open(manifest, newline="") as f:
        reader = csv.DictReader(f)
        kept = [r for r in reader if r["label"] != "voice"]
        fields = reader.fieldnames
    with open(no_voice, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(kept)
    args[args.index(manifest)] = str(no_voice)
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode != 0 and "no 'voice' clips" in proc.stderr
