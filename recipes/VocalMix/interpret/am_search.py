#!/usr/bin/env python3
"""GAN-based activation maximisation with automatic selection on VocalMix.

Searches the latent space of the GAN trained by ``train_gan.py`` for excerpts
that maximise and minimise the classifier's "voice" unit, over the whole grid
of settings and seeds as one batched job (through ``Brain.evaluate``), ranks
the settings by the Fréchet distance to the real excerpts that most / least
activate the unit, renders the selected examples (PNG grid, Griffin-Lim
audio), runs the input-space baseline, and checks voice-likeness with a probe
the classifier never sees (a linear discriminant on hand-made log-mel
statistics, trained with the voice intervals known from VocalMix's stems; a
second one on vibrato statistics alone).

The search, selection and report are ``speechbrain_xai.brains.am_search``
(``prepare_search``, ``run_searches``; the same steps as the ESC-50 recipe's),
the probes ``speechbrain_xai.data.voice_probes``.

To run:
    python recipes/VocalMix/interpret/am_search.py recipes/VocalMix/interpret/hparams/am.yaml \
        --data_folder data/VocalMix --classifier_source <pretrained> \
        --generator_file results/VocalMix/interpret/gan/1234/generator.ckpt
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.am_search import prepare_search, run_searches
from speechbrain_xai.data.datasets import vocalmix_excerpt_datasets
from speechbrain_xai.data.excerpts import feature_hop_seconds
from speechbrain_xai.data.vocalmix import prepare_vocalmix_from_hparams
from speechbrain_xai.data.voice_probes import probe_summary, train_voice_probes

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
    manifests = prepare_vocalmix_from_hparams(hparams, hparams["save_folder"])
    split = hparams["reference_split"]
    datasets = vocalmix_excerpt_datasets(hparams, manifests, splits=sorted({split, "train"}))
    search = prepare_search(hparams, run_opts, datasets[split])
    # The probes: voice excerpts (inside the stems' voice interval) vs no-voice excerpts
    probes = train_voice_probes(search.adapter, datasets["train"], manifests["train"], hparams)
    for name, probe in probes.items():
        search.summary[name] = probe_summary(probe, manifests[split], search.reference,
                                             search.start_feats, feature_hop_seconds(search.adapter),
                                             hparams, search.candidate_starts,
                                             search.inverted)
    run_searches(search, hparams, run_opts, score_fn=probes)
