"""Generated clip data sets on disk: wav stems and SpeechBrain manifests.

The project's generated data sets (VocalMix, the realistic voice scenes) make
every clip in memory as three stems, ``mixture == voice + background``, and
write them the same way, through :func:`prepare_clip_set`:

* audio goes to ``data_folder/{split}/{ID}_{mix,voice,background}.wav`` as
  float32 wav (``soundfile`` subtype ``FLOAT``, without libsndfile's PEAK
  chunk, which holds a timestamp), so the sum survives the round trip
  exactly and the same seed gives byte-identical files;
* manifests ``save_folder/{train,valid,test}.csv`` have the columns
  :data:`CSV_COLUMNS`; their paths start with the literal ``$data_root/``, so
  they load with
  ``DynamicItemDataset.from_csv(csv, replacements={"data_root": data_folder})``;
* clip ``i`` of a split is written by ``write_clip(folder, split, settings,
  i)``, a module-level function of the data set that depends only on its
  arguments (so clips can be written by several processes, and asking for
  more clips extends a split without changing the clips already in it);
* a run that is killed leaves no manifest pointing at missing files: old
  manifests go first, each split is built in a temporary folder and swapped
  in, and the manifests plus the settings file are written last, atomically
  (see :mod:`speechbrain_xai.files`);
* a second call with the same settings skips the work; one from another
  ``save_folder`` over the same audio copies the manifests (a copy of them
  and of the settings lives next to the audio for that);
* every clip's content hash is a manifest column (``sha256`` of the float32
  little-endian samples of its mix, voice and background, in that order:
  what the wav files hold), and ``<name>_hash.json`` next to the manifests
  holds one hash of the whole set (:func:`content_hash`: the three manifests,
  so every clip's audio, label, voice interval and SNR). The same settings
  give the same hash on every machine; :func:`check_content` rehashes the
  audio on disk.

Example
-------
>>> import numpy as np, os, tempfile
>>> def write_clip(folder, split, settings, index):
...     n = settings["sample_rate"] // 10
...     clip = {"mixture": np.zeros(n, np.float32), "voice": np.zeros(n, np.float32),
...             "background": np.zeros(n, np.float32), "voice_start": 0.0,
...             "voice_end": 0.0, "snr_db": float("nan")}
...     return write_stems(folder, split, index, clip, "no_voice", settings)
>>> folder = tempfile.mkdtemp()
>>> settings = {"sample_rate": 8000, "duration": 0.1, "seed": 0,
...             "num_train": 2, "num_valid": 1, "num_test": 1}
>>> csvs = prepare_clip_set(folder, None, settings, write_clip, "demo_settings.json",
...                         "Demo", "prepare_demo")
>>> sorted(os.listdir(os.path.join(folder, "train")))[:3]
['train_00000_background.wav', 'train_00000_mix.wav', 'train_00000_voice.wav']
>>> open(csvs["valid"]).read().splitlines()[1].split(",")[:3]
['valid_00000', '0.1000', '$data_root/valid/valid_00000_mix.wav']
>>> read_content_hash(folder, "demo_settings.json")["sha256"] == content_hash(csvs)
True
>>> check_content(csvs, folder)  # the ids whose audio does not match its hash
[]
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Dict, Mapping, Optional, Sequence

import numpy as np
import soundfile as sf
from speechbrain.utils.logger import get_logger

from speechbrain_xai.data.vocalmix_synthesis import SPLITS, is_int
from speechbrain_xai.files import remove_stale, staged_folder, write_text

logger = get_logger(__name__)

CSV_COLUMNS = (
    "ID",
    "duration",
    "wav",
    "voice_wav",
    "background_wav",
    "label",
    "voice_start",
    "voice_end",
    "snr_db",
    "sha256",
)
STEMS = (("wav", "mix", "mixture"), ("voice_wav", "voice", "voice"),
         ("background_wav", "background", "background"))
_SFC_SET_ADD_PEAK_CHUNK = 0x1050
#: What the hash file's ``sha256`` covers (written into it).
HASHED = ("sha256 of 'train\\n' + train.csv + 'valid\\n' + valid.csv + 'test\\n' + test.csv "
          "(bytes as written); each row's sha256 column hashes the clip's mix, voice and "
          "background as float32 little-endian samples")


def check_prepare_args(num_train, num_valid, num_test, seed, num_workers,
                       snr_db_range=(0.0, 0.0)) -> Dict[str, int]:
    """Checks the arguments every generated data set shares; returns the split sizes.

    Arguments
    ---------
    num_train, num_valid, num_test : int
        Number of clips of each split (>= 0).
    seed : int
        Data set seed (>= 0).
    num_workers : int
        Processes used for generation (>= 1).
    snr_db_range : tuple of float
        ``(low, high)`` voice-to-background SNR in dB, ``low <= high``.

    Returns
    -------
    dict
        ``{"train": int, "valid": int, "test": int}``.

    Example
    -------
    >>> check_prepare_args(4, 2, 2, seed=1, num_workers=1)
    {'train': 4, 'valid': 2, 'test': 2}
    >>> check_prepare_args(4, -1, 2, seed=1, num_workers=1)
    Traceback (most recent call last):
     ...
    ValueError: num_valid must be a non-negative integer, got -1.
    """
    sizes = {}
    for split, num in zip(SPLITS, (num_train, num_valid, num_test)):
        if not is_int(num) or num < 0:
            raise ValueError(f"num_{split} must be a non-negative integer, got {num!r}.")
        sizes[split] = int(num)
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    if not is_int(num_workers) or num_workers < 1:
        raise ValueError(f"num_workers must be a positive integer, got {num_workers!r}.")
    if len(snr_db_range) != 2 or not snr_db_range[0] <= snr_db_range[1]:
        raise ValueError(f"snr_db_range must be (low, high) in dB with low <= high, "
                         f"got {snr_db_range!r}.")
    return sizes


def write_wav(path: str, data, sample_rate: int) -> None:
    """Writes a float32 mono wav without libsndfile's PEAK chunk (it holds a
    timestamp), so the same samples give byte-identical files."""
    with sf.SoundFile(path, "w", sample_rate, 1, "FLOAT", format="WAV") as f:
        try:
            sf._snd.sf_command(f._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        except AttributeError:  # private soundfile API moved: files stay valid
            pass
        f.write(data)


def write_stems(folder: str, split: str, index: int, clip: Mapping, label: str,
                settings: Mapping) -> Dict[str, str]:
    """Writes the three stems of clip ``index`` of ``split``; returns its CSV row.

    Arguments
    ---------
    folder : str
        The (staged) split folder the wavs go to.
    split : str
        The split name (used in the ID and the ``$data_root/{split}/`` paths).
    index : int
        Clip index within the split.
    clip : dict
        ``mixture``, ``voice``, ``background`` (float32 arrays),
        ``voice_start``, ``voice_end`` (seconds), ``snr_db`` (nan without voice).
    label : str
        The clip's class.
    settings : dict
        The data set settings: ``sample_rate`` and ``duration`` are read.

    Returns
    -------
    dict
        The manifest row (keys :data:`CSV_COLUMNS`).
    """
    clip_id = f"{split}_{index:05d}"
    row = {"ID": clip_id, "duration": f"{settings['duration']:.4f}", "label": label}
    for column, stem, key in STEMS:
        name = f"{clip_id}_{stem}.wav"
        write_wav(os.path.join(folder, name), clip[key], settings["sample_rate"])
        row[column] = f"$data_root/{split}/{name}"
    row["voice_start"] = f"{clip['voice_start']:.6f}"
    row["voice_end"] = f"{clip['voice_end']:.6f}"
    snr_db = float(clip["snr_db"])
    row["snr_db"] = "nan" if snr_db != snr_db else f"{snr_db:.4f}"
    row["sha256"] = stems_hash(clip[key] for _, _, key in STEMS)
    return row


def stems_hash(stems) -> str:
    """The ``sha256`` of a clip: its stems (mix, voice, background) as float32
    little-endian samples, one after the other (what the wav files hold)."""
    digest = hashlib.sha256()
    for stem in stems:
        digest.update(np.ascontiguousarray(stem, dtype="<f4").tobytes())
    return digest.hexdigest()


def content_hash(csvs: Mapping[str, str]) -> str:
    """The ``sha256`` of a whole generated set: its train, valid and test
    manifests (each clip's audio hash, label, voice interval and SNR)."""
    digest = hashlib.sha256()
    for split in _present(csvs):
        with open(csvs[split], "rb") as f:
            digest.update(f"{split}\n".encode() + f.read())
    return digest.hexdigest()


def _present(csvs: Mapping[str, str]) -> list:
    """The splits of ``csvs`` in :data:`SPLITS` order (a set may hold only some)."""
    return [s for s in SPLITS if s in csvs] + sorted(set(csvs) - set(SPLITS))


def hash_file(settings_file: str) -> str:
    """The name of the set's hash file: ``vocalmix_settings.json`` -> ``vocalmix_hash.json``."""
    stem = settings_file[:-len("_settings.json")] if settings_file.endswith("_settings.json") \
        else os.path.splitext(settings_file)[0]
    return f"{stem}_hash.json"


def read_content_hash(folder: str, settings_file: str) -> Optional[dict]:
    """The hash file of the set whose settings file is ``settings_file`` in
    ``folder`` (``None`` when missing)."""
    return read_settings(os.path.join(folder, hash_file(settings_file)))


def check_content(csvs: Mapping[str, str], data_folder: str) -> list:
    """The ids of the clips whose audio in ``data_folder`` does not match the
    ``sha256`` of their manifest row (e.g. files changed since generation)."""
    bad = []
    for split in _present(csvs):
        with open(csvs[split], encoding="utf-8") as f:
            for row in csv.DictReader(f):
                stems = [sf.read(row[column].replace("$data_root", data_folder), dtype="float32")[0]
                         for column, _, _ in STEMS]
                if stems_hash(stems) != row.get("sha256"):
                    bad.append(row["ID"])
    return bad


def read_settings(path: str) -> Optional[dict]:
    """The JSON settings at ``path``, or ``None`` when missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _ours(name):
    return name.endswith(tuple(f"_{stem}.wav" for _, stem, _ in STEMS))


def _audio_complete(data_folder, audio_csvs, settings, settings_file):
    """Whether ``data_folder`` holds a finished generation with ``settings``:
    its settings file, its manifest copies and every audio file they list."""
    if read_settings(os.path.join(data_folder, settings_file)) != settings:
        return False
    if read_content_hash(data_folder, settings_file) is None:  # written before hashes existed
        return False
    if not all(os.path.isfile(p) for p in audio_csvs.values()):
        return False
    for path in audio_csvs.values():
        with open(path, encoding="utf-8") as f:
            for row in csv.DictReader(f):
                for column, _, _ in STEMS:
                    if not os.path.isfile(row[column].replace("$data_root", data_folder)):
                        return False
    return True


def _check_folder(data_folder, name, prepare_name):
    """Refuses split folders holding foreign files; removes stale temporaries."""
    for split in SPLITS:
        final = os.path.join(data_folder, split)
        if os.path.isdir(final):
            foreign = [n for n in os.listdir(final) if not _ours(n)]
            if foreign:
                raise ValueError(
                    f"{final} holds files {name} did not write (e.g. {foreign[0]!r}); "
                    f"give {prepare_name} a data_folder of its own."
                )
    remove_stale(data_folder)


def _generate_split(data_folder, split, num, settings, write_clip, num_workers=1):
    """Writes one split into a temporary folder, swaps it in, returns rows."""
    with staged_folder(os.path.join(data_folder, split)) as tmp:
        write = functools.partial(write_clip, tmp, split, settings)
        if num_workers > 1 and num > 1:
            with ProcessPoolExecutor(max_workers=num_workers) as pool:
                chunk = max(1, min(64, num // (4 * num_workers)))
                rows = list(pool.map(write, range(num), chunksize=chunk))
        else:
            rows = [write(index) for index in range(num)]
    return rows


def prepare_clip_set(
    data_folder: str,
    save_folder: Optional[str],
    settings: dict,
    write_clip: Callable,
    settings_file: str,
    name: str,
    prepare_name: str,
    skip_if_exists: bool = True,
    num_workers: int = 1,
    details: str = "",
    splits: Sequence[str] = SPLITS,
    columns: Sequence[str] = CSV_COLUMNS,
) -> Dict[str, str]:
    """Writes (or reuses) a generated data set's audio and manifests.

    Arguments
    ---------
    data_folder : str
        Where the audio is written (created if needed; owned by the data set).
    save_folder : str, optional
        Where the manifests and the settings file go (default: data_folder).
    settings : dict
        Everything the audio depends on (JSON-serialisable), at least
        ``num_<split>`` for each of ``splits``, ``duration``,
        ``sample_rate`` and ``seed``; a finished generation with equal
        settings is reused.
    write_clip : callable
        ``write_clip(folder, split, settings, index) -> row``: writes clip
        ``index`` into ``folder`` (e.g. with :func:`write_stems`). Must be
        picklable (a module-level function) when ``num_workers > 1``.
    settings_file : str
        File name of the settings (e.g. ``"vocalmix_settings.json"``).
    name : str
        Data set name for messages.
    prepare_name : str
        Name of the public prepare function, for messages.
    skip_if_exists : bool
        Skip generation when the manifests exist with the same settings.
    num_workers : int
        Processes used for generation (the output does not depend on it).
    details : str
        More to log about what is generated when generation starts.
    splits : sequence of str
        The splits written (default train, valid and test; a held-out
        evaluation set writes ``("test",)`` only).
    columns : sequence of str
        The manifest columns: :data:`CSV_COLUMNS`, then any further columns
        the data set's rows carry (e.g. where each clip comes from).

    Returns
    -------
    dict
        ``{split: csv_path}`` for each of ``splits``.
    """
    sizes = {split: settings[f"num_{split}"] for split in splits}
    data_folder = os.path.abspath(os.fspath(data_folder))
    save_folder = data_folder if save_folder is None else os.path.abspath(os.fspath(save_folder))
    os.makedirs(data_folder, exist_ok=True)
    os.makedirs(save_folder, exist_ok=True)
    csvs = {split: os.path.join(save_folder, f"{split}.csv") for split in splits}
    # The settings go next to the manifests and next to the audio: the second
    # copy tells whether another call (e.g. another recipe's save_folder) has
    # since rewritten the shared audio with other settings.
    settings_paths = sorted(
        {os.path.join(folder, settings_file) for folder in (save_folder, data_folder)}
    )
    settings_text = json.dumps(settings, indent=2, sort_keys=True) + "\n"
    hash_paths = sorted(
        {os.path.join(folder, hash_file(settings_file)) for folder in (save_folder, data_folder)}
    )
    # a copy of the manifests also lives next to the audio, so that another
    # recipe's save_folder reuses the audio instead of generating it again
    audio_csvs = {split: os.path.join(data_folder, f"{split}.csv") for split in splits}
    if skip_if_exists:
        complete = all(os.path.isfile(p) for p in [*csvs.values(), *hash_paths])
        if complete and all(read_settings(p) == settings for p in settings_paths):
            logger.info("%s already prepared in %s (same settings): skipping.", name, save_folder)
            return csvs
        if save_folder != data_folder and _audio_complete(
            data_folder, audio_csvs, settings, settings_file
        ):
            for split in splits:
                with open(audio_csvs[split], encoding="utf-8") as f:
                    write_text(csvs[split], f.read())
            with open(os.path.join(data_folder, hash_file(settings_file)), encoding="utf-8") as f:
                write_text(os.path.join(save_folder, hash_file(settings_file)), f.read())
            write_text(os.path.join(save_folder, settings_file), settings_text)
            logger.info("%s audio in %s has the same settings: manifests copied to %s.",
                        name, data_folder, save_folder)
            return csvs
        if any(os.path.exists(p) for p in [*settings_paths, *csvs.values()]):
            logger.info("%s settings changed or files incomplete: regenerating.", name)

    empty = [split for split in splits if sizes[split] == 0]
    if empty:
        logger.warning(
            "%s split(s) %s have 0 clips: their manifests hold only a header, "
            "which SpeechBrain's DynamicItemDataset cannot load.", name, ", ".join(empty),
        )
    _check_folder(data_folder, name, prepare_name)
    # Invalidate old outputs first, so an interrupted run never looks complete.
    for path in [*settings_paths, *hash_paths, *csvs.values(), *audio_csvs.values()]:
        if os.path.exists(path):
            os.remove(path)

    logger.info("Generating %s in %s: %s clips of %.2f s at %d Hz, seed %d%s.", name,
                data_folder, "/".join(str(n) for n in sizes.values()), settings["duration"],
                settings["sample_rate"], settings["seed"], details)
    all_rows = {
        split: _generate_split(data_folder, split, sizes[split], settings, write_clip,
                               int(num_workers))
        for split in splits
    }
    for split in splits:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(all_rows[split])
        write_text(csvs[split], buf.getvalue())
        if audio_csvs[split] != csvs[split]:
            write_text(audio_csvs[split], buf.getvalue())
    digest = content_hash(csvs)
    hash_text = json.dumps({"sha256": digest, "clips": sizes, "hashed": HASHED}, indent=2) + "\n"
    for path in hash_paths:
        write_text(path, hash_text)
    for path in settings_paths:
        write_text(path, settings_text)
    logger.info("%s manifests written to %s (content sha256 %s).", name, save_folder, digest)
    return csvs


# The hyperparameters every generated data set's recipe may set, and the
# prepare argument each one sets (all optional but data_folder).
RECIPE_HPARAMS = {
    "data_folder": "data_folder",
    "num_train": "num_train",
    "num_valid": "num_valid",
    "num_test": "num_test",
    "clip_duration": "duration",
    "sample_rate": "sample_rate",
    "data_seed": "seed",
    "snr_db_range": "snr_db_range",
}


def hparams_preparer(prepare: Callable, recipe_hparams: Mapping[str, str]) -> Callable:
    """Makes ``prepare_..._from_hparams(hparams, save_folder)`` for a data set.

    The function runs ``prepare`` on the main process with the recipe's
    hyperparameters named in ``recipe_hparams`` (``{hyperparameter: prepare
    argument}``; those the recipe lacks keep the argument's default) and
    returns the manifests on every process (DDP-safe). It declares the keys
    it reads with :func:`speechbrain_xai.hparams.reads_hparams`.

    Example
    -------
    >>> def prepare_demo(data_folder, save_folder=None, seed=0):
    ...     return {"test": f"{save_folder}/test.csv", "seed": seed}
    >>> run = hparams_preparer(prepare_demo, {"data_folder": "data_folder", "data_seed": "seed"})
    >>> run.__name__, run.hparams_keys
    ('prepare_demo_from_hparams', ('data_folder', 'data_seed'))
    >>> run({"data_folder": "data", "data_seed": 7}, "out")
    {'test': 'out/test.csv', 'seed': 7}
    """
    from speechbrain_xai.hparams import reads_hparams

    @reads_hparams("data_folder", optional=[k for k in recipe_hparams if k != "data_folder"])
    def from_hparams(hparams, save_folder):
        from speechbrain.utils.distributed import run_on_main

        kwargs = {arg: hparams[key] for key, arg in recipe_hparams.items() if key in hparams}
        return run_on_main(prepare, kwargs={**kwargs, "save_folder": save_folder})

    from_hparams.__name__ = from_hparams.__qualname__ = f"{prepare.__name__}_from_hparams"
    from_hparams.__doc__ = (f"Runs :func:`{prepare.__name__}` on the main process with a "
                            "recipe's hyperparameters (see ``RECIPE_HPARAMS``) and returns "
                            "the manifests on every process (DDP-safe).")
    return from_hparams
