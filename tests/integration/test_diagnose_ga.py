"""recipes/VoiceScenes/diagnose_ga.py, run as a user runs it: the shipped voice
detector on the debug VocalMix test split (voice stems kept)."""

import csv
import os
import subprocess
import sys

from tests.helpers import ROOT

SCRIPT = os.path.join(ROOT, "recipes", "VoiceScenes", "diagnose_ga.py")


def table(stdout):
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and "---" not in line and cells[0] != "choice":
            rows[cells[0]] = cells[1:]
    return rows


def test_diagnose_ga_scores_the_choices_and_refuses_a_manifest_without_stems(debug_classifier, tmp_path):
    manifest = debug_classifier["manifests"]["test"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    args = [sys.executable, SCRIPT, manifest, "--data_root", debug_classifier["data_folder"],
            "--num_clips", "6", "--option", "max_evaluations=20"]
    proc = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = table(proc.stdout)
    assert "G" in rows, proc.stdout  # the shipped detector calls at least one debug clip voice
    clips = int(rows["G"][0])
    assert clips >= 1 and "'max_evaluations': 20" in proc.stdout
    for name, (n, share, fitness, fitter) in rows.items():
        assert 0.0 <= float(share) <= 1.0 and float(fitness) == float(fitness), name
        assert fitter == "-" or 0 <= int(fitter) <= int(n) <= clips, name
    # dropping the segments the voice never touches only removes mass outside the voice
    if "G & touched" in rows and rows["G & touched"][0] == rows["G"][0]:
        assert float(rows["G & touched"][1]) >= float(rows["G"][1]) - 1e-6
    # a manifest without voice stems: a one-line error naming the file
    plain = tmp_path / "plain.csv"
    with open(manifest, newline="") as f:
        first = next(csv.DictReader(f))
    with open(plain, "w", newline="") as f:
        csv.writer(f).writerows([["ID", "wav"], [first["ID"], first["wav"]]])
    proc = subprocess.run([sys.executable, SCRIPT, str(plain), "--data_root", debug_classifier["data_folder"]],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert proc.returncode == 2 and "plain.csv: needs wav and voice_wav columns" in proc.stderr
