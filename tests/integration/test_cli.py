"""The speechbrain-xai command, run as a user runs it (a subprocess), on the debug classifier."""

import csv
import json
import os
import shutil

import numpy as np
import soundfile as sf

from tests.helpers import run_cli as cli


def test_help_and_methods():
    out = cli("--help")
    assert out.returncode == 0 and "explain" in out.stdout and "compare" in out.stdout
    assert "speechbrain-xai explain clip.wav" in out.stdout  # examples
    methods = cli("methods")
    assert methods.returncode == 0 and "ga" in methods.stdout.split() and "lmac" in methods.stdout.split()
    assert cli().returncode == 2


def test_explain_files_folders_manifests_then_skip_what_is_done(debug_classifier, tmp_path):
    with open(debug_classifier["manifests"]["test"]) as f:
        rows = list(csv.DictReader(f))
    wavs = [r["wav"].replace("$data_root", debug_classifier["data_folder"]) for r in rows]
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(wavs[1], folder / "from_folder.wav")
    out = tmp_path / "out"
    args = ["explain", wavs[0], folder, debug_classifier["manifests"]["test"],
            "--data-root", debug_classifier["data_folder"], "--classifier", debug_classifier["pretrained"],
            "--method", "saliency", "--out", out, "--quiet"]
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "" and "Traceback" not in first.stderr  # --quiet
    saved = sorted(p.name for p in (out / "saliency").glob("*.json"))
    expected = {f"{os.path.splitext(os.path.basename(wavs[0]))[0]}.json", "from_folder.json"}
    expected |= {f"{r['ID']}.json" for r in rows}
    assert set(saved) == expected
    info = json.loads((out / "saliency" / "from_folder.json").read_text())
    assert info["method"] == "saliency" and set(info["metrics"]) >= {"AI", "AD", "AG", "FF"}
    assert 0 <= info["prob_masked_in"] <= 1 and info["class_names"] == ["voice", "no_voice"]
    for kind in ("input", "masked_in", "masked_out"):
        assert (out / "saliency" / f"from_folder_{kind}.wav").is_file()
    report = (out / "report.html").read_text()
    assert "saliency/from_folder_masked_in.wav" in report and "from_folder.png" in report
    stamps = {p: p.stat().st_mtime for p in (out / "saliency").iterdir()}
    again = cli(*args[:-1])
    assert again.returncode == 0 and f"{len(expected)} already done" in again.stdout
    assert stamps == {p: p.stat().st_mtime for p in (out / "saliency").iterdir()}


def test_bad_inputs_get_one_line_and_leave_nothing(debug_classifier, tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, (0.1 * np.random.default_rng(0).standard_normal(16000)).astype(np.float32), 16000)
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    empty_dir = tmp_path / "docs"
    empty_dir.mkdir()
    (empty_dir / "readme.txt").write_text("no audio here")
    out = tmp_path / "out"
    base = ["--classifier", debug_classifier["pretrained"], "--method", "saliency", "--out", out]
    mixed = cli("explain", good, tmp_path / "missing.wav", text, empty_dir, *base, "--quiet")
    assert mixed.returncode == 1, mixed.stderr
    lines = [line for line in mixed.stderr.splitlines() if line.startswith("error:")]
    assert any("missing.wav: does not exist" in line for line in lines)
    assert any("notes.wav: is not a readable audio file" in line for line in lines)
    assert any("docs: holds no audio files" in line for line in lines)
    assert "Traceback" not in mixed.stderr
    written = sorted(p.name for p in (out / "saliency").iterdir())
    assert written and all(name.startswith("good") for name in written)  # nothing partial
    alone = cli("explain", empty_dir, *base)
    assert alone.returncode == 2 and alone.stderr.count("\n") == 1 and "Traceback" not in alone.stderr
    no_model = cli("explain", good, "--classifier", tmp_path / "nowhere", "--out", out)
    assert no_model.returncode == 2 and "does not exist" in no_model.stderr


def test_compare_writes_one_table_with_ground_truth(debug_classifier, tmp_path):
    # the recipe's own manifest: its voice_wav column is the true source (the demo's has source_wav)
    manifest = debug_classifier["manifests"]["test"]
    with open(manifest) as f:
        rows = list(csv.DictReader(f))
    out = tmp_path / "cmp"
    result = cli("compare", manifest, "--data-root", debug_classifier["data_folder"],
                 "--classifier", debug_classifier["pretrained"], "--methods", "saliency,random",
                 "--oracle-class", "voice", "--target", "voice", "--out", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "results.json").read_text())["results"]["in_domain"]
    assert set(summary) == {"saliency", "random"}
    assert all(entry["n"] == len(rows) for entry in summary.values())
    voices = sum(r["label"] == "voice" for r in rows)
    assert all(entry.get("n_oracle", 0) == voices for entry in summary.values())
    assert "| saliency |" in result.stdout
    assert "explanations/in_domain/random" in (out / "report.html").read_text()
    # a second run (another random seed): summarize gives the mean and spread over the runs
    out2 = tmp_path / "cmp2"
    result = cli("compare", manifest, "--data-root", debug_classifier["data_folder"],
                 "--classifier", debug_classifier["pretrained"], "--methods", "random",
                 "--option", "seed=7", "--oracle-class", "voice", "--target", "voice", "--out", out2)
    assert result.returncode == 0, result.stderr
    second = json.loads((out2 / "results.json").read_text())["results"]["in_domain"]["random"]
    assert second["AG"] != summary["random"]["AG"]
    table = tmp_path / "seeds" / "table.md"
    result = cli("summarize", out, out2, "--columns", "AG,FF", "--out", table)
    assert result.returncode == 0, result.stderr
    means = json.loads(table.with_suffix(".json").read_text())["summary"]["in_domain"]
    ag = [summary["random"]["AG"], second["AG"]]
    assert means["random"]["AG"][0] == np.mean(ag) and means["random"]["AG"][2] == 2
    assert abs(means["random"]["AG"][1] - np.std(ag, ddof=1)) < 1e-9
    assert means["saliency"]["FF"][2] == 1 and "| in_domain | saliency |" in table.read_text()
    # a run joined with a comma merges the methods of one seed's folders
    result = cli("summarize", f"{out2},{out}", "--columns", "AG", "--out", table)
    assert result.returncode == 0 and "| in_domain | saliency |" in result.stdout
    merged = json.loads(table.with_suffix(".json").read_text())["summary"]["in_domain"]
    assert merged["random"]["AG"] == [second["AG"], 0.0, 1]  # the first folder's method wins
    result = cli("summarize", tmp_path / "nothing")
    assert result.returncode == 2 and "no results.json" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
