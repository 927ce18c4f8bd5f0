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

To run:
    python recipes/VocalMix/interpret/am_search.py recipes/VocalMix/interpret/hparams/am.yaml \
        --data_folder data/VocalMix --classifier_source <pretrained> \
        --generator_file results/VocalMix/interpret/gan/1234/generator.ckpt
"""

import json
import os
import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.logger import get_logger
from train_gan import dataio_prep, load_classifier, prepare_data

from speechbrain_xai.brains.am_search import report_search, run_search
from speechbrain_xai.data.excerpts import dataset_excerpts, feature_hop_seconds
from speechbrain_xai.data.voice_probes import probe_summary, train_voice_probes
from speechbrain_xai.explainers.activation_maximization import (
    InputActivationMaximizer,
    LatentActivationMaximizer,
    setting_grid,
)
from speechbrain_xai.explainers.am_selection import unit_activations

logger = get_logger(__name__)


def reference_set(adapter, unit, dataset, hparams):
    """Real excerpts of the reference split, their start frames, clip ids and
    the unit's activations on them."""
    feats, starts, ids = dataset_excerpts(adapter, dataset, hparams["excerpt_frames"],
                                          hparams["reference_excerpts_per_clip"],
                                          hparams["dataloader_opts"])
    return feats, starts, ids, unit_activations(adapter, unit, feats)


def maximizers(adapter, generator, unit, hparams):
    """{run name: (maximizer, results folder, seeds)}: the GAN's latent space,
    then (optionally) the input-space baseline scored by the same metric."""
    seeds = list(range(hparams["num_seeds"]))
    runs = {"gan": (LatentActivationMaximizer(adapter, generator, unit,
                                              chunk_size=hparams["chunk_size"]),
                    hparams["results_folder"], seeds)}
    if hparams["run_input_baseline"]:
        runs["input"] = (InputActivationMaximizer(adapter, generator, unit,
                                                  jitter=hparams["jitter_frames"],
                                                  noise=hparams["input_noise"],
                                                  chunk_size=hparams["chunk_size"]),
                         hparams["baseline_folder"], seeds[:hparams["baseline_num_seeds"] or None])
    return runs


def search_and_report(runs, settings, ref_feats, ref_acts, adapter, hparams, run_opts,
                      score_fn=None):
    """Runs every search of ``runs`` as batched jobs and reports it
    (ranking tables, renders of the selected and most extreme settings)."""
    summary = {}
    for name, (maximizer, folder, seeds) in runs.items():
        result, seconds = run_search(maximizer, settings, seeds, folder,
                                     hparams["settings_per_batch"], hparams["checkpoint_every"],
                                     run_opts)
        report = report_search(result, ref_feats, ref_acts, folder, adapter, hparams["n_reference"],
                               hparams["selection_layer"], score_fn=score_fn,
                               num_audio=hparams["num_rendered_audio"],
                               griffin_lim_iters=hparams["griffin_lim_iters"])
        summary[name] = {"seconds": round(seconds, 1), "seeds": len(seeds), **report}
    return summary


def prepare_search(adapter, reference_dataset, hparams):
    """Everything a search needs before it runs (shared with the ESC50 recipe):
    loads the generator; cuts the real reference excerpts; builds the grid and
    the searches (:func:`maximizers`); samples the generator at the search's
    own starting codes; summarises the unit on real excerpts (top / bottom
    ``n_reference``) and on those unoptimised samples.

    Returns
    -------
    reference : tuple
        ``(feats, starts, ids, activations)`` of the real reference excerpts.
    settings : list of AMSetting
    runs : dict
        As :func:`maximizers`.
    start_feats : torch.Tensor
        The generator's unoptimised samples.
    summary : dict
        The start of ``summary.json``.
    """
    generator = hparams["generator"]
    generator.load_state_dict(torch.load(hparams["generator_file"], map_location="cpu"))
    generator.to(adapter.device).eval()
    unit = hparams["unit"]
    reference = reference_set(adapter, unit, reference_dataset, hparams)
    ref_acts = reference[3]
    settings = setting_grid(hparams["am_steps"], hparams["am_lrs"], hparams["am_penalties"],
                            hparams["directions"])
    runs = maximizers(adapter, generator, unit, hparams)
    seeds = runs["gan"][2]
    with torch.no_grad():
        start_feats = generator(runs["gan"][0].init_params(seeds).to(adapter.device))
    n_ref = min(hparams["n_reference"], len(ref_acts))
    summary = {"unit": str(unit),
               "grid": {"settings": len(settings), "seeds": len(seeds)},
               "real_unit": {"reference_excerpts": len(ref_acts),
                             "max_top_mean": float(ref_acts.topk(n_ref).values.mean()),
                             "min_bottom_mean": float(ref_acts.topk(n_ref, largest=False).values.mean())},
               "gan_unoptimised_unit_mean": float(unit_activations(adapter, unit, start_feats).mean())}
    return reference, settings, runs, start_feats, summary


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(
        experiment_directory=hparams["output_folder"],
        hyperparams_to_save=hparams_file,
        overrides=overrides,
    )
    manifests = prepare_data(hparams)
    split = hparams["reference_split"]
    adapter = load_classifier(hparams, run_opts)
    datasets = dataio_prep(hparams, manifests, adapter, splits=sorted({split, "train"}))
    reference, settings, runs, start_feats, summary = prepare_search(adapter, datasets[split], hparams)
    ref_feats, ref_starts, ref_ids, ref_acts = reference
    # The probes: voice excerpts (inside the stems' voice interval) vs no-voice excerpts,
    # on log-mel statistics and on vibrato statistics alone
    probes = train_voice_probes(adapter, datasets["train"], manifests["train"], hparams)
    for name, probe in probes.items():
        summary[name] = probe_summary(probe, manifests[split], reference, start_feats,
                                      feature_hop_seconds(adapter), hparams)
    summary["runs"] = search_and_report(runs, settings, ref_feats, ref_acts, adapter, hparams,
                                        run_opts, score_fn=probes)
    with open(os.path.join(hparams["output_folder"], "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    logger.info("Summary: %s", json.dumps(summary, indent=1))
