#!/usr/bin/env python3
"""Cost of explaining a batch with L-MAC vs the classifier's own forward pass.

Times, on the same batch and in the same process (median of ``--repeats``
runs after a warm-up, under ``torch.no_grad``):

* ``classifier``: the classifier's forward alone (waveforms -> logits);
* ``L-MAC masks``: STFT + the classifier's forward with hooks + the decoder;
* ``L-MAC masks + audio``: the same plus the ISTFT of the masked-in audio
  (everything ``interpret_batch`` returns);

and prints the ratios and the decoder's parameter count next to
SpeechBrain's ESC50 L-MAC decoder (``CNN14PSI_stft(dim=2048)``, counted by
instantiating it with ``--count_speechbrain_decoder``, about 15 s).

Example:
    python recipes/VocalMix/interpret/benchmark_lmac_speed.py results/VocalMix/interpret/lmac/1234/interpreter \
        --data_folder data/VocalMix --manifest results/VocalMix/interpret/lmac/1234/save/test.csv
"""

import argparse
import csv
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


def timed(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("interpreter", help="exported interpreter folder (or hub id)")
    parser.add_argument("--manifest", default=None, help="CSV with a wav column ($data_root paths)")
    parser.add_argument("--data_folder", default="", help="value of $data_root")
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=2.0, help="clip length without a manifest")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--count_speechbrain_decoder", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from speechbrain_xai.explainers.lmac import decode_masks
    from speechbrain_xai.inference.lmac import LMACInterpreter
    from speechbrain_xai.lobes.decoders import count_parameters
    from speechbrain_xai.stft import apply_mask, istft

    interp = LMACInterpreter.from_hparams(args.interpreter, savedir=None)
    adapter, decoder = interp.adapter, interp.mods.decoder
    wavs, lens = adapter.prepare(load_batch(args, adapter.sample_rate))

    def classify():
        adapter(wavs, lens)

    def masks():
        decode_masks(adapter, decoder, interp.explainer.layers, wavs, lens)

    def masks_and_audio():
        mask, _, spec = decode_masks(adapter, decoder, interp.explainer.layers, wavs, lens)
        istft(apply_mask(spec, mask, interp.explainer.mask_mode), adapter.stft_config, wavs.shape[1])

    with torch.no_grad():
        base = timed(classify, args.repeats)
        rows = [("classifier", base), ("L-MAC masks", timed(masks, args.repeats)),
                ("L-MAC masks + audio", timed(masks_and_audio, args.repeats))]
    print(f"batch {tuple(wavs.shape)} at {adapter.sample_rate} Hz, {args.threads} threads, "
          f"median of {args.repeats}")
    print(f"| {'run':<20} | {'ms / batch':>10} | {'ratio':>6} |")
    print(f"|{'-' * 22}|{'-' * 12}|{'-' * 8}|")
    for name, sec in rows:
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
