#!/usr/bin/env python3
"""Benchmark: the genetic explainer against LIME, same clips, same process.

Both methods explain the same VocalMix voice clips (target class ``voice``)
with the same components (8 time segments x 4 mel bands), the same fill
(zero) and the same classifier, through the same listenable ISTFT path.
LIME is ``lime``'s ``LimeBase`` with its image defaults: 1000 samples,
exponential kernel of width 0.25 on the cosine distance, Ridge; it classifies
its samples 10 at a time (lime's default) and, as a second row, in chunks as
large as the GA's. LIME keeps, per clip, as many top-weighted components as the
GA selected for that clip (equal explanation size).

Reported per method: wall time (the whole ``explain`` call, every clip),
model evaluations per clip, target probability on the masked-in input,
deletion and insertion AUC (components removed / inserted in the order of
``genetic.ranking_values``: selected first, then by the method's component
scores), agreement with the oracle voice mask (ROC AUC of the mask
against the ideal binary mask of the voice stem, IoU, energy precision), and
stability over ``--seeds`` seeds (mean pairwise Jaccard overlap of the
selected components per clip). The speed ratio is LIME's wall time over the
GA's, measured in this process.

Example (CPU, minutes):
    python recipes/VocalMix/interpret/benchmark_ga_vs_lime.py \
        --classifier small_cnn=results/VocalMix/classification/small_cnn/1234/pretrained \
        --test_csv results/VocalMix/classification/small_cnn/1234/save/test.csv \
        --data_folder data/VocalMix --black_box
"""

import argparse
import csv
import itertools
import time

import speechbrain as sb
import torch

from speechbrain_xai.adapter import ClassifierAdapter
from speechbrain_xai.brains.harness import explanation_scores
from speechbrain_xai.explainers.genetic import GeneticExplainer
from speechbrain_xai.explainers.lime_baseline import LimeExplainer


class OpaqueClassifier(torch.nn.Module):
    """A black box: waveforms -> logits, nothing about its front-end is exposed."""

    def __init__(self, adapter):
        super().__init__()
        self._run = adapter.model  # called as an opaque function

    def forward(self, wavs):
        return self._run(wavs, torch.ones(wavs.shape[0], device=wavs.device))


def load_clips(test_csv, data_folder, num, label):
    """The first ``num`` clips with ``label``: mixture, voice and background ``[num, N]``."""
    rows = [r for r in csv.DictReader(open(test_csv)) if r["label"] == label][:num]
    read = lambda p: sb.dataio.dataio.read_audio(p.replace("$data_root", data_folder))  # noqa: E731
    return [torch.stack([read(r[k]) for r in rows]) for k in ("wav", "voice_wav", "background_wav")]


def jaccard_stability(genomes):
    """Mean pairwise Jaccard overlap of selected-component sets (list over seeds of [B, K])."""
    per_clip = []
    for b in range(genomes[0].shape[0]):
        sets = [g[b].bool() for g in genomes]
        values = [float((x & y).sum()) / max(1.0, float((x | y).sum()))
                  for x, y in itertools.combinations(sets, 2)]
        per_clip.append(sum(values) / len(values))
    return sum(per_clip) / len(per_clip)


def genomes_of(exps):
    return torch.tensor([c["genome"] for exp in exps for c in exp.details])


def lime_per_clip(adapter, wavs, k_sel, args, seed, batch):
    """LIME one clip at a time (as LIME works), keeping ``k_sel[b]`` components of clip ``b``."""
    common = dict(n_time=args.n_time, n_bands=args.n_bands, fill=args.fill)
    return [LimeExplainer(adapter, num_samples=args.lime_samples, batch_size=batch, seed=seed,
                          num_selected=k, **common).explain(wavs[b:b + 1], target=args.target)
            for b, k in enumerate(k_sel)]


def mean_scores(adapter, exps, voice, background, args):
    """Metric means over clips (each explanation scored with its own clips' stems)."""
    parts, start = [], 0
    for exp in exps:
        stop = start + len(exp)
        parts.append(explanation_scores(adapter, exp, args.curve_steps,
                                        (voice[start:stop], background[start:stop]),
                                        oracle_class=args.target, chunk_size=args.chunk))
        start = stop
    merged = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    merged["num_selected"] = torch.tensor([float(d["num_selected"]) for e in exps for d in e.details])
    return {k: float(v[~torch.isnan(v)].mean()) for k, v in merged.items()}


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def ga_settings(args):
    return dict(n_time=args.n_time, n_bands=args.n_bands, fill=args.fill,
                population_size=args.population, max_generations=args.generations,
                max_evaluations=args.ga_budget, sparsity_weight=args.sparsity,
                deletion_weight=args.deletion, prune=args.prune, chunk_size=args.chunk,
                path=args.ga_path, init=args.init, fitness_scale=args.fitness_scale)


def compare(name, adapter, clips, args):
    """Table rows of GA and LIME on the same clips; returns them and the GA's sizes."""
    wavs, voice, background = clips
    adapter(wavs[:2])  # warm-up
    rows = {}
    ga = GeneticExplainer(adapter, seed=0, **ga_settings(args))
    ga_exp, ga_time = timed(lambda: ga.explain(wavs, target=args.target))
    k_sel = [c["num_selected"] for c in ga_exp.details]
    rows["GA"] = ([ga_exp], ga_time)
    batches = [("LIME", 10)] + ([(f"LIME (chunk {args.chunk})", args.chunk)] if args.lime_chunk_row else [])
    for label, batch in batches:
        rows[label] = timed(lambda: lime_per_clip(adapter, wavs, k_sel, args, 0, batch))
    lime_time = rows["LIME"][1]
    lines = []
    for label, (exps, seconds) in rows.items():
        mean = mean_scores(adapter, exps, voice, background, args)
        lines.append(
            f"| {name} | {label} | {seconds:.1f} | {seconds / len(wavs):.2f} | {mean['evaluations']:.0f} | "
            f"{mean['num_selected']:.1f} | {mean['p_masked_in']:.4f} | {mean['p_masked_out']:.4f} | "
            f"{mean['deletion_auc']:.3f} | "
            f"{mean['insertion_auc']:.3f} | {mean['oracle_auc']:.3f} | {mean['oracle_iou']:.3f} | "
            f"{mean['energy_precision']:.3f} | {lime_time / seconds:.1f}x |"
        )
    return lines, k_sel


def stability(adapter, wavs, k_sel, args):
    """Mean pairwise Jaccard of the selected components over seeds, GA and LIME (same k)."""
    ga_sets = [genomes_of([GeneticExplainer(adapter, seed=s, **ga_settings(args)).explain(
        wavs, target=args.target)]) for s in range(args.seeds)]
    lime_sets = [genomes_of(lime_per_clip(adapter, wavs, k_sel, args, s, args.chunk))
                 for s in range(args.lime_seeds)]
    mean_k = lambda sets: sum(float(g.sum()) for g in sets) / (len(sets) * len(wavs))  # noqa: E731
    return jaccard_stability(ga_sets), mean_k(ga_sets), jaccard_stability(lime_sets)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classifier", action="append", required=True,
                        help="name=pretrained_folder (repeatable)")
    parser.add_argument("--black_box", action="store_true",
                        help="also explain the first classifier wrapped as an opaque module (from_module)")
    parser.add_argument("--test_csv", required=True)
    parser.add_argument("--data_folder", required=True)
    parser.add_argument("--num_clips", type=int, default=20)
    parser.add_argument("--stability_clips", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--target", default="voice")
    parser.add_argument("--n_time", type=int, default=8)
    parser.add_argument("--n_bands", type=int, default=4)
    parser.add_argument("--fill", default="zero")
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--generations", type=int, default=12)
    parser.add_argument("--ga_budget", type=int, default=66)
    parser.add_argument("--sparsity", type=float, default=1.0)
    parser.add_argument("--deletion", type=float, default=1.0)
    parser.add_argument("--prune", type=int, default=10)
    parser.add_argument("--init", default="ranked")
    parser.add_argument("--fitness_scale", default="log_odds_in")
    parser.add_argument("--lime_seeds", type=int, default=30)
    parser.add_argument("--lime_chunk_row", action="store_true",
                        help="add a LIME row that classifies in chunks as large as the GA's")
    parser.add_argument("--stability_classifiers", type=int, default=1,
                        help="how many of the classifiers get the (slow) stability runs")
    parser.add_argument("--stability_only", action="store_true",
                        help="skip the comparison table (run the stability part alone)")
    parser.add_argument("--ga_path", default="istft")
    parser.add_argument("--chunk", type=int, default=64)
    parser.add_argument("--lime_samples", type=int, default=1000)
    parser.add_argument("--curve_steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    clips = load_clips(args.test_csv, args.data_folder, args.num_clips, "voice")
    adapters = []
    for spec in args.classifier:
        name, folder = spec.split("=", 1)
        adapters.append((name, ClassifierAdapter.from_hparams(folder)))
    if args.black_box:
        first = adapters[0][1]
        box = ClassifierAdapter.from_module(OpaqueClassifier(first), first.sample_rate, first.class_names)
        adapters.append((f"{adapters[0][0]} as black box", box))
    print(f"{len(clips[0])} VocalMix voice clips, target {args.target!r}, components "
          f"{args.n_time}x{args.n_bands}, fill {args.fill}, torch threads {torch.get_num_threads()}")
    header = ("| classifier | method | wall s | s/clip | evals/clip | components kept | p(masked-in) | "
              "p(masked-out) (lower better) | "
              "deletion AUC (lower better) | insertion AUC | oracle AUC | oracle IoU | "
              "energy precision | LIME time / time |")
    print(header)
    print("|" + "---|" * (header.count("|") - 1), flush=True)
    sizes = []
    for name, adapter in adapters:
        if args.stability_only:  # LIME keeps as many components as the GA's seed-0 run
            first = GeneticExplainer(adapter, seed=0, **ga_settings(args))
            first = first.explain(clips[0][: args.stability_clips], target=args.target)
            sizes.append([c["num_selected"] for c in first.details])
            continue
        lines, k_sel = compare(name, adapter, clips, args)
        sizes.append(k_sel)
        print("\n".join(lines), flush=True)
    print(f"\nStability on the first {args.stability_clips} clips: mean pairwise Jaccard of the selected "
          f"components, GA over {args.seeds} seeds, LIME over {args.lime_seeds} seeds (LIME keeps as many "
          "components as the GA's seed-0 run)")
    print("| classifier | GA Jaccard | GA mean components kept | LIME Jaccard |\n|---|---|---|---|", flush=True)
    for (name, adapter), k_sel in list(zip(adapters, sizes))[: args.stability_classifiers]:
        n = args.stability_clips
        ga_j, ga_k, lime_j = stability(adapter, clips[0][:n], k_sel[:n], args)
        print(f"| {name} | {ga_j:.3f} | {ga_k:.1f} | {lime_j:.3f} |", flush=True)


if __name__ == "__main__":
    main()
