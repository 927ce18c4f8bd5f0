#!/usr/bin/env python3
"""GAN-based activation maximisation with automatic selection on ESC-50.

The ESC-50 configuration of the VocalMix recipe (step 2 of 2, after
``train_gan.py``): searches the GAN's latent space for excerpts that maximise
and minimise one class logit of the classifier (default "dog"), over the
whole grid of settings and seeds as one batched job (through
``Brain.evaluate``), ranks the settings by the Fréchet distance to the real
excerpts (valid fold) that most / least activate the unit, renders the
selected and the most extreme examples (PNG grid, Griffin-Lim audio), and runs
the input-space baseline. The excerpt cutting, the search and the rendering
are the VocalMix recipe's (``speechbrain_xai.brains.am_search``:
``prepare_search``, ``run_searches``). ESC-50 has no source stems, so there
is no voice-likeness probe: the summary holds the unit's values on real and
unoptimised generated excerpts instead.

To run (GPU):
    python recipes/ESC50/interpret/am_search.py recipes/ESC50/interpret/hparams/am_cnn14.yaml \
        --data_folder data/ESC50 \
        --generator_file results/ESC50/interpret/gan_cnn14/1234/generator.ckpt
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.am_search import prepare_search, run_searches
from speechbrain_xai.brains.gan import check_classifier
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
    split = hparams["reference_split"]
    datasets = esc50_datasets({split: manifests[split]}, find_esc50_root(hparams["data_folder"]),
                              hparams["sample_rate"])
    search = prepare_search(hparams, run_opts, datasets[split])
    search.summary["class_names"] = search.adapter.class_names
    run_searches(search, hparams, run_opts)
