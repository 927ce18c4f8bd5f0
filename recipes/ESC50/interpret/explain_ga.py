#!/usr/bin/env python3
"""Explains an ESC-50 classifier (CNN14, 16 kHz) with the genetic explainer.

Prepares ESC-50 as ``train_lmac.py`` does (``esc50_prepare``; downloads it
when ``download`` is True and a network is there), then runs
``GeneticExplainer`` over the first ``num_explain`` clips of the test folds
through SpeechBrain's ``evaluate()`` (``GeneticExplainerBrain``), explaining
the predicted class (``target: null``). Each clip's explanation is written to
``<explanations_folder>`` (masked-in/out wav, mask, png, json), clips already
written are skipped (a killed run resumes), and the metrics (faithfulness,
deletion/insertion AUC) go to ``metrics.csv`` and ``metrics_summary.json``.
ESC-50 has no source stems, so there are no oracle metrics
(``oracle_class: null``).

To run (a GPU helps: each clip costs up to ``max_evaluations`` CNN14 forward passes):
    python recipes/ESC50/interpret/explain_ga.py recipes/ESC50/interpret/hparams/ga_cnn14.yaml \
        --data_folder data/ESC50

``--classifier_source`` takes the hub id (default ``speechbrain/cnn14-esc50``)
or a local SpeechBrain pretrained folder.
"""

import os
import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.logger import get_logger

from speechbrain_xai.explainers.genetic_brain import GeneticExplainerBrain

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from esc50_prepare import esc50_datasets, find_esc50_root, prepare_esc50_from_hparams  # noqa: E402

logger = get_logger(__name__)


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
    os.makedirs(hparams["explanations_folder"], exist_ok=True)

    logger.info(
        "Explaining %d clips (target %s, oracle class %s, %d curve steps, plots %s) with %s",
        len(data), hparams["target"], hparams["oracle_class"], hparams["curve_steps"],
        hparams["save_plots"], hparams["explainer"].settings(),
    )
    brain = GeneticExplainerBrain(modules={}, hparams=hparams, run_opts=run_opts)
    brain.evaluate(data, test_loader_kwargs=hparams["dataloader_opts"])
    logger.info("Explanations and metrics in %s", hparams["explanations_folder"])
