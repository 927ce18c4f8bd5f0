#!/usr/bin/env python3
"""L-MAC on ESC-50 in the paper's setting (CNN14 classifier, 16 kHz).

Prepares ESC-50 (downloads it when a network is there), trains the mask
decoder on the frozen classifier (a hub id such as ``speechbrain/cnn14-esc50``
or a local pretrained folder), evaluates L-MAC in-domain and out-of-domain
(mixtures with other clips, speech-like interference, white noise) and
exports an interpreter folder. The training loop, the evaluation and the
export are the VocalMix recipe's (``recipes/VocalMix/interpret/train_lmac.py``);
only the data differ.

The shared code reads from the hparams: "classifier_source", "modules",
"opt_class", "checkpointer", "train_dataloader_opts", "valid_dataloader_opts",
"interpreter_folder", "save_folder", "output_folder", and (``LMACBrain``)
"layers", "mask_mode", "train_path", "l_in", "l_out", "l1", "tv", "out_loss",
"contamination", "contamination_prob", "snr_range", "guided_weight",
"guided_from_epoch", "guided_corr", "guided_bin", "epoch_counter",
"ckpt_to_keep", "lr_annealing", "train_logger", "test_conditions",
"baselines", "ground_truth_class", "test_seed", "reference_condition".

To run (GPU):
    python recipes/ESC50/interpret/train_lmac.py recipes/ESC50/interpret/hparams/lmac_cnn14.yaml \
        --data_folder data/ESC50
"""

import os
import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from esc50_prepare import esc50_datasets, find_esc50_root, prepare_esc50_from_hparams  # noqa: E402
from vocalmix_code import load_vocalmix_script  # noqa: E402

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
    datasets = esc50_datasets(manifests, find_esc50_root(hparams["data_folder"]), hparams["sample_rate"])
    load_vocalmix_script("train_lmac").run_lmac(hparams, hparams_file, run_opts, datasets)
