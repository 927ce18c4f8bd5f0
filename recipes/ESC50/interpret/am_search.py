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
are the VocalMix recipe's (``recipes/VocalMix/interpret/am_search.py``).
ESC-50 has no source stems, so there is no voice-likeness probe: the summary
holds the unit's values on real and unoptimised generated excerpts instead.

To run (GPU):
    python recipes/ESC50/interpret/am_search.py recipes/ESC50/interpret/hparams/am_cnn14.yaml \
        --data_folder data/ESC50 \
        --generator_file results/ESC50/interpret/gan_cnn14/1234/generator.ckpt
"""

import json
import os
import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.logger import get_logger

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_gan import check_classifier, esc50_gan_datasets  # noqa: E402
from vocalmix_code import load_vocalmix_script  # noqa: E402

logger = get_logger(__name__)


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    vocalmix = load_vocalmix_script("am_search")  # the search, ranking and rendering code
    adapter = load_vocalmix_script("train_gan").load_classifier(hparams, run_opts)
    check_classifier(adapter, hparams)
    split = hparams["reference_split"]
    datasets = esc50_gan_datasets(hparams, (split,))
    (ref_feats, _, _, ref_acts), settings, runs, _, summary = vocalmix.prepare_search(
        adapter, datasets[split], hparams)
    summary["class_names"] = adapter.class_names
    summary["runs"] = vocalmix.search_and_report(runs, settings, ref_feats, ref_acts, adapter,
                                                 hparams, run_opts)
    with open(os.path.join(hparams["output_folder"], "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    logger.info("Summary: %s", json.dumps(summary, indent=1))
