#!/usr/bin/env python3
"""Trains L-MAC on the VocalMix voice detector, evaluates it, exports it.

1. generates VocalMix (offline, deterministic; reuses the classifier's data),
2. trains the mask decoder (``LMACBrain``) on the frozen classifier,
3. evaluates L-MAC and the baselines in-domain and out-of-domain (mixtures,
   speech-like interference, white noise) with the evaluation harness: the
   faithfulness metrics, deletion / insertion AUC and the ground-truth voice
   mask -> ``<output_folder>/results.md``,
4. exports a self-contained interpreter folder that
   ``speechbrain_xai.inference.LMACInterpreter.from_hparams`` loads.

Steps 2-4 are ``speechbrain_xai.brains.lmac.run_lmac`` (the ESC-50 recipe
runs the same on its data).

To run (CPU, minutes):
    python recipes/VocalMix/interpret/train_lmac.py recipes/VocalMix/interpret/hparams/lmac.yaml \
        --data_folder data/VocalMix \
        --classifier_source results/VocalMix/classification/small_cnn/1234/pretrained
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.lmac import run_lmac
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
    manifests = prepare_vocalmix_from_hparams(hparams, hparams["manifest_folder"])
    datasets = vocalmix_datasets(manifests, hparams["data_folder"], hparams["sample_rate"])
    run_lmac(hparams, run_opts, datasets)
