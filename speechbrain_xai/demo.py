"""``speechbrain-xai demo``: the whole chain, offline, at small size, ending in the report.

1. Generates a few clips the shipped voice detector never saw in training:
   VocalMix test clips and, when a text-to-speech engine is installed,
   held-out voice scenes (voices, sentences and sounds of the realistic test
   split), with their stems for ground truth.
2. Explains them with the shipped L-MAC interpreter, the genetic explainer
   and the gradient baselines through the evaluation harness (faithfulness,
   deletion / insertion AUC, agreement with the true voice mask, seconds per
   clip): ``OUT/results.md`` and the saved explanations.
3. Runs a small GAN-based activation-maximisation search on the shipped
   generator (the "voice" log-odds maximised and minimised over a grid of
   settings, selected by Fréchet distance to the real excerpts).
4. Writes ``OUT/report.html``: listen, look, compare.

Everything is made from the package itself (no network); a rerun reuses what
is finished.
"""

from __future__ import annotations

import os
import time
from typing import Dict

import torch

DEMO_METHODS: Dict[str, Dict] = {
    "L-MAC": {"method": "lmac", "interpreter": "voice-detector-lmac"},
    "ga": {"seed": 0},
    "saliency": {},
    "integrated_gradients": {"n_steps": 10},
    "smoothgrad": {"n_samples": 8, "seed": 0},
    "gradcam": {},
}


def _demo_clips(folder: str, count: int, sample_rate: int) -> str:
    """A manifest of ``count`` generated clips (half VocalMix, half voice
    scenes when a TTS engine is installed), with ``source_wav`` /
    ``background_wav`` columns; returns its path."""
    import csv

    from speechbrain_xai.data.vocalmix import prepare_vocalmix
    from speechbrain_xai.files import write_text

    sets = {}
    try:
        from speechbrain_xai.data.tts import installed_engines
        from speechbrain_xai.data.voice_scenes import prepare_voice_scenes

        if installed_engines():
            n = count // 2
            sets["voice_scenes"] = prepare_voice_scenes(
                os.path.join(folder, "voice_scenes"), num_train=0, num_valid=0, num_test=n,
                sample_rate=sample_rate)["test"]
    except ImportError:
        pass
    sets["vocalmix"] = prepare_vocalmix(
        os.path.join(folder, "vocalmix"), num_train=0, num_valid=0,
        num_test=count - (count // 2 if sets else 0), sample_rate=sample_rate)["test"]
    rows = []
    for name, manifest in sorted(sets.items()):
        root = os.path.dirname(manifest)
        with open(manifest) as f:
            for row in csv.DictReader(f):
                rows.append({"ID": f"{name}_{row['ID']}",
                             **{out: row[col].replace("$data_root", root)
                                for out, col in (("wav", "wav"), ("source_wav", "voice_wav"),
                                                 ("background_wav", "background_wav"))}})
    lines = ["ID,wav,source_wav,background_wav"]
    lines += [",".join(r[k] for k in ("ID", "wav", "source_wav", "background_wav")) for r in rows]
    path = os.path.join(folder, "clips.csv")
    write_text(path, "\n".join(lines) + "\n")
    return path


def _am_search(adapter, clips: str, folder: str, seeds: int = 8) -> None:
    """A small activation-maximisation search on the shipped generator."""
    from speechbrain.inference.interfaces import Pretrained

    from speechbrain_xai.brains.am_search import report_search, run_search
    from speechbrain_xai.data.datasets import audio_dataset
    from speechbrain_xai.data.excerpts import dataset_excerpts
    from speechbrain_xai.explainers.activation_maximization import (
        LatentActivationMaximizer,
        UnitSpec,
        setting_grid,
    )
    from speechbrain_xai.explainers.am_selection import unit_activations
    from speechbrain_xai.pretrained import shipped_folder

    source = shipped_folder("voice-detector-gan")
    gan = Pretrained.from_hparams(source, savedir=source)
    generator = gan.mods.generator.to(adapter.device).eval()
    unit = UnitSpec(index="voice", relative=True)
    data = audio_dataset(clips, None, adapter.sample_rate)
    feats, _, _ = dataset_excerpts(adapter, data, generator.frames, per_clip=4,
                                   loader_kwargs={"batch_size": 4})
    acts = unit_activations(adapter, unit, feats)
    settings = setting_grid([50, 100], [0.01, 0.001], [0.1, 0.01], ["max", "min"])
    maximizer = LatentActivationMaximizer(adapter, generator, unit, chunk_size=256)
    result, _ = run_search(maximizer, settings, list(range(seeds)), folder, len(settings))
    report_search(result, feats, acts, folder, adapter, n_reference=min(8, len(acts)),
                  num_audio=2, griffin_lim_iters=32)


def run_demo(args, log) -> int:
    """The ``demo`` command (see module docstring)."""
    from speechbrain_xai.brains.harness import evaluate_explainers
    from speechbrain_xai.cli import UsageError, load_classifier
    from speechbrain_xai.data.datasets import audio_dataset
    from speechbrain_xai.report import write_report

    start = time.perf_counter()
    out = args.out
    torch.manual_seed(0)
    adapter = load_classifier(None, "cpu")
    if args.clips < 2:
        raise UsageError("--clips must be at least 2.")
    log(f"1/4 generating {args.clips} clips in {os.path.join(out, 'data')}")
    clips = _demo_clips(os.path.join(out, "data"), args.clips, adapter.sample_rate)
    columns = {"sig": "wav", "source_sig": "source_wav", "background_sig": "background_wav"}
    data = audio_dataset(clips, None, adapter.sample_rate, columns)
    log(f"2/4 explaining with {', '.join(DEMO_METHODS)} (the evaluation harness)")
    table = evaluate_explainers(
        adapter, DEMO_METHODS, data, os.path.join(out, "compare"), loader_kwargs={"batch_size": 4},
        oracle_class="voice", curve_steps=5, explanations_folder=os.path.join(out, "compare", "explanations"),
        save_explanations=True, run_opts={"noprogressbar": bool(getattr(args, "quiet", False))})
    log(table.markdown())
    log("3/4 activation maximisation of 'voice' on the shipped GAN")
    _am_search(adapter, clips, os.path.join(out, "activation_maximization"))
    log("4/4 the listening report")
    path = write_report(out, title="speechbrain-xai demo")
    log(f"Done in {time.perf_counter() - start:.0f} s. Open {path} in a browser.")
    return 0
