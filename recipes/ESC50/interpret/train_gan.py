#!/usr/bin/env python3
"""Trains a spectrogram GAN on ESC-50 excerpts in the classifier's feature domain.

The ESC-50 configuration of GAN-based activation maximisation (step 1 of 2;
``am_search.py`` is step 2). The GAN learns excerpts of ``excerpt_frames`` x
``n_mels`` frames of the explained classifier's own features (CNN14 on ESC-50:
the dB mel filterbank of ``|STFT|``, 80 bands, 11.6 ms hop), cut from the
training folds. Data: ``speechbrain_xai.data.esc50`` (folds 1-3 train, 4 valid, 5 test).
The training loop and the sample-quality report (``speechbrain_xai.brains.gan.run_gan``:
Fréchet distance in the classifier's embedding space, generated vs real, real
vs real, untrained generator vs real) are the VocalMix recipe's; only the data differ.

To run (GPU):
    python recipes/ESC50/interpret/train_gan.py recipes/ESC50/interpret/hparams/gan_cnn14.yaml \
        --data_folder data/ESC50
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.gan import check_classifier, run_gan
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
    check_classifier(hparams)  # its sample rate wins; its bands must be n_mels
    manifests = prepare_esc50_from_hparams(hparams)
    datasets = esc50_datasets(manifests, find_esc50_root(hparams["data_folder"]), hparams["sample_rate"])
    run_gan(hparams, run_opts, datasets)
