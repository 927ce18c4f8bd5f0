#!/usr/bin/env python3
"""Benchmark: the genetic explainer against LIME on several kinds of classifiers, same process.

Both methods explain the same VocalMix voice clips (target class ``voice``)
with the same components (8 time segments x 4 mel bands), the same fill
(zero) and the same classifier, through the same listenable ISTFT path.
LIME is ``lime``'s ``LimeBase`` with its image defaults: 1000 samples,
exponential kernel of width 0.25 on the cosine distance, Ridge; it classifies
its samples 10 at a time (lime's default) and keeps, per clip, as many
top-weighted components as the GA selected for that clip (equal size).

Kinds of classifiers (each explained as the adapter gives it):

* ``--classifier name=folder``: a SpeechBrain pretrained folder (e.g. the small
  CNN of ``../classification``), with ``--black_box`` also behind an opaque
  ``from_module`` wrapper;
* ``--trained streaming_gru``: :class:`~speechbrain_xai.lobes.black_boxes.StreamingGRUDetector`,
  which reads the audio in sequential 32 ms chunks (a fixed cost per call);
* ``--trained patch_transformer``: :class:`~speechbrain_xai.lobes.black_boxes.PatchTransformer`.

The trained kinds are trained here on the VocalMix training manifest for
``--train_epochs`` epochs (about a minute each on two cores), kept in
``--model_folder`` and reused; both are explained as black boxes.

Reported per kind and method: wall time and its ratio to LIME's, one clip at
a time and in batches of ``--batch`` clips (each method's ``explain`` on the
same batch, timed alternately so that a change of machine load hits both),
model calls and evaluations per clip (the GA, cheap, is timed before, amid
and after LIME's clips, and its mean time is used), and, scored by the harness's
``explanation_scores``: target probability on the masked-in and masked-out
input, deletion and insertion AUC (whole components in the order of
``genetic.ranking_values``), agreement with the oracle voice mask (ROC AUC,
IoU, energy precision). Stability: over ``--seeds`` seeds (GA) and
``--lime_seeds`` seeds (LIME) on the first ``--stability_clips`` clips, the
mean pairwise Jaccard overlap of the selected components and the spread
(standard deviation over seeds, averaged over clips) of the masked-in
probability and the deletion AUC. Each kind's cost per forward pass (fixed
part and part per perturbation, from batches of 1 and 32) is printed too.

Example (CPU: about 20 minutes with these flags on an idle machine, one thread, the two
trained kinds taking about two minutes more the first time):
    python recipes/VocalMix/interpret/benchmark_ga_vs_lime.py \\
        --classifier small_cnn=results/VocalMix/classification/small_cnn/1234/pretrained \\
        --trained streaming_gru --trained patch_transformer \\
        --test_csv results/VocalMix/classification/small_cnn/1234/save/test.csv \\
        --data_folder data/VocalMix --num_clips 16 --seeds 30 --lime_seeds 3
"""

import argparse
import csv
import itertools
import os
import statistics
import time

import speechbrain as sb
import torch

from speechbrain_xai.adapter import ClassifierAdapter
from speechbrain_xai.brains.harness import explanation_scores
from speechbrain_xai.explainers.genetic import GeneticExplainer
from speechbrain_xai.explainers.lime_baseline import LimeExplainer
from speechbrain_xai.lobes.black_boxes import PatchTransformer, StreamingGRUDetector

CLASSES = ["voice", "no_voice"]
TRAINED = {"streaming_gru": StreamingGRUDetector, "patch_transformer": PatchTransformer}
METRICS = ("p_masked_in", "p_masked_out", "deletion_auc", "insertion_auc", "oracle_auc", "oracle_iou",
           "energy_precision")


class OpaqueClassifier(torch.nn.Module):
    """A black box: waveforms -> logits, nothing about its front-end is exposed."""

    def __init__(self, adapter):
        super().__init__()
        self._run = adapter.model  # called as an opaque function

    def forward(self, wavs):
        return self._run(wavs, torch.ones(wavs.shape[0], device=wavs.device))


class CallCounter:
    """Counts the classifier's forward passes and the waveforms they carried."""

    def __init__(self, adapter):
        self.calls = self.waveforms = 0
        adapter.model.register_forward_hook(self._hook)

    def _hook(self, _module, inputs, _output):
        self.calls += 1
        self.waveforms += inputs[0].shape[0]

    def reset(self):
        self.calls = self.waveforms = 0


def read_rows(manifest, data_folder, label=None, num=None):
    """Mixture, voice and background ``[n, N]`` and labels of a manifest's clips."""
    with open(manifest) as f:
        rows = [r for r in csv.DictReader(f) if label is None or r["label"] == label][:num]
    read = lambda p: sb.dataio.dataio.read_audio(p.replace("$data_root", data_folder))  # noqa: E731
    wavs = [torch.stack([read(r[k]) for r in rows]) for k in ("wav", "voice_wav", "background_wav")]
    return wavs, torch.tensor([CLASSES.index(r["label"]) for r in rows])


def train_black_box(kind, args):
    """A :data:`TRAINED` model, trained on the VocalMix training clips (or loaded from
    ``--model_folder``), and its test accuracy."""
    torch.manual_seed(0)
    model = TRAINED[kind]()
    path = os.path.join(args.model_folder, f"{kind}.ckpt")
    (test_wavs, _, _), test_labels = read_rows(args.test_csv, args.data_folder)
    if os.path.isfile(path):
        model.load_state_dict(torch.load(path))
    else:
        (wavs, _, _), labels = read_rows(args.train_csv, args.data_folder, num=args.train_clips)
        optimizer = torch.optim.Adam(model.parameters(), lr=args.train_lr)
        generator = torch.Generator().manual_seed(0)
        start = time.perf_counter()
        for _ in range(args.train_epochs):
            model.train()
            for idx in torch.randperm(len(wavs), generator=generator).split(32):
                gain = 10 ** torch.empty(len(idx), 1).uniform_(-1.0, 0.3, generator=generator)  # -20..+6 dB
                loss = torch.nn.functional.cross_entropy(model(wavs[idx] * gain), labels[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        print(f"trained {kind} for {args.train_epochs} epochs in {time.perf_counter() - start:.0f} s")
        os.makedirs(args.model_folder, exist_ok=True)
        torch.save(model.state_dict(), path)
    model.eval()
    with torch.no_grad():
        accuracy = float((model(test_wavs).argmax(1) == test_labels).float().mean())
    return ClassifierAdapter.from_module(model, 16000, CLASSES), accuracy


def call_cost(adapter, wavs, repeats=3):
    """Seconds per forward pass through the listenable path: fixed part and part per
    perturbation, from batches of 1 and 32 (medians)."""
    spec = adapter.stft(wavs[:1])
    cost = {}
    for n in (1, 32):
        batch = spec.expand(n, -1, -1).clone()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            with torch.no_grad():
                adapter.spectrum_logits(batch, wavs.shape[1])
            times.append(time.perf_counter() - start)
        cost[n] = statistics.median(times)
    per = (cost[32] - cost[1]) / 31
    return cost[1] - per, per


def ga_options(args, seed=0):
    options = {k: getattr(args, k) for k in ("max_evaluations", "population_size", "max_generations",
                                             "chunk_size") if getattr(args, k) is not None}
    return dict(n_time=args.n_time, n_bands=args.n_bands, fill="zero", seed=seed, **options)


def explain_both(adapter, wavs, counter, args, seed=0, k_sel=None):
    """GA and LIME (as many components as the GA's) on ``wavs``: the two explanations,
    their wall times and model calls. The GA runs before LIME's clips, amid them (two
    clips or more) and after them (its time is the mean), so that a change of machine load during LIME's
    long run reaches both."""
    ga_times, out = [], {}

    def run_ga():
        counter.reset()
        start = time.perf_counter()
        exp = GeneticExplainer(adapter, **ga_options(args, seed)).explain(wavs, target=args.target)
        ga_times.append(time.perf_counter() - start)
        out.setdefault("GA", (exp, counter.calls))

    run_ga()
    sizes = k_sel or [d["num_selected"] for d in out["GA"][0].details]
    lime, seconds, calls = [], 0.0, 0
    for b, k in enumerate(sizes):  # LIME keeps a number of components per clip: one call each
        if b == len(sizes) // 2 and b:
            run_ga()
        counter.reset()
        start = time.perf_counter()
        lime.append(LimeExplainer(adapter, n_time=args.n_time, n_bands=args.n_bands, fill="zero",
                                  num_samples=args.lime_samples, batch_size=10, seed=seed,
                                  num_selected=k).explain(wavs[b:b + 1], target=args.target))
        seconds += time.perf_counter() - start
        calls += counter.calls
    run_ga()
    return {"GA": (out["GA"][0], statistics.mean(ga_times), out["GA"][1]), "LIME": (lime, seconds, calls)}


def scores(adapter, exps, voice, background, args):
    """Per-clip metrics ``{name: [n]}`` of a list of explanations (in clip order)."""
    parts, start = [], 0
    for exp in exps:
        stop = start + len(exp)
        parts.append(explanation_scores(adapter, exp, args.curve_steps, (voice[start:stop],
                                        background[start:stop]), oracle_class="voice",
                                        chunk_size=args.curve_chunk))
        start = stop
    return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}


def mean(values):
    values = values[~torch.isnan(values)]
    return float(values.mean()) if values.numel() else float("nan")


def compare(name, adapter, clips, args):
    """Rows of the main table for one kind, and the GA's selection sizes."""
    (wavs, voice, background), counter = clips, CallCounter(adapter)
    adapter(wavs[:2])  # warm-up
    single = {"GA": [[], 0.0, 0], "LIME": [[], 0.0, 0]}
    for b in range(len(wavs)):  # one clip at a time, the two methods alternately
        for method, (exp, seconds, calls) in explain_both(adapter, wavs[b:b + 1], counter, args).items():
            single[method][0] += exp if isinstance(exp, list) else [exp]
            single[method][1] += seconds
            single[method][2] += calls
    batched = {"GA": [0.0, 0, []], "LIME": [0.0, 0]}
    for start in range(0, len(wavs), args.batch):
        sizes = [e.details[0]["num_selected"] for e in single["GA"][0][start:start + args.batch]]
        both = explain_both(adapter, wavs[start:start + args.batch], counter, args, k_sel=sizes)
        for method, (exp, seconds, calls) in both.items():
            batched[method][0] += seconds
            batched[method][1] += calls
        batched["GA"][2] += both["GA"][0].details
    same = sum(d["genome"] == e.details[0]["genome"] for d, e in zip(batched["GA"][2], single["GA"][0]))
    lines, n = [], len(wavs)
    for method in ("GA", "LIME"):
        exps, seconds, calls = single[method]
        found = scores(adapter, exps, voice, background, args)
        evaluations = mean(torch.tensor([float(e.details[0]["evaluations"]) for e in exps]))
        kept = mean(torch.tensor([float(e.details[0]["num_selected"]) for e in exps]))
        ratio_1 = single["LIME"][1] / seconds
        ratio_b = batched["LIME"][0] / batched[method][0]
        lines.append(
            f"| {name} | {method} | {seconds / n:.3f} | **{ratio_1:.1f}x** | {calls / n:.1f} | "
            f"{batched[method][0] / n:.3f} | **{ratio_b:.1f}x** | {batched[method][1] / n:.2f} | "
            f"{evaluations:.0f} | {kept:.1f} | " + " | ".join(f"{mean(found[k]):.4f}" if k.startswith("p_")
                                                            else f"{mean(found[k]):.3f}" for k in METRICS) + " |")
    return lines, [e.details[0]["num_selected"] for e in single["GA"][0]], f"{same}/{n}"


def stability(adapter, clips, k_sel, args):
    """Jaccard of the selections and spread of p(masked-in) and deletion AUC over seeds."""
    wavs, voice, background = (c[: args.stability_clips] for c in clips)
    out = {}
    for method, seeds in (("GA", args.seeds), ("LIME", args.lime_seeds)):
        genomes, p_in, deletion = [], [], []
        for seed in range(seeds):
            if method == "GA":
                exps = [GeneticExplainer(adapter, **ga_options(args, seed)).explain(wavs, target=args.target)]
            else:
                exps = [LimeExplainer(adapter, n_time=args.n_time, n_bands=args.n_bands, fill="zero",
                                      num_samples=args.lime_samples, batch_size=10, seed=seed,
                                      num_selected=k).explain(wavs[b:b + 1], target=args.target)
                        for b, k in enumerate(k_sel[: len(wavs)])]
            genomes.append(torch.tensor([d["genome"] for e in exps for d in e.details]).bool())
            found = scores(adapter, exps, voice, background, args)
            p_in.append(found["p_masked_in"])
            deletion.append(found["deletion_auc"])
        jaccard = [statistics.mean(float((x[b] & y[b]).sum()) / max(1.0, float((x[b] | y[b]).sum()))
                                   for x, y in itertools.combinations(genomes, 2))
                   for b in range(len(wavs))] if seeds > 1 else [float("nan")]
        spread = lambda v: float(torch.stack(v).std(dim=0).mean()) if len(v) > 1 else float("nan")  # noqa: E731
        out[method] = (statistics.mean(jaccard), spread(p_in), spread(deletion),
                       float(torch.stack(genomes).float().sum(-1).mean()), seeds)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--classifier", action="append", default=[], help="name=pretrained_folder (repeatable)")
    parser.add_argument("--black_box", action="store_true",
                        help="also explain the first --classifier wrapped as an opaque module (from_module)")
    parser.add_argument("--trained", action="append", default=[], choices=sorted(TRAINED),
                        help="a kind trained here on --train_csv and explained as a black box (repeatable)")
    parser.add_argument("--test_csv", required=True)
    parser.add_argument("--train_csv", default=None, help="default: train.csv next to --test_csv")
    parser.add_argument("--data_folder", required=True)
    parser.add_argument("--model_folder", default="results/VocalMix/interpret/benchmark_models")
    parser.add_argument("--train_epochs", type=int, default=3)
    parser.add_argument("--train_lr", type=float, default=2e-3)
    parser.add_argument("--train_clips", type=int, default=None, help="training clips (default: all)")
    parser.add_argument("--num_clips", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8, help="clips per explain call in the batched timing")
    parser.add_argument("--stability_clips", type=int, default=4)
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--lime_seeds", type=int, default=3)
    parser.add_argument("--target", default="voice")
    parser.add_argument("--n_time", type=int, default=8)
    parser.add_argument("--n_bands", type=int, default=4)
    parser.add_argument("--max_evaluations", type=int, default=None, help="GA budget (default: the explainer's)")
    parser.add_argument("--population_size", type=int, default=None)
    parser.add_argument("--max_generations", type=int, default=None)
    parser.add_argument("--chunk_size", type=int, default=None, help="GA perturbations per forward pass")
    parser.add_argument("--lime_samples", type=int, default=1000)
    parser.add_argument("--curve_steps", type=int, default=8)
    parser.add_argument("--curve_chunk", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.train_csv = args.train_csv or os.path.join(os.path.dirname(args.test_csv), "train.csv")
    if not args.classifier and not args.trained:
        parser.error("name at least one --classifier or --trained kind.")

    (wavs, voice, background), _ = read_rows(args.test_csv, args.data_folder, "voice", args.num_clips)
    kinds = []
    for spec in args.classifier:
        name, folder = spec.split("=", 1)
        kinds.append((name, ClassifierAdapter.from_hparams(folder), ""))
    if args.black_box and kinds:
        first = kinds[0][1]
        box = ClassifierAdapter.from_module(OpaqueClassifier(first), first.sample_rate, first.class_names)
        kinds.append((f"{kinds[0][0]} (black box)", box, ""))
    for kind in args.trained:
        adapter, accuracy = train_black_box(kind, args)
        kinds.append((kind, adapter, f"test accuracy {100 * accuracy:.1f}%"))

    print(f"\n{len(wavs)} VocalMix voice clips, target {args.target!r}, components {args.n_time}x{args.n_bands}, "
          f"fill zero, torch threads {torch.get_num_threads()}, GA {ga_options(args)}, LIME {args.lime_samples} "
          "samples (batch 10)")
    for name, adapter, note in kinds:
        fixed, per = call_cost(adapter, wavs)
        print(f"- {name}: forward pass {1000 * fixed:.1f} ms + {1000 * per:.2f} ms per perturbation"
              + (f"; {note}" if note else ""))
    header = ("| classifier | method | s/clip (1 at a time) | LIME time / time | calls/clip | "
              f"s/clip (batches of {args.batch}) | LIME time / time | calls/clip | evals/clip | kept | "
              "p(masked-in) | p(masked-out) (lower better) | deletion AUC (lower better) | insertion AUC | "
              "oracle AUC | oracle IoU | energy precision |")
    print("\n" + header + "\n|" + "---|" * (header.count("|") - 1), flush=True)
    sizes, batch_checks = [], []
    for name, adapter, _ in kinds:
        lines, k_sel, same = compare(name, adapter, (wavs, voice, background), args)
        sizes.append(k_sel)
        batch_checks.append(f"{name}: {same}")
        print("\n".join(lines), flush=True)
    print("\nGA genomes in batches equal to one clip at a time: " + ", ".join(batch_checks))
    print(f"\nStability on the first {args.stability_clips} clips: mean pairwise Jaccard of the selected "
          "components, and the standard deviation over seeds (mean over clips) of p(masked-in) and "
          "deletion AUC; LIME keeps as many components as the GA's seed-0 run.")
    print("| classifier | method | seeds | Jaccard | std p(masked-in) | std deletion AUC | mean kept |\n"
          "|---|---|---|---|---|---|---|", flush=True)
    for (name, adapter, _), k_sel in zip(kinds, sizes):
        for method, (jac, sd_in, sd_del, kept, seeds) in stability(adapter, (wavs, voice, background),
                                                                 k_sel, args).items():
            print(f"| {name} | {method} | {seeds} | {jac:.3f} | {sd_in:.4f} | {sd_del:.4f} | {kept:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
