#!/usr/bin/env python3
"""Why the GA's masks spill out of the voice: the grid, the objective or the search.

On the clips of a manifest with voice stems (``voice_wav``) that the classifier
calls ``--voice_class`` and whose stem holds a voice, it runs the genetic explainer and scores, with the
GA's own fitness, five component choices:

* ``G``: the GA's choice;
* ``G & voiced``: ``G`` without the time segments that are not mostly voice
  (more than half of a segment's frames within 30 dB of the voice's loudest
  frame: :func:`speechbrain_xai.metrics.active_frames`);
* ``G & touched``: ``G`` without the segments where the voice never sounds;
* ``voiced``, ``touched``: every band of those segments.

Per choice: the mean time share (:func:`speechbrain_xai.metrics.mask_time_share`),
the mean fitness and the clips where it is fitter than ``G``. ``touched``'s time
share is the most a grid mask that keeps the whole voice can reach; a restricted
choice fitter than ``G`` on many clips is a genome the search missed; one that is
less fit is a choice the objective rejects.

Example (the shipped voice detector, the realistic voice scenes):
    python recipes/VoiceScenes/diagnose_ga.py vs96.csv --data_root data/VoiceDetector/voice_scenes
    python recipes/VoiceScenes/diagnose_ga.py vs96.csv --data_root data/VoiceDetector/voice_scenes \\
        --option n_time=16
"""

import argparse
import csv
import os
import statistics

import torch

from speechbrain_xai.adapter import ClassifierAdapter
from speechbrain_xai.cli import _option
from speechbrain_xai.components import (PerturbationScorer, batch_component_maps, component_masks,
                                       target_log_odds)
from speechbrain_xai.data.inputs import read_clip
from speechbrain_xai.explainers.genetic import GeneticExplainer
from speechbrain_xai.metrics import active_frames, mask_time_share

CHOICES = ("G", "G & voiced", "G & touched", "voiced", "touched")


def segment_voicing(component_map, active, num_components):
    """Per component: is its time segment mostly voiced, touched by the voice at all."""
    voiced = torch.zeros(num_components, dtype=torch.bool)
    touched = torch.zeros(num_components, dtype=torch.bool)
    for k in range(num_components):
        frames = (component_map == k).any(dim=1)
        if frames.any():
            voiced[k] = bool(active[frames].float().mean() > 0.5)
            touched[k] = bool(active[frames].any())
    return voiced, touched


def diagnose_clip(ga, adapter, wav, voice):
    """``{choice: (fitness, time share)}`` for one clip (None where a choice is empty);
    None for a clip whose voice stem is silent (no time share to measure)."""
    voice_mag = adapter.stft(voice[None]).abs()
    active = active_frames(voice_mag)[0]
    if not active.any():
        return None
    exp = ga.explain(wav[None])
    lens = torch.ones(1)
    maps, num = batch_component_maps(ga.components, lens, wav.shape[0], adapter.stft_config,
                                     ga.n_time, ga.n_bands)
    voiced, touched = segment_voicing(maps[0], active, num)
    best = torch.tensor(exp.details[0]["genome"], dtype=torch.bool)
    choices = dict(zip(CHOICES, (best, best & voiced, best & touched, voiced, touched)))
    scorer = PerturbationScorer(adapter, wav[None], lens, exp.target, maps, ga.fill, "istft",
                                ga.chunk_size, ga.seed)
    genomes = torch.stack([g for c in choices.values() for g in (c, ~c)])
    log_odds = scorer.score(torch.zeros(len(genomes), dtype=torch.long), genomes, log_odds=True).tolist()
    full = float(target_log_odds(exp.probs_input.double().log(), exp.target)[0])  # as the GA scores the input
    out = {}
    for i, (name, genome) in enumerate(choices.items()):
        if not genome.any():
            out[name] = None
            continue
        fitness = ga.fitness_value(log_odds[2 * i], log_odds[2 * i + 1], full, float(genome.float().mean()))
        share, _ = mask_time_share(component_masks(genome[None], maps).float(), voice_mag)
        out[name] = (fitness, float(share))
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("manifest", help="CSV with wav, voice_wav (paths may start with $data_root)")
    parser.add_argument("--data_root", default="", help="replaces $data_root in the manifest's paths")
    parser.add_argument("--classifier", default="voice-detector", help="folder or shipped name")
    parser.add_argument("--voice_class", default="voice")
    parser.add_argument("--num_clips", type=int, default=None, help="first N clips of the manifest")
    parser.add_argument("--option", action="append", type=_option, default=[], metavar="KEY=VALUE",
                        help="a GeneticExplainer option, e.g. --option n_time=16 (repeatable)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    adapter = ClassifierAdapter.from_hparams(args.classifier)
    ga = GeneticExplainer(adapter, **dict(args.option))
    if args.voice_class not in (adapter.class_names or []):
        parser.error(f"{args.classifier} has no class {args.voice_class!r} (classes: {adapter.class_names}).")
    voice_index = adapter.class_names.index(args.voice_class)
    with open(args.manifest, newline="") as f:
        rows = list(csv.DictReader(f))[: args.num_clips]
    if not rows or "voice_wav" not in rows[0]:
        parser.error(f"{args.manifest}: needs wav and voice_wav columns (a manifest with stems).")
    path = lambda r, c: r[c].replace("$data_root", args.data_root.rstrip(os.sep))  # noqa: E731
    results = []
    for row in rows:
        wav = read_clip(path(row, "wav"), adapter.sample_rate)
        if int(adapter.probabilities(wav[None]).argmax()) != voice_index:
            continue
        voice = read_clip(path(row, "voice_wav"), adapter.sample_rate)[: wav.shape[0]]
        voice = torch.nn.functional.pad(voice, (0, wav.shape[0] - voice.shape[0]))
        result = diagnose_clip(ga, adapter, wav, voice)
        if result is not None:
            results.append(result)
    print(f"{len(results)} clips called {args.voice_class!r} with a voice in their stem; "
          f"GA options {dict(args.option)}")
    print("| choice | clips | time share | fitness | fitter than G |")
    print("|---|---|---|---|---|")
    for name in CHOICES:
        pairs = [(r[name], r["G"]) for r in results if r[name] is not None]
        if not pairs:
            continue
        fitter = sum(1 for c, g in pairs if c[0] > g[0] + 1e-9)
        print(f"| {name} | {len(pairs)} | {statistics.mean(c[1] for c, _ in pairs):.3f} | "
              f"{statistics.mean(c[0] for c, _ in pairs):.3f} | {fitter if name != 'G' else '-'} |")


if __name__ == "__main__":
    main()
