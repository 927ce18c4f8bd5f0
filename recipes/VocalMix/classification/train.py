#!/usr/bin/env python3
"""Trains the VocalMix classifier that the explainers explain.

Generates VocalMix on first run (offline, deterministic), trains the model of
the chosen hparams file, reports test accuracy, and exports the best
checkpoint as a SpeechBrain pretrained folder (``<pretrained_folder>``) that
``speechbrain_xai.ClassifierAdapter.from_hparams`` loads.

To run (CPU, minutes):
    python recipes/VocalMix/classification/train.py \
        recipes/VocalMix/classification/hparams/small_cnn.yaml --data_folder data/VocalMix

Multi-GPU:
    torchrun --nproc_per_node=2 recipes/VocalMix/classification/train.py \
        recipes/VocalMix/classification/hparams/cnn14.yaml --data_folder data/VocalMix
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.classifier import run_classification
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
    run_classification(hparams, hparams_file, run_opts, manifests, hparams["data_folder"])
