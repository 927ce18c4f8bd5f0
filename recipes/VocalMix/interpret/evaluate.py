#!/usr/bin/env python3
"""Evaluates explainers of a VocalMix classifier with the one evaluation harness.

Runs every explainer of the YAML (``explainers``: registered methods by name
with their options, or explainer objects) over the test split through
SpeechBrain's ``evaluate()`` and data loaders
(``speechbrain_xai.brains.harness``) and writes one table: faithfulness (AI,
AD, AG, FF, Fid-In, SPS, COMP), deletion / insertion AUC, agreement with the
ground-truth voice mask, seconds per clip -> ``<output_folder>/results.md``,
``results.json``, ``per_clip.csv``. With ``save_explanations`` each
explanation is written to ``<explanations_folder>`` (masked-in/out wav, mask,
png, json); clips already written are skipped (a killed run resumes).

Configurations:
* ``hparams/evaluate.yaml``: L-MAC (a trained interpreter), the genetic
  explainer, LIME and every baseline side by side;
* ``hparams/ga.yaml``: the genetic explainer alone, its explanations saved.

To run (CPU), with a classifier trained by ../classification/train.py and an
interpreter exported by train_lmac.py:
    python recipes/VocalMix/interpret/evaluate.py recipes/VocalMix/interpret/hparams/evaluate.yaml \
        --data_folder data/VocalMix \
        --classifier_source results/VocalMix/classification/small_cnn/1234/pretrained \
        --interpreter_source results/VocalMix/interpret/lmac/1234/interpreter

Pass ``--test_csv <classification output>/save/test.csv`` to reuse that run's
manifest instead of preparing VocalMix again.
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.harness import run_evaluation
from speechbrain_xai.data.datasets import vocalmix_datasets
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
    test_csv = hparams["test_csv"]
    if not test_csv:
        test_csv = prepare_vocalmix_from_hparams(hparams, hparams["save_folder"])["test"]
    data = vocalmix_datasets({"test": test_csv}, hparams["data_folder"], hparams["sample_rate"])["test"]
    if hparams["num_explain"]:
        data = data.filtered_sorted(select_n=hparams["num_explain"])
    run_evaluation(hparams, run_opts, data)
