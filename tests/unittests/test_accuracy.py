"""Tests for speechbrain_xai.accuracy: classifying a manifest, counting per group."""

import csv

import numpy as np
import pytest
import soundfile as sf

from speechbrain_xai.accuracy import accuracy_report, classify_manifest, report_markdown


def _manifest(folder, labels, lengths):
    rng = np.random.default_rng(0)
    path = folder / "test.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["ID", "wav", "label", "kind"])
        for i, (label, n) in enumerate(zip(labels, lengths)):
            sf.write(folder / f"c{i}.wav", rng.standard_normal(n) * 0.1, 16000, subtype="FLOAT")
            writer.writerow([f"c{i}", f"$data_root/c{i}.wav", label, f"k{i % 2}"])
    return str(path)


def test_classify_manifest_matches_the_adapter_and_batches_agree(tiny_adapter, tmp_path):
    manifest = _manifest(tmp_path, ["a", "b", "c", "a", "b"], [16000, 16000, 8000, 16000, 12000])
    rows = classify_manifest(tiny_adapter, manifest, batch_size=2)
    assert [r["ID"] for r in rows] == [f"c{i}" for i in range(5)]
    for row in rows:
        assert row["correct"] == (row["predicted"] == row["label"])
        assert 0.0 <= row["p_label"] <= 1.0 and row["p_predicted"] >= row["p_label"] - 1e-4
    # clips not padded in their batch (all but c2) get the answer they get alone
    single = classify_manifest(tiny_adapter, manifest, batch_size=1)
    for a, b in zip(rows, single):
        if a["ID"] != "c2":
            assert a["predicted"] == b["predicted"]
            assert a["p_label"] == pytest.approx(b["p_label"], abs=2e-4)
    report = accuracy_report(rows, ["label", "kind"])
    assert report["overall"]["n"] == 5 and sum(e["n"] for e in report["by"]["kind"].values()) == 5
    assert len(report["errors"]) == 5 - report["overall"]["correct"]
    text = report_markdown(report, ["label", "kind"])
    assert "\n| k0 | 3 |" in text and "\n| k1 | 2 |" in text


def test_unknown_labels_are_one_clear_error(tiny_adapter, tmp_path):
    manifest = _manifest(tmp_path, ["a", "voice"], [16000, 16000])
    with pytest.raises(ValueError, match=r"labels \['voice'\] the classifier does not know"):
        classify_manifest(tiny_adapter, manifest)
