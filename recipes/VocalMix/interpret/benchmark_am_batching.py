#!/usr/bin/env python3
"""Batched activation-maximisation grid vs one run at a time, in the same process.

Times a slice of the grid (every setting x seed as one batched optimisation)
against a Python loop that runs each (setting, seed) alone, checks that both
give the same examples, and optionally times the full paper grid
(3 steps x 3 lr x 3 penalties x 2 directions, 50 seeds) as one batched job.

    python recipes/VocalMix/interpret/benchmark_am_batching.py \
        --classifier_source <pretrained> --generator_file <gan>/generator.ckpt [--device cuda] [--full_grid]

Without --classifier_source / --generator_file, randomly initialised networks of
the recipe's sizes are used (the timing does not depend on the weights).

Both modes search on folded copies of the networks (BatchNorm folded into the
layer before it); the batched grid runs them channels-last on CPU, faster for
many rows, while one run at a time keeps the default layout, faster for one
row (--no_fold_batchnorm, --no_channels_last to compare). The exactness check
compares every run's short-budget latents in float64 (double copies of both networks: float32
kernels round differently per batch size and Adam amplifies it) and the float32 mean activation
per setting.
On a shared machine, --threads 1 --clock cpu gives steadier ratios.
"""

import argparse
import copy
import os
import time

import torch

from speechbrain_xai.explainers.activation_maximization import (
    LatentActivationMaximizer,
    UnitSpec,
    setting_grid,
)
from speechbrain_xai.files import torch_load
from speechbrain_xai.lobes.gan import SpectrogramGenerator


def build(args):
    from speechbrain.lobes.features import Fbank
    from speechbrain.processing.features import InputNormalization

    from speechbrain_xai import ClassifierAdapter
    from speechbrain_xai.lobes.classifiers import ClassifierHead, SmallCNN

    if args.classifier_source:
        adapter = ClassifierAdapter.from_hparams(args.classifier_source, savedir=args.savedir)
        unit = UnitSpec(index="voice", relative=True)
    else:
        torch.manual_seed(0)
        adapter = ClassifierAdapter.from_modules(
            Fbank(n_mels=64), SmallCNN(64, (16, 32, 64), 128), ClassifierHead(128, 2),
            sample_rate=16000, mean_var_norm=InputNormalization(norm_type="sentence", std_norm=False))
        unit = UnitSpec(index=1, relative=True)
    gen = SpectrogramGenerator(128, 64, 64, (128, 64, 32, 16))
    if args.generator_file:
        gen.load_state_dict(torch_load(args.generator_file, map_location="cpu"))
    return adapter.to(args.device), gen.to(args.device).eval(), unit


def timed_with(fn, device, clock=time.perf_counter):
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = clock()
    out = fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return out, clock() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classifier_source", default=None)
    parser.add_argument("--savedir", default=None)
    parser.add_argument("--generator_file", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", default="10,20", help="step budgets of the slice")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--check_steps", type=int, default=5, help="budget of the exactness check")
    parser.add_argument("--check_tolerance", type=float, default=1e-9,
                        help="largest |z_batched - z_loop| after --check_steps, in float64")
    parser.add_argument("--full_grid", action="store_true", help="also time the paper grid, 50 seeds")
    parser.add_argument("--full_steps", default="100,500,1000")
    parser.add_argument("--chunk_size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: process CPU time, steadier than wall time on a shared machine "
                             "(meaningful with --threads 1 on CPU)")
    parser.add_argument("--no_fold_batchnorm", action="store_true",
                        help="search on the networks as they are (BatchNorm not folded)")
    parser.add_argument("--no_channels_last", action="store_true",
                        help="the batched grid in the default memory layout too")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(True)
    adapter, gen, unit = build(args)
    fold = not args.no_fold_batchnorm
    # one run at a time in the default layout (channels-last is slower for one row);
    # the batched grid channels-last where that is faster (CPU), each mode at its best
    am = LatentActivationMaximizer(adapter, gen, unit, chunk_size=args.chunk_size, fold_batchnorm=fold)
    grid = LatentActivationMaximizer(adapter, gen, unit, chunk_size=args.chunk_size, fold_batchnorm=fold,
                                     channels_last=fold and not args.no_channels_last)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    def timed(fn, device):
        return timed_with(fn, device, clock)
    steps = [int(s) for s in args.steps.split(",")]
    settings = setting_grid(steps, [0.1, 0.01], [0.01], ["max", "min"])
    seeds = list(range(args.seeds))
    am.search(settings[:1], seeds[:1])  # warm-up (and the copies of both)
    grid.search(settings[:1], seeds[:1])

    batched, t_batched = timed(lambda: grid.search(settings, seeds), args.device)
    # batched, but without sharing the optimisation of settings that differ only
    # in their step budget: one batched job per budget
    _, t_per_budget = timed(
        lambda: [grid.search([s for s in settings if s.steps == n], seeds) for n in steps], args.device)

    def one_at_a_time():
        return [[am.search([s], [k]) for k in seeds] for s in settings]

    loop, t_loop = timed(one_at_a_time, args.device)
    diff = max(float((loop[i][j].params[0, 0] - batched.params[i, j].cpu()).abs().max())
               for i in range(len(settings)) for j in range(len(seeds)))
    loop_act = torch.stack([torch.stack([r.activation[0, 0] for r in row]) for row in loop])
    runs = len(settings) * len(seeds)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device: {args.device}, {args.threads} threads, {args.clock} clock, load {load:.2f}, "
          f"BatchNorm {'not ' if args.no_fold_batchnorm else ''}folded; slice: {len(settings)} "
          f"settings (steps {steps}, lr 0.1/0.01, penalty 0.01, max/min) x {len(seeds)} seeds "
          f"= {runs} runs")
    print("| mode | runs | seconds | ratio |")
    print("|---|---|---|---|")
    print(f"| one run at a time | {runs} | {t_loop:.2f} | 1.00 |")
    print(f"| batched, one job per step budget | {runs} | {t_per_budget:.2f} | "
          f"{t_loop / t_per_budget:.1f}x faster |")
    print(f"| batched (one job, budgets share their prefix) | {runs} | {t_batched:.2f} | "
          f"{t_loop / t_batched:.1f}x faster |")
    # Same computation, but float32 kernels round differently for other batch
    # sizes and Adam amplifies that over a long optimisation: the exactness
    # check runs a short budget in float64 (both modes on double copies),
    # where rounding is too small to grow; float32 is reported for information.
    short = setting_grid([args.check_steps], [0.1, 0.01], [0.01], ["max", "min"])

    def short_diff(loop_am, grid_am):
        short_b = grid_am.search(short, seeds)
        return max(float((loop_am.search([s], [k]).params[0, 0] - short_b.params[i, j].cpu()).abs().max())
                   for i, s in enumerate(short) for j, k in enumerate(seeds))
    diff32 = short_diff(am, grid)
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # the latents, Adam's state and the objective
    try:
        a64, g64 = copy.deepcopy(adapter).double(), copy.deepcopy(gen).double()
        diff64 = short_diff(
            LatentActivationMaximizer(a64, g64, unit, chunk_size=args.chunk_size, fold_batchnorm=fold),
            LatentActivationMaximizer(a64, g64, unit, chunk_size=args.chunk_size, fold_batchnorm=fold,
                                      channels_last=fold and not args.no_channels_last))
    finally:
        torch.set_default_dtype(default_dtype)
    print(f"{args.check_steps} steps: max |z_batched - z_loop| = {diff64:.2e} in float64, "
          f"{diff32:.2e} in float32 (float32 kernels round differently per batch size)")
    print(f"{max(steps)} steps, float32: max |z_batched - z_loop| = {diff:.2e}; mean activation "
          "per setting, batched vs loop:")
    for i, s in enumerate(settings):
        print(f"  {s.name}: {float(batched.activation[i].mean()):.3f} vs {float(loop_act[i].mean()):.3f}")
    batched_mean, loop_mean = batched.activation.mean(dim=1), loop_act.mean(dim=1)
    rel = float(((batched_mean - loop_mean).abs() / loop_mean.abs().clamp_min(1e-6)).max())
    print(f"exactness check: {args.check_steps}-step latents in float64 within {args.check_tolerance:g}: "
          f"{'yes' if diff64 <= args.check_tolerance else 'NO'}; float32 mean activation per setting "
          f"within 2%: {'yes' if rel <= 0.02 else 'NO'} (largest difference {100 * rel:.2f}%)")
    if args.full_grid:
        full = setting_grid([int(s) for s in args.full_steps.split(",")], [0.1, 0.01, 0.001],
                            [0.1, 0.01, 0.001], ["max", "min"])
        _, t_full = timed(lambda: grid.search(full, list(range(50))), args.device)
        print(f"| full grid, batched | {len(full)} x 50 = {len(full) * 50} runs "
              f"(steps {args.full_steps}) | {t_full:.1f} s |")


if __name__ == "__main__":
    main()
