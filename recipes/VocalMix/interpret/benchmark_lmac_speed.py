#!/usr/bin/env python3
"""Cost of explaining a batch with L-MAC vs the classifier's own forward pass.

Times, on the same batch and in the same process, interleaved (each round runs
every row once; median of ``--repeats`` rounds after a warm-up, under
``torch.no_grad``; wall time, or process CPU time with ``--clock cpu``, steadier
on a shared machine with ``--threads 1``):

* ``classifier``: the classifier's forward alone (waveforms -> logits), the
  baseline of the ratios;
* ``L-MAC masks``: the classifier's forward with hooks (its STFT read from
  the front-end) + the decoder (``decode_masks``);
* ``L-MAC masks + audio``: the same plus the masked-in and masked-out audio
  (``LMACExplainer.listenable``: everything ``interpret_batch`` returns, and
  the masked-out audio);
* ``L-MAC explain()``: the full ``Explanation``, which also re-classifies the
  masked-in and masked-out audio (two more forwards).

It prints the ratios and the decoder's parameter count next to SpeechBrain's
ESC50 L-MAC decoder (``CNN14PSI_stft(dim=2048)``, counted by instantiating it
with ``--count_speechbrain_decoder``, about 15 s).

Example:
    python recipes/VocalMix/interpret/benchmark_lmac_speed.py results/VocalMix/interpret/lmac/1234/interpreter \\
        --batch_size 16 --seconds 4
"""

import argparse
import csv
import os
import statistics
import time

import torch


def load_batch(args, sample_rate):
    if args.manifest:
        import speechbrain as sb

        with open(args.manifest) as f:
            rows = list(csv.DictReader(f))[: args.batch_size]
        wavs = [sb.dataio.dataio.read_audio(r["wav"].replace("$data_root", args.data_folder))
                for r in rows]
        return torch.stack(wavs)
    gen = torch.Generator().manual_seed(0)
    return 0.1 * torch.randn(args.batch_size, int(args.seconds * sample_rate), generator=gen)


def interleaved(fns, repeats, sync=lambda: None, clock=time.perf_counter):
    """Median seconds of each function, the functions run in turn in each round."""
    for fn in fns.values():  # warm-up
        fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            sync()
            start = clock()
            fn()
            sync()
            times[name].append(clock() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("interpreter", help="exported interpreter folder (or hub id)")
    parser.add_argument("--manifest", default=None, help="CSV with a wav column ($data_root paths)")
    parser.add_argument("--data_folder", default="", help="value of $data_root")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length without a manifest")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: process CPU time, steadier than wall time on a shared machine "
                             "(meaningful with --threads 1 on CPU)")
    parser.add_argument("--count_speechbrain_decoder", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from speechbrain_xai.explainers.lmac import decode_masks
    from speechbrain_xai.inference.lmac import LMACInterpreter
    from speechbrain_xai.lobes.decoders import count_parameters

    interp = LMACInterpreter.from_hparams(args.interpreter, savedir=None,
                                          run_opts={"device": args.device})
    adapter, explainer = interp.adapter, interp.explainer
    decoder = explainer.decoder.eval()
    wavs, lens = adapter.prepare(load_batch(args, adapter.sample_rate))
    sync = torch.cuda.synchronize if wavs.is_cuda else (lambda: None)

    rows = {
        "classifier": lambda: adapter(wavs, lens),
        "L-MAC masks": lambda: decode_masks(adapter, decoder, explainer.layers, wavs, lens),
        "L-MAC masks + audio": lambda: explainer.listenable(wavs, lens),
        "L-MAC explain()": lambda: explainer.explain(wavs, lens),
    }
    with torch.no_grad():
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        med = interleaved(rows, args.repeats, sync, clock)
    base = med["classifier"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"batch {tuple(wavs.shape)} at {adapter.sample_rate} Hz on {args.device}, "
          f"{args.threads} threads, {args.clock} clock, median of {args.repeats} interleaved rounds, "
          f"load {load:.2f}")
    print(f"| {'run':<20} | {'ms / batch':>10} | {'ratio':>6} |")
    print(f"|{'-' * 22}|{'-' * 12}|{'-' * 8}|")
    for name, sec in med.items():
        print(f"| {name:<20} | {1000 * sec:>10.1f} | {sec / base:>6.2f} |")
    n_params = count_parameters(decoder)
    print(f"decoder parameters: {n_params:,}")
    if args.count_speechbrain_decoder:
        from speechbrain.lobes.models.Cnn14 import CNN14PSI_stft

        sb_params = count_parameters(CNN14PSI_stft(dim=2048, outdim=1))
        print(f"SpeechBrain CNN14PSI_stft(dim=2048) parameters: {sb_params:,} "
              f"({sb_params / n_params:.0f} times more)")


if __name__ == "__main__":
    main()
