#!/usr/bin/env python3
"""Trains the shipped voice detector on VocalMix and the realistic voice scenes.

Generates both data sets on first run (offline, deterministic; the voice
scenes speak with the installed Debian TTS engines: ``apt-get install -y
espeak-ng flite festival``), trains the model of the hparams file, reports the
accuracy on the combined test set and on each test set alone (VocalMix's, and
the voice scenes' held-out realistic split) in ``test_accuracy.json``, and
exports the best checkpoint as a SpeechBrain pretrained folder.

To run (CPU, about an hour):
    python recipes/VoiceScenes/classification/train.py \
        recipes/VoiceScenes/classification/hparams/voice_detector.yaml --data_folder data/VoiceDetector
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.classifier import run_classification
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
    run_classification(hparams, hparams_file, run_opts, manifests, hparams["data_folder"])
