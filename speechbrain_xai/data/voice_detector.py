"""The shipped voice detector's data: VocalMix and the realistic voice scenes together.

:func:`prepare_voice_detector_data` generates (or reuses) VocalMix in
``data_folder/vocalmix`` and the voice scenes in ``data_folder/voice_scenes``
(sizes and seeds of each from the recipe's ``vocalmix`` and ``voice_scenes``
entries) and writes combined manifests ``{train,valid,test}.csv`` in
``save_folder`` whose paths start with ``$data_root/vocalmix/`` or
``$data_root/voice_scenes/`` (``data_root`` = ``data_folder``), plus each test
set alone (``test_vocalmix.csv``, ``test_voice_scenes.csv``: the voice
scenes' test split is the held-out realistic set). The columns are those of
both data sets (stems included), so the classifier, L-MAC and the harness's
ground truth read them alike.

Example
-------
>>> import csv, os
>>> from speechbrain_xai.data import tts
>>> folder = str(getfixture("tmp_path"))
>>> sizes = {"num_train": 2, "num_valid": 2, "num_test": 2, "clip_duration": 0.5}
>>> engines = {"tts_engines": ["espeak-ng"]} if "espeak-ng" in tts.installed_engines() else None
>>> if engines:
...     out = prepare_voice_detector_data({"data_folder": folder, "vocalmix": sizes,
...                                        "voice_scenes": {**sizes, **engines}},
...                                       os.path.join(folder, "manifests"))
...     rows = list(csv.DictReader(open(out["test"])))
...     print(sorted(out), [r["wav"].split("/")[1] for r in rows])
... else:
...     print("['test', 'test_vocalmix', 'test_voice_scenes', 'train', 'valid'] "
...           "['vocalmix', 'vocalmix', 'voice_scenes', 'voice_scenes']")
['test', 'test_vocalmix', 'test_voice_scenes', 'train', 'valid'] ['vocalmix', 'vocalmix', 'voice_scenes', 'voice_scenes']
"""

from __future__ import annotations

import csv
import io
import os
from typing import Dict, Mapping

from speechbrain_xai.data.clip_sets import CSV_COLUMNS, SPLITS
from speechbrain_xai.data.vocalmix import prepare_vocalmix_from_hparams
from speechbrain_xai.data.voice_scenes import prepare_voice_scenes_from_hparams
from speechbrain_xai.files import write_text
from speechbrain_xai.hparams import reads_hparams

#: The data sets, the sub-folder of each, and what prepares it from hyperparameters.
PARTS = {
    "vocalmix": prepare_vocalmix_from_hparams,
    "voice_scenes": prepare_voice_scenes_from_hparams,
}


def _rows(manifest: str, part: str):
    with open(manifest, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            row["ID"] = f"{part}_{row['ID']}"  # ids stay unique across the two data sets
            for key in ("wav", "voice_wav", "background_wav"):
                row[key] = row[key].replace("$data_root/", f"$data_root/{part}/", 1)
            yield row


def _write(path: str, rows) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())
    return path


@reads_hparams("data_folder", "vocalmix", "voice_scenes")
def prepare_voice_detector_data(hparams: Mapping, save_folder: str) -> Dict[str, str]:
    """Prepares both data sets and writes the combined manifests (see module
    docstring). ``hparams["vocalmix"]`` and ``hparams["voice_scenes"]`` are
    dicts of each data set's recipe hyperparameters (``num_train``,
    ``clip_duration``, ``data_seed``, ``tts_engines``...); ``sample_rate`` is
    shared when given. DDP-safe (generation runs on the main process)."""
    parts = {}
    for part, prepare in PARTS.items():
        sub = {"data_folder": os.path.join(hparams["data_folder"], part), **dict(hparams[part])}
        if "sample_rate" in hparams:
            sub.setdefault("sample_rate", hparams["sample_rate"])
        parts[part] = prepare(sub, os.path.join(save_folder, part))
    out = {}
    for split in SPLITS:
        rows = [row for part, csvs in parts.items() for row in _rows(csvs[split], part)]
        out[split] = _write(os.path.join(save_folder, f"{split}.csv"), rows)
    for part, csvs in parts.items():
        out[f"test_{part}"] = _write(os.path.join(save_folder, f"test_{part}.csv"),
                                     _rows(csvs["test"], part))
    return out
