#!/usr/bin/env python3
"""Trains, evaluates and exports the L-MAC interpreter of the shipped voice detector.

The data are the classifier's (VocalMix + the realistic voice scenes, reused
from its data folder); training, the evaluation harness (in-domain and
out-of-domain, L-MAC against the gradient baselines, ground-truth voice mask)
and the export are ``speechbrain_xai.brains.lmac.run_lmac``, as for the
VocalMix recipe.

To run (CPU):
    python recipes/VoiceScenes/interpret/train_lmac.py recipes/VoiceScenes/interpret/hparams/lmac.yaml \
        --data_folder data/VoiceDetector \
        --classifier_source results/VoiceScenes/classification/voice_detector/1234/pretrained
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.lmac import run_lmac
from speechbrain_xai.data.datasets import vocalmix_datasets
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
    datasets = vocalmix_datasets(manifests, hparams["data_folder"], hparams["sample_rate"],
                                 splits=("train", "valid", *hparams["test_splits"]))
    run_lmac(hparams, run_opts, datasets)
