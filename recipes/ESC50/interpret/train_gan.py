#!/usr/bin/env python3
"""Trains a spectrogram GAN on ESC-50 excerpts in the classifier's feature domain.

The ESC-50 configuration of GAN-based activation maximisation (step 1 of 2;
``am_search.py`` is step 2). The GAN learns excerpts of ``excerpt_frames`` x
``n_mels`` frames of the explained classifier's own features (CNN14 on ESC-50:
the dB mel filterbank of ``|STFT|``, 80 bands, 11.6 ms hop), cut from the
training folds. Data: ``speechbrain_xai.data.esc50`` (folds 1-3 train, 4 valid, 5 test).
The training loop and the sample-quality report (``GANBrain``: Fréchet
distance in the classifier's embedding space, generated vs real, real vs real,
untrained generator vs real) are the VocalMix recipe's; only the data differ.

To run (GPU):
    python recipes/ESC50/interpret/train_gan.py recipes/ESC50/interpret/hparams/gan_cnn14.yaml \
        --data_folder data/ESC50
"""

import os
import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.logger import get_logger


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from speechbrain_xai.data.esc50 import esc50_datasets, find_esc50_root, prepare_esc50_from_hparams  # noqa: E402
from vocalmix_code import load_vocalmix_script  # noqa: E402

logger = get_logger(__name__)


def esc50_gan_datasets(hparams, splits):
    """Prepares ESC-50 and returns ``{split: dataset}`` (``id``, ``sig``) for ``splits``."""
    manifests = prepare_esc50_from_hparams(hparams)
    return esc50_datasets({s: manifests[s] for s in splits}, find_esc50_root(hparams["data_folder"]),
                          hparams["sample_rate"])


def check_classifier(adapter, hparams):
    """Fits the recipe to the classifier: its rate wins over ``sample_rate`` (clips
    are resampled to it, rendered audio is written at it), and its features
    must have ``n_mels`` bands (the GAN's excerpt height)."""
    if adapter.sample_rate != hparams["sample_rate"]:
        logger.warning("The classifier runs at %d Hz, not sample_rate=%d: using %d Hz.",
                       adapter.sample_rate, hparams["sample_rate"], adapter.sample_rate)
        hparams["sample_rate"] = adapter.sample_rate
    with torch.no_grad():
        bands = adapter.features(torch.zeros(1, adapter.sample_rate, device=adapter.device)).shape[-1]
    if bands != hparams["n_mels"]:
        raise ValueError(f"The classifier's features have {bands} bands, not n_mels={hparams['n_mels']}: "
                         f"pass --n_mels {bands} (divisible by 2^len(gen_channels)).")


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    sb.utils.distributed.ddp_init_group(run_opts)
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    vocalmix = load_vocalmix_script("train_gan")  # the training and report code
    adapter = vocalmix.load_classifier(hparams, run_opts)
    check_classifier(adapter, hparams)
    datasets = esc50_gan_datasets(hparams, ("train", "valid", "test"))
    vocalmix.run_gan(hparams, run_opts, datasets, adapter)
