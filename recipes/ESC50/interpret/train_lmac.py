#!/usr/bin/env python3
"""L-MAC on ESC-50 in the paper's setting (CNN14 classifier, 16 kHz).

Prepares ESC-50 (downloads it when a network is there), trains the mask
decoder on the frozen classifier (a hub id such as ``speechbrain/cnn14-esc50``
or a local pretrained folder), evaluates L-MAC in-domain and out-of-domain
(mixtures with other clips, speech-like interference, white noise) and
exports an interpreter folder. The training loop, the evaluation (the
harness) and the export are ``speechbrain_xai.brains.lmac.run_lmac``, as for
the VocalMix recipe; only the data differ.

To run (GPU):
    python recipes/ESC50/interpret/train_lmac.py recipes/ESC50/interpret/hparams/lmac_cnn14.yaml \
        --data_folder data/ESC50
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.lmac import run_lmac
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
    datasets = esc50_datasets(manifests, find_esc50_root(hparams["data_folder"]), hparams["sample_rate"])
    run_lmac(hparams, run_opts, datasets)
