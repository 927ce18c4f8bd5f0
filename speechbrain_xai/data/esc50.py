"""Prepares ESC-50 (Piczak, 2015) for the interpretation recipes.

:func:`prepare_esc50` writes SpeechBrain CSV manifests ``train.csv`` /
``valid.csv`` / ``test.csv`` from the official ``ESC-50-master`` folder
(``audio/*.wav`` and ``meta/esc50.csv``). The paper's split: folds 1-3 train,
4 valid, 5 test. Paths use the ``$data_root`` placeholder (= the
``ESC-50-master`` folder). :func:`prepare_esc50_from_hparams` runs it with a
recipe's hyperparameters, and :func:`esc50_datasets` builds the datasets that
the recipes (``train_lmac.py``, ``evaluate.py``, the GAN ones) read: the 44.1 kHz clips
are downmixed and resampled to the classifier's rate on read.

When ``meta/esc50.csv`` is missing and ``download=True``, the official archive
is downloaded and unpacked into ``data_folder``. Without a network a clear
error says how to get the data by hand.

From the command line::

    python -m speechbrain_xai.data.esc50 data/ESC50
"""

import argparse
import csv
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from typing import Dict, Optional, Sequence

import soundfile as sf
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.logger import get_logger

from speechbrain_xai.data.datasets import audio_dataset
from speechbrain_xai.files import atomic_open
from speechbrain_xai.hparams import reads_hparams

logger = get_logger(__name__)

ESC50_URL = "https://github.com/karoldvl/ESC-50/archive/master.zip"
META_COLUMNS = ("filename", "fold", "target", "category", "esc10", "src_file", "take")
SPLITS = ("train", "valid", "test")


def find_esc50_root(data_folder: str) -> Optional[str]:
    """The ``ESC-50-master`` folder inside (or equal to) ``data_folder``, if any."""
    for root in (data_folder, os.path.join(data_folder, "ESC-50-master")):
        if os.path.isfile(os.path.join(root, "meta", "esc50.csv")):
            return os.path.abspath(root)
    return None


def download_esc50(data_folder: str, url: str = ESC50_URL, timeout: float = 30.0) -> str:
    """Downloads and unpacks the official archive into ``data_folder``.

    Raises a ``RuntimeError`` that explains the manual route when the
    network cannot be reached.
    """
    os.makedirs(data_folder, exist_ok=True)
    archive = os.path.join(data_folder, "ESC-50-master.zip")
    try:
        logger.info("Downloading ESC-50 from %s (about 600 MB)...", url)
        with urllib.request.urlopen(url, timeout=timeout) as response, \
                atomic_open(archive, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as err:
        raise RuntimeError(
            f"ESC-50 is not in {data_folder!r} and could not be downloaded ({err}). "
            f"Download {url} by hand, unpack it so that "
            f"{os.path.join(data_folder, 'ESC-50-master', 'meta', 'esc50.csv')} exists, "
            "and pass that data folder with --data_folder."
        ) from err
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(data_folder)
    os.remove(archive)
    root = find_esc50_root(data_folder)
    if root is None:
        raise RuntimeError(f"The archive from {url} has no ESC-50-master/meta/esc50.csv.")
    return root


def prepare_esc50(data_folder: str, save_folder: str, train_folds: Sequence[int] = (1, 2, 3),
                  valid_folds: Sequence[int] = (4,), test_folds: Sequence[int] = (5,),
                  download: bool = True) -> Dict[str, str]:
    """Writes the ESC-50 manifests and returns ``{split: csv_path}``.

    Arguments
    ---------
    data_folder : str
        Folder holding ``ESC-50-master`` (or the ``ESC-50-master`` folder itself).
    save_folder : str
        Where the manifests go.
    train_folds, valid_folds, test_folds : sequence of int
        Folds of each split (the paper: 1-3, 4, 5).
    download : bool
        Download the official archive when the data is missing.

    Returns
    -------
    dict
        ``{"train": csv, "valid": csv, "test": csv}``; columns ``ID, duration,
        wav, label, category, fold`` with ``$data_root`` paths, where
        ``data_root`` is the ``ESC-50-master`` folder (see :func:`find_esc50_root`).
    """
    root = find_esc50_root(data_folder)
    if root is None:
        if not download:
            raise RuntimeError(
                f"No ESC-50-master/meta/esc50.csv under {data_folder!r}; download {ESC50_URL}, "
                "unpack it there, or allow download=True."
            )
        root = download_esc50(data_folder)
    folds = {"train": set(train_folds), "valid": set(valid_folds), "test": set(test_folds)}
    rows = {split: [] for split in SPLITS}
    with open(os.path.join(root, "meta", "esc50.csv")) as f:
        reader = csv.DictReader(f)
        missing = [c for c in META_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{root}/meta/esc50.csv lacks the columns {missing}.")
        for meta in reader:
            fold = int(meta["fold"])
            split = next((s for s in SPLITS if fold in folds[s]), None)
            if split is None:
                continue
            path = os.path.join(root, "audio", meta["filename"])
            if not os.path.isfile(path):
                raise FileNotFoundError(f"{path} is listed in meta/esc50.csv but missing.")
            info = sf.info(path)
            rows[split].append({
                "ID": os.path.splitext(meta["filename"])[0],
                "duration": f"{info.frames / info.samplerate:.4f}",
                "wav": f"$data_root/audio/{meta['filename']}",
                "label": meta["target"],
                "category": meta["category"],
                "fold": fold,
            })
    os.makedirs(save_folder, exist_ok=True)
    csvs = {}
    for split in SPLITS:
        if not rows[split]:
            raise ValueError(f"No ESC-50 clips in the {split} folds {sorted(folds[split])}.")
        csvs[split] = os.path.join(save_folder, f"{split}.csv")
        with atomic_open(csvs[split], "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[split][0]))
            writer.writeheader()
            writer.writerows(rows[split])
    logger.info("ESC-50 manifests (%s) in %s",
                ", ".join(f"{s}: {len(rows[s])}" for s in SPLITS), save_folder)
    return csvs


@reads_hparams("data_folder", "save_folder", "train_folds", "valid_folds", "test_folds", "download")
def prepare_esc50_from_hparams(hparams: Dict) -> Dict[str, str]:
    """:func:`prepare_esc50` on the main process, with a recipe's hyperparameters.

    Reads ``data_folder``, ``save_folder`` (where the manifests go),
    ``train_folds``, ``valid_folds``, ``test_folds`` and ``download``.
    """
    return run_on_main(
        prepare_esc50,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["save_folder"],
            "train_folds": hparams["train_folds"],
            "valid_folds": hparams["valid_folds"],
            "test_folds": hparams["test_folds"],
            "download": hparams["download"],
        },
    )


def esc50_datasets(manifests: Dict[str, str], data_root: str, sample_rate: int) -> Dict:
    """ESC-50 datasets ``{split: DynamicItemDataset}`` with ``id``, ``sig`` and ``label``.

    Clips are downmixed to mono and resampled to ``sample_rate`` on read.

    Arguments
    ---------
    manifests : dict
        ``{split: csv_path}`` as returned by :func:`prepare_esc50` (any subset of splits).
    data_root : str
        The ``ESC-50-master`` folder (replaces ``$data_root``; see :func:`find_esc50_root`).
    sample_rate : int
        The classifier's rate.
    """

    return {split: audio_dataset(csv_path, data_root, sample_rate, extra_keys=["label"])
            for split, csv_path in manifests.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Prepare ESC-50 manifests (downloads if needed).")
    parser.add_argument("data_folder")
    parser.add_argument("--save_folder", default=None)
    args = parser.parse_args()
    print(prepare_esc50(args.data_folder, args.save_folder or args.data_folder))
