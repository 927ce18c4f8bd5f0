"""VocalMix on disk: the data set as wav files and SpeechBrain manifests.

The clips themselves (voice model, background model, mixing, labels) are made
by :mod:`speechbrain_xai.data.vocalmix_synthesis`; this module writes them,
through the writer of every generated clip set,
:mod:`speechbrain_xai.data.clip_sets`.

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

from speechbrain_xai.data.clip_sets import RECIPE_HPARAMS as CLIP_SET_HPARAMS
from speechbrain_xai.data.clip_sets import (
    CSV_COLUMNS,
    check_prepare_args,
    hparams_preparer,
    prepare_clip_set,
    write_stems,
)
from speechbrain_xai.data.vocalmix_synthesis import (
    BACKGROUND_KINDS,
    DEFAULT_SNR_DB_RANGE,
    GENERATOR_VERSION,
    TASKS,
    check_audio_args,
    clip_rng,
    clip_spec,
    synthesize_clip,
)

# CSV_COLUMNS is re-exported: the manifests' columns, as before the writer moved
# to clip_sets.
__all__ = [
    "CSV_COLUMNS",
    "RECIPE_HPARAMS",
    "SETTINGS_FILE",
    "prepare_vocalmix",
    "prepare_vocalmix_from_hparams",
]

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
    return write_stems(folder, split, index, clip, label, settings)


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
    sizes = check_prepare_args(num_train, num_valid, num_test, seed, num_workers, snr_db_range)
    sample_rate, duration = check_audio_args(sample_rate, duration)
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}.")
    settings = _settings(
        sizes["train"], sizes["valid"], sizes["test"], duration, sample_rate, task, int(seed),
        snr_db_range,
    )
    return prepare_clip_set(
        data_folder, save_folder, settings, _write_clip, SETTINGS_FILE, "VocalMix",
        "prepare_vocalmix", skip_if_exists, num_workers, details=f", {task} task",
    )


# The hyperparameters a recipe uses to describe its VocalMix data, and the
# ``prepare_vocalmix`` argument each one sets (all optional but data_folder).
RECIPE_HPARAMS = {**CLIP_SET_HPARAMS, "task": "task"}
prepare_vocalmix_from_hparams = hparams_preparer(prepare_vocalmix, RECIPE_HPARAMS)
