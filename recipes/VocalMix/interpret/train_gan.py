#!/usr/bin/env python3
"""Trains a spectrogram GAN on VocalMix excerpts in a classifier's feature domain.

The GAN learns log-mel excerpts (``excerpt_frames`` x ``n_mels``) computed by
the explained classifier's own front-end; ``am_search.py`` then searches its
latent space for examples that drive a unit of the classifier up or down.
At the end it writes the best generator to ``<generator_file>`` and a
sample-quality report (Fréchet distance in the classifier's embedding space:
generated vs real, real vs real, untrained generator vs real).

1. generates VocalMix (offline, deterministic; reuses the classifier's data),
2. reads the mixtures, with ``--voice_focus True`` every voice clip cut to its
   voice interval (``speechbrain_xai.data.datasets.vocalmix_excerpt_datasets``),
3. trains, tests and exports the GAN (``speechbrain_xai.brains.gan.run_gan``,
   the same step as the ESC-50 recipe's).

To run (CPU, minutes):
    python recipes/VocalMix/interpret/train_gan.py recipes/VocalMix/interpret/hparams/gan.yaml \
        --data_folder data/VocalMix \
        --classifier_source results/VocalMix/classification/small_cnn/1234/pretrained
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.gan import run_gan
from speechbrain_xai.data.datasets import vocalmix_excerpt_datasets
from speechbrain_xai.data.vocalmix import prepare_vocalmix_from_hparams

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
    manifests = prepare_vocalmix_from_hparams(hparams, hparams["save_folder"])
    datasets = vocalmix_excerpt_datasets(hparams, manifests)
    run_gan(hparams, run_opts, datasets)
