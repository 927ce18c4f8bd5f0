#!/usr/bin/env python3
"""Throughput of every registered explainer: clips per second and peak memory.

For each method of ``speechbrain_xai.explainers.available_explainers()`` (the
Captum bridge as ``captum:Occlusion``), a fresh Python process loads the
classifier, builds the method with its default options (L-MAC from the
interpreter folder), warms it up on one short clip, then times
``explain()`` on a batch of ``--batch_size`` VocalMix clips of ``--seconds``
seconds (the full explanation: masks, masked-in and masked-out audio and the
classifier's probabilities on them), interleaved with the classifier's own
forward on the same batch. It prints one Markdown table with the forward as
the baseline row: seconds per batch, clips per second, the ratio to the
forward timed in the same process, and the peak memory the call added: the
rise of the process's maximum resident set size (``resource.getrusage``;
torch's CPU allocations are invisible to ``tracemalloc``), or
``torch.cuda.max_memory_allocated`` above the memory in use on a GPU.

Slow methods run once; fast ones are repeated (median) until ``--min_seconds``
of timing or ``--repeats`` runs. Wall time is the default clock; on a shared
machine ``--clock cpu --threads 1`` (process CPU time) is steadier.

Example:
    python recipes/VocalMix/interpret/benchmark_throughput.py \\
        results/VocalMix/classification/small_cnn/1234/pretrained \\
        results/VocalMix/interpret/lmac/1234/interpreter [--device cuda:0] [--methods lmac,ga]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

CAPTUM_EXAMPLE = "captum:Occlusion"


def registered_methods():
    from speechbrain_xai.explainers import available_explainers

    return [CAPTUM_EXAMPLE if name.startswith("captum:") else name
            for name in available_explainers()]


def vocalmix_batch(batch_size: int, seconds: float, sample_rate: int, seed: int = 0) -> torch.Tensor:
    """``[B, N]`` VocalMix clips (half with a voice), synthesized deterministically."""
    from speechbrain_xai.data.vocalmix_synthesis import clip_rng, synthesize_clip

    clips = [synthesize_clip(clip_rng(seed, "test", i), sample_rate=sample_rate, duration=seconds,
                             voice=i % 2 == 0)["mixture"] for i in range(batch_size)]
    return torch.stack([torch.as_tensor(c, dtype=torch.float32) for c in clips])


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


# --------------------------------------------------------------------------
# One method, in its own process
# --------------------------------------------------------------------------
def worker(args) -> dict:
    torch.set_num_threads(args.threads)
    from speechbrain_xai import ClassifierAdapter
    from speechbrain_xai.explainers import get_explainer

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    adapter = ClassifierAdapter.from_hparams(args.classifier, savedir=args.savedir,
                                             run_opts={"device": args.device})
    method = args.worker
    explainer = None
    if method != "forward":
        options = {"interpreter": args.interpreter} if method == "lmac" else {}
        explainer = get_explainer(method, adapter, **options)
    wavs, lens = adapter.prepare(vocalmix_batch(args.batch_size, args.seconds, adapter.sample_rate))

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    def timed(fn):
        sync()
        start = clock()
        fn()
        sync()
        return clock() - start

    def forward():
        with torch.no_grad():
            adapter(wavs, lens)

    call = forward if explainer is None else (lambda: explainer.explain(wavs, lens))
    call_small = forward if explainer is None else (lambda: explainer.explain(wavs[:1, :adapter.sample_rate]))
    call_small()  # warm-up on one short clip (kernels, lazy imports)
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
        base_mem = torch.cuda.memory_allocated(device) / 2 ** 20
    else:
        base_mem = peak_rss_mb()
    forward_times, times = [timed(forward) for _ in range(3)], []
    start = time.perf_counter()
    while len(times) < args.repeats:
        times.append(timed(call))
        forward_times.append(timed(forward))
        if time.perf_counter() - start > args.min_seconds:
            break
    if cuda:
        peak = torch.cuda.max_memory_allocated(device) / 2 ** 20 - base_mem
    else:
        peak = peak_rss_mb() - base_mem
    return {"method": method, "seconds": statistics.median(times),
            "forward_seconds": statistics.median(forward_times), "runs": len(times),
            "peak_mb": peak, "batch": list(wavs.shape)}


def run_worker(method: str, args) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), args.classifier, args.interpreter,
           "--worker", method, "--device", args.device, "--batch_size", str(args.batch_size),
           "--seconds", str(args.seconds), "--threads", str(args.threads), "--clock", args.clock,
           "--repeats", str(args.repeats), "--min_seconds", str(args.min_seconds)]
    if args.savedir:
        cmd += ["--savedir", args.savedir]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr or out.stdout).strip().splitlines()[-5:]
        return {"method": method, "error": " / ".join(tail)}
    return json.loads(lines[-1])


def print_table(rows, args) -> None:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    memory = "GPU memory" if args.device.startswith("cuda") else "max RSS rise"
    print(f"batch of {args.batch_size} VocalMix clips of {args.seconds:g} s on {args.device}, "
          f"{args.threads} threads, {args.clock} clock, load {load:.2f} at the end; "
          "each method in its own process, ratio to the forward timed in the same process")
    print(f"| method | s / batch | clips / s | x forward | peak memory (MB, {memory}) | runs |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['method']} | failed: {r['error']} | | | | |")
            continue
        name = "classifier forward (baseline)" if r["method"] == "forward" else r["method"]
        ratio = r["seconds"] / r["forward_seconds"]
        print(f"| {name} | {r['seconds']:.3g} | {args.batch_size / r['seconds']:.3g} | "
              f"{ratio:.3g} | {r['peak_mb']:.0f} | {r['runs']} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("classifier", help="pretrained classifier folder (or hub id)")
    parser.add_argument("interpreter", help="L-MAC interpreter folder of that classifier")
    parser.add_argument("--methods", default=None, help="comma-separated (default: every registered one)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    parser.add_argument("--repeats", type=int, default=5, help="most timed runs per method")
    parser.add_argument("--min_seconds", type=float, default=20.0,
                        help="stop repeating once a method has been timed this long")
    parser.add_argument("--savedir", default=None, help="where SpeechBrain links the classifier's files")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    methods = args.methods.split(",") if args.methods else registered_methods()
    rows = []
    for method in ["forward"] + [m for m in methods if m != "forward"]:
        rows.append(run_worker(method, args))
        print(f"{method}: {rows[-1]}", file=sys.stderr, flush=True)
    print_table(rows, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
