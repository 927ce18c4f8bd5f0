#!/usr/bin/env python3
"""Evaluates explainers of an ESC-50 classifier (CNN14, 16 kHz) with the evaluation harness.

Prepares ESC-50 as ``train_lmac.py`` does (``speechbrain_xai.data.esc50``;
downloads it when ``download`` is True and a network is there), then runs the
explainers of the YAML over the first ``num_explain`` clips of the test folds
through SpeechBrain's ``evaluate()`` (``speechbrain_xai.brains.harness``),
explaining the predicted class (``target: null``): one table of faithfulness,
deletion / insertion AUC and seconds per clip in ``<output_folder>``. ESC-50
has no source stems, so there are no oracle metrics (``oracle_class: null``).
With ``save_explanations`` each explanation is written to
``<explanations_folder>``; clips already written are skipped (a killed run
resumes).

Configuration ``hparams/ga_cnn14.yaml``: the genetic explainer (a GPU helps:
each clip costs up to ``max_evaluations`` CNN14 forward passes):
    python recipes/ESC50/interpret/evaluate.py recipes/ESC50/interpret/hparams/ga_cnn14.yaml \
        --data_folder data/ESC50

``--classifier_source`` takes the hub id (default ``speechbrain/cnn14-esc50``)
or a local SpeechBrain pretrained folder.
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.harness import run_evaluation
from speechbrain_xai.data.esc50 import esc50_datasets, find_esc50_root, prepare_esc50_from_hparams

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
    manifests = prepare_esc50_from_hparams(hparams)
    data = esc50_datasets({"test": manifests["test"]}, find_esc50_root(hparams["data_folder"]),
                          hparams["sample_rate"])["test"]
    if hparams["num_explain"]:
        data = data.filtered_sorted(select_n=hparams["num_explain"])
    run_evaluation(hparams, run_opts, data)
