"""VocalMix on disk: the data set as wav files and SpeechBrain manifests.

The clips themselves (voice model, background model, mixing, labels) are made
by :mod:`speechbrain_xai.data.vocalmix_synthesis`; this module writes them.

Files
    ``prepare_vocalmix`` writes float32 wav files (``soundfile`` subtype
    ``FLOAT``, so that ``mix == voice + background`` survives the round trip
    exactly) and SpeechBrain CSV manifests whose paths start with the literal
    prefix ``$data_root/``. Load them with::

        DynamicItemDataset.from_csv(csv, replacements={"data_root": data_folder})

Authors
 * speechbrain_xai contributors
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
from concurrent.futures import ProcessPoolExecutor

import soundfile as sf
from speechbrain.utils.logger import get_logger

from speechbrain_xai.data.vocalmix_synthesis import (
    BACKGROUND_KINDS,
    DEFAULT_SNR_DB_RANGE,
    GENERATOR_VERSION,
    SPLITS,
    TASKS,
    check_audio_args,
    clip_rng,
    clip_spec,
    is_int,
    synthesize_clip,
)
from speechbrain_xai.files import remove_stale, staged_folder, write_text
from speechbrain_xai.hparams import reads_hparams

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
)
SETTINGS_FILE = "vocalmix_settings.json"


def _settings(num_train, num_valid, num_test, duration, sample_rate, task, seed, snr_db_range):
    return {
        "snr_db_range": [float(v) for v in snr_db_range],
        "dataset": "VocalMix",
        "generator_version": GENERATOR_VERSION,
        "num_train": num_train,
        "num_valid": num_valid,
        "num_test": num_test,
        "duration": duration,
        "sample_rate": sample_rate,
        "task": task,
        "seed": seed,
        "wav_subtype": "FLOAT",
        "path_prefix": "$data_root",
    }


def _read_settings(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _ours(name):
    return name.endswith(("_mix.wav", "_voice.wav", "_background.wav"))


_SFC_SET_ADD_PEAK_CHUNK = 0x1050


def _write_wav(path, data, sample_rate):
    """float32 wav without libsndfile's PEAK chunk (it holds a timestamp), so
    the same seed gives byte-identical files."""
    with sf.SoundFile(path, "w", sample_rate, 1, "FLOAT", format="WAV") as f:
        try:
            sf._snd.sf_command(f._file, _SFC_SET_ADD_PEAK_CHUNK, sf._ffi.NULL, 0)
        except AttributeError:  # private soundfile API moved: files stay valid
            pass
        f.write(data)


def _write_clip(folder, split, settings, index):
    """Synthesizes clip ``index`` of ``split``, writes its wavs, returns its CSV row."""
    label, has_voice, background = clip_spec(settings["task"], index)
    rng = clip_rng(settings["seed"], split, index)
    if background is None:
        background = BACKGROUND_KINDS[int(rng.integers(0, len(BACKGROUND_KINDS)))]
    clip = synthesize_clip(
        rng,
        sample_rate=settings["sample_rate"],
        duration=settings["duration"],
        voice=has_voice,
        background=background,
        snr_db_range=tuple(settings["snr_db_range"]),
    )
    clip_id = f"{split}_{index:05d}"
    row = {"ID": clip_id, "duration": f"{settings['duration']:.4f}", "label": label}
    for column, stem, key in (
        ("wav", "mix", "mixture"),
        ("voice_wav", "voice", "voice"),
        ("background_wav", "background", "background"),
    ):
        name = f"{clip_id}_{stem}.wav"
        _write_wav(os.path.join(folder, name), clip[key], settings["sample_rate"])
        row[column] = f"$data_root/{split}/{name}"
    row["voice_start"] = f"{clip['voice_start']:.6f}"
    row["voice_end"] = f"{clip['voice_end']:.6f}"
    row["snr_db"] = f"{clip['snr_db']:.4f}" if has_voice else "nan"
    return row


def _audio_complete(data_folder, audio_csvs, settings):
    """Whether ``data_folder`` holds a finished generation with ``settings``:
    its settings file, its manifest copies and every audio file they list."""
    if _read_settings(os.path.join(data_folder, SETTINGS_FILE)) != settings:
        return False
    if not all(os.path.isfile(p) for p in audio_csvs.values()):
        return False
    for path in audio_csvs.values():
        with open(path, encoding="utf-8") as f:
            for row in csv.DictReader(f):
                for key in ("wav", "voice_wav", "background_wav"):
                    if not os.path.isfile(row[key].replace("$data_root", data_folder)):
                        return False
    return True


def _check_folder(data_folder):
    """Refuses split folders holding foreign files; removes stale temporaries."""
    for split in SPLITS:
        final = os.path.join(data_folder, split)
        if os.path.isdir(final):
            foreign = [n for n in os.listdir(final) if not _ours(n)]
            if foreign:
                raise ValueError(
                    f"{final} holds files VocalMix did not write (e.g. {foreign[0]!r}); "
                    "give prepare_vocalmix a data_folder of its own."
                )
    remove_stale(data_folder)


def _generate_split(data_folder, split, num, settings, num_workers=1):
    """Writes one split into a temporary folder, swaps it in, returns rows."""
    with staged_folder(os.path.join(data_folder, split)) as tmp:
        write = functools.partial(_write_clip, tmp, split, settings)
        if num_workers > 1 and num > 1:
            with ProcessPoolExecutor(max_workers=num_workers) as pool:
                chunk = max(1, min(64, num // (4 * num_workers)))
                rows = list(pool.map(write, range(num), chunksize=chunk))
        else:
            rows = [write(index) for index in range(num)]
    return rows


def prepare_vocalmix(
    data_folder,
    save_folder=None,
    num_train=1000,
    num_valid=200,
    num_test=200,
    duration=2.0,
    sample_rate=16000,
    task="voice",
    seed=1234,
    skip_if_exists=True,
    num_workers=1,
    snr_db_range=DEFAULT_SNR_DB_RANGE,
):
    """Generates VocalMix and writes SpeechBrain CSV manifests.

    Audio goes to ``data_folder/{split}/{ID}_{mix,voice,background}.wav``
    (float32 wav). Manifests ``save_folder/{train,valid,test}.csv`` have the
    columns ``ID, duration, wav, voice_wav, background_wav, label,
    voice_start, voice_end, snr_db`` (``snr_db`` is ``nan`` without voice);
    paths start with ``$data_root/``, so load them with
    ``DynamicItemDataset.from_csv(csv, replacements={"data_root": data_folder})``.

    Clip ``i`` of a split depends only on ``(seed, split, i)`` and the audio
    settings, so asking for more clips extends a split without changing the
    clips already in it. Labels cycle through the classes, so every split is
    balanced (exactly so when its size is a multiple of the number of
    classes). A run that is killed leaves no manifest pointing at missing
    files: old manifests are removed first, each split is generated in a
    temporary folder and renamed into place, and manifests plus
    ``vocalmix_settings.json`` are written last, atomically. The settings file
    is written both to ``save_folder`` and to ``data_folder``, so that
    manifests in one save folder are regenerated when another call has since
    rewritten the shared audio with other settings.

    Arguments
    ---------
    data_folder : str
        Where the audio is written (created if needed; owned by VocalMix).
    save_folder : str, optional
        Where the manifests and the settings file go (default: data_folder).
    num_train : int
        Number of training clips.
    num_valid : int
        Number of validation clips.
    num_test : int
        Number of test clips.
    duration : float
        Clip duration in seconds (>= 0.5).
    sample_rate : int
        Sample rate in Hz (>= 8000).
    task : str
        ``"voice"``: labels ``voice`` / ``no_voice`` (binary, default), or
        ``"source"``: ``voice`` (voice over any background), ``music``
        (instruments only), ``noise`` (noise only).
    seed : int
        Data set seed.
    skip_if_exists : bool
        Skip generation when the manifests exist and were written with the
        same settings (otherwise the data set is regenerated).
    snr_db_range : tuple of float
        Range of the voice-to-background SNR in dB over the voice interval
        (default 0 to 12 dB).
    num_workers : int
        Processes used for generation (the output does not depend on it).

    Returns
    -------
    dict
        ``{"train": csv_path, "valid": csv_path, "test": csv_path}``.

    Example
    -------
    >>> tmpdir = getfixture("tmpdir")
    >>> csvs = prepare_vocalmix(str(tmpdir), num_train=2, num_valid=2, num_test=2, duration=0.5)
    >>> sorted(csvs)
    ['test', 'train', 'valid']
    >>> from speechbrain.dataio.dataset import DynamicItemDataset
    >>> data = DynamicItemDataset.from_csv(csvs["train"], replacements={"data_root": str(tmpdir)})
    >>> [data.data[k]["label"] for k in data.data_ids]
    ['voice', 'no_voice']
    """
    sizes = {}
    for split, num in zip(SPLITS, (num_train, num_valid, num_test)):
        if not is_int(num) or num < 0:
            raise ValueError(f"num_{split} must be a non-negative integer, got {num!r}.")
        sizes[split] = int(num)
    sample_rate, duration = check_audio_args(sample_rate, duration)
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}.")
    if not is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    seed = int(seed)
    if not is_int(num_workers) or num_workers < 1:
        raise ValueError(f"num_workers must be a positive integer, got {num_workers!r}.")

    data_folder = os.path.abspath(os.fspath(data_folder))
    save_folder = data_folder if save_folder is None else os.path.abspath(os.fspath(save_folder))
    os.makedirs(data_folder, exist_ok=True)
    os.makedirs(save_folder, exist_ok=True)
    csvs = {split: os.path.join(save_folder, f"{split}.csv") for split in SPLITS}
    # The settings go next to the manifests and next to the audio: the second
    # copy tells whether another call (e.g. another recipe's save_folder) has
    # since rewritten the shared audio with other settings.
    settings_paths = sorted(
        {os.path.join(folder, SETTINGS_FILE) for folder in (save_folder, data_folder)}
    )
    if len(snr_db_range) != 2 or not snr_db_range[0] <= snr_db_range[1]:
        raise ValueError(f"snr_db_range must be (low, high) in dB with low <= high, got {snr_db_range!r}.")
    settings = _settings(
        sizes["train"], sizes["valid"], sizes["test"], duration, sample_rate, task, seed,
        snr_db_range,
    )

    # a copy of the manifests also lives next to the audio, so that another
    # recipe's save_folder reuses the audio instead of generating it again
    audio_csvs = {split: os.path.join(data_folder, f"{split}.csv") for split in SPLITS}
    if skip_if_exists:
        complete = all(os.path.isfile(p) for p in csvs.values())
        if complete and all(_read_settings(p) == settings for p in settings_paths):
            logger.info("VocalMix already prepared in %s (same settings): skipping.", save_folder)
            return csvs
        if save_folder != data_folder and _audio_complete(data_folder, audio_csvs, settings):
            for split in SPLITS:
                with open(audio_csvs[split], encoding="utf-8") as f:
                    write_text(csvs[split], f.read())
            write_text(os.path.join(save_folder, SETTINGS_FILE),
                          json.dumps(settings, indent=2, sort_keys=True) + "\n")
            logger.info("VocalMix audio in %s has the same settings: manifests copied to %s.",
                        data_folder, save_folder)
            return csvs
        if any(os.path.exists(p) for p in [*settings_paths, *csvs.values()]):
            logger.info("VocalMix settings changed or files incomplete: regenerating.")

    empty = [split for split in SPLITS if sizes[split] == 0]
    if empty:
        logger.warning(
            "VocalMix split(s) %s have 0 clips: their manifests hold only a header, "
            "which SpeechBrain's DynamicItemDataset cannot load.", ", ".join(empty),
        )
    _check_folder(data_folder)
    # Invalidate old outputs first, so an interrupted run never looks complete.
    for path in [*settings_paths, *csvs.values(), *audio_csvs.values()]:
        if os.path.exists(path):
            os.remove(path)

    logger.info(
        "Generating VocalMix (%s task) in %s: %d/%d/%d clips of %.2f s at %d Hz, seed %d.",
        task, data_folder, *sizes.values(), duration, sample_rate, seed,
    )
    all_rows = {
        split: _generate_split(data_folder, split, sizes[split], settings, int(num_workers))
        for split in SPLITS
    }

    for split in SPLITS:
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(all_rows[split])
        write_text(csvs[split], buf.getvalue())
        if audio_csvs[split] != csvs[split]:
            write_text(audio_csvs[split], buf.getvalue())
    for path in settings_paths:
        write_text(path, json.dumps(settings, indent=2, sort_keys=True) + "\n")
    logger.info("VocalMix manifests written to %s.", save_folder)
    return csvs


# The hyperparameters a recipe uses to describe its VocalMix data, and the
# ``prepare_vocalmix`` argument each one sets (all optional but data_folder).
RECIPE_HPARAMS = {
    "data_folder": "data_folder",
    "num_train": "num_train",
    "num_valid": "num_valid",
    "num_test": "num_test",
    "clip_duration": "duration",
    "sample_rate": "sample_rate",
    "task": "task",
    "data_seed": "seed",
    "snr_db_range": "snr_db_range",
}


@reads_hparams("data_folder", optional=[k for k in RECIPE_HPARAMS if k != "data_folder"])
def prepare_vocalmix_from_hparams(hparams, save_folder):
    """Runs :func:`prepare_vocalmix` on the main process with a recipe's
    hyperparameters (see ``RECIPE_HPARAMS``) and returns the manifests on
    every process (DDP-safe)."""
    from speechbrain.utils.distributed import run_on_main

    kwargs = {arg: hparams[key] for key, arg in RECIPE_HPARAMS.items() if key in hparams}
    return run_on_main(prepare_vocalmix, kwargs={**kwargs, "save_folder": save_folder})
