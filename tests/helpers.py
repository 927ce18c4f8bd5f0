"""Helpers shared by the integration and consistency tests."""

import csv
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def listed_recipes():
    """Rows of tests/recipes.csv: every recipe with the arguments of its --debug test."""
    with open(os.path.join(ROOT, "tests", "recipes.csv")) as f:
        return list(csv.DictReader(f))


def run_recipe(row, data_folder, output_folder, extra=()):
    """Runs one listed recipe in --debug mode as a user would (a subprocess)."""
    cmd = [
        sys.executable, os.path.join(ROOT, row["Script"]), os.path.join(ROOT, row["Hparams"]),
        "--debug", "--data_folder", str(data_folder), "--output_folder", str(output_folder),
        *row["Debug_args"].split(), *extra,
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, cwd=str(output_folder.parent), env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc
