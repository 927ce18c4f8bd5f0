#!/usr/bin/env python3
"""Trains the spectrogram GAN of the shipped voice detector (for the demo's activation maximisation).

The data are the classifier's (VocalMix + the realistic voice scenes, reused
from its data folder); the training loop and the sample-quality report are
``speechbrain_xai.brains.gan.run_gan``, as for the VocalMix recipe.

To run (CPU):
    python recipes/VoiceScenes/interpret/train_gan.py recipes/VoiceScenes/interpret/hparams/gan.yaml \
        --data_folder data/VoiceDetector \
        --classifier_source results/VoiceScenes/classification/voice_detector/1234/pretrained
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.gan import run_gan
from speechbrain_xai.data.datasets import vocalmix_excerpt_datasets
from speechbrain_xai.data.voice_detector import prepare_voice_detector_data

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
    manifests = prepare_voice_detector_data(hparams, hparams["save_folder"])
    datasets = vocalmix_excerpt_datasets(hparams, manifests)
    run_gan(hparams, run_opts, datasets)
