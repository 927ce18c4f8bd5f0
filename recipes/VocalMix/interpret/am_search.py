#!/usr/bin/env python3
"""GAN-based activation maximisation with automatic selection on VocalMix.

Searches the latent space of the GAN trained by ``train_gan.py`` for excerpts
that maximise and minimise the classifier's "voice" unit, over the whole grid
of settings and seeds as one batched job (through ``Brain.evaluate``), ranks
the settings by the Fréchet distance to the real excerpts that most / least
activate the unit, renders the selected examples (PNG grid, Griffin-Lim
audio), runs the input-space baseline, and checks voice-likeness with a probe
the classifier never sees (a linear discriminant on hand-made log-mel
statistics, trained with the voice intervals known from VocalMix's stems).

To run:
    python recipes/VocalMix/interpret/am_search.py recipes/VocalMix/interpret/hparams/am.yaml \
        --data_folder data/VocalMix --classifier_source <pretrained> \
        --generator_file results/VocalMix/interpret/gan/1234/generator.ckpt
"""

import csv
import json
import os
import sys
import time

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.logger import get_logger
from train_gan import dataio_prep, load_classifier, prepare_data

from speechbrain_xai.audio_synthesis import mel_to_audio
from speechbrain_xai.explainers.activation_maximization import (
    AMSearchBrain,
    InputActivationMaximizer,
    LatentActivationMaximizer,
    SearchResult,
    excerpts_from_features,
    rank_settings,
    save_excerpt_grid,
    setting_grid,
    unit_activations,
    write_table,
)
from speechbrain_xai.metrics import roc_auc

logger = get_logger(__name__)
HOP_SECONDS = 0.01  # Fbank's 10 ms hop


def real_excerpts(adapter, dataset, hparams, per_clip):
    """Evenly spaced excerpts of every clip, with their clip ids and start frames."""
    loader = sb.dataio.dataloader.make_dataloader(dataset, **hparams["dataloader_opts"])
    feats, starts, ids = [], [], []
    with torch.no_grad():
        for batch in loader:
            batch = batch.to(adapter.device)
            wavs, lens = batch.sig
            x, s = excerpts_from_features(adapter.features(wavs), lens, hparams["excerpt_frames"],
                                          per_clip=per_clip, return_starts=True)
            feats.append(x)
            starts.append(s)
            ids += [i for i in batch.id for _ in range(per_clip)]
    return torch.cat(feats), torch.cat(starts), ids


def voice_labels(manifest, ids, starts, frames):
    """1: excerpt inside the voice interval of a voice clip; 0: no-voice clip; -1: mixed."""
    with open(manifest) as f:
        rows = {r["ID"]: r for r in csv.DictReader(f)}
    labels = []
    for clip, start in zip(ids, starts.tolist()):
        r = rows[clip]
        t0, t1 = start * HOP_SECONDS, (start + frames) * HOP_SECONDS
        if r["label"] != "voice":
            labels.append(0)
        else:
            inside = float(r["voice_start"]) <= t0 + 0.05 and t1 - 0.05 <= float(r["voice_end"])
            labels.append(1 if inside else -1)
    return torch.tensor(labels)


def probe_features(x):
    """Classifier-free statistics of log-mel excerpts [N, T, F]: the band profile,
    frame-to-frame change per band (vibrato, onsets), per-band spread."""
    x = x.double()
    profile = x.mean(1) - x.mean((1, 2))[:, None]
    change = (x[:, 1:] - x[:, :-1]).abs().mean(1)
    spread = x.std(1)
    return torch.cat([profile, change, spread], dim=1)


class VoiceProbe:
    """Ridge-regularised linear discriminant on :func:`probe_features`."""

    def __init__(self, feats, labels, ridge):
        z = probe_features(feats)
        self.mu, self.sd = z.mean(0), z.std(0).clamp_min(1e-6)
        z = (z - self.mu) / self.sd
        pos, neg = z[labels == 1], z[labels == 0]
        cov = (torch.cov(pos.T) + torch.cov(neg.T)) / 2 + ridge * torch.eye(z.shape[1], dtype=z.dtype)
        self.w = torch.linalg.solve(cov, pos.mean(0) - neg.mean(0))
        self.b = -float(self.w @ (pos.mean(0) + neg.mean(0))) / 2

    def __call__(self, feats):
        z = (probe_features(feats.cpu()) - self.mu) / self.sd
        return (z @ self.w + self.b).float()


def render(result, s, direction, folder, tag, adapter, hparams):
    """PNG grid of a setting's examples (most extreme first) and a few wavs."""
    acts = result.activation[s]
    order = torch.argsort(acts, descending=direction == "max")
    feats = result.features[s][order]
    titles = [f"{float(a):.2f}" for a in acts[order]]
    save_excerpt_grid(feats[:16], os.path.join(folder, f"{tag}.png"), titles[:16])
    n_audio = hparams["num_rendered_audio"]
    if n_audio:
        wavs = mel_to_audio(feats[:n_audio].to(adapter.device), adapter.model.compute_features,
                            n_iter=hparams["griffin_lim_iters"]).cpu()
        for i, wav in enumerate(wavs):
            peak = wav.abs().max().clamp_min(1e-8)
            sb.dataio.dataio.write_audio(os.path.join(folder, f"{tag}_{i}.wav"),
                                         0.9 * wav / peak, hparams["sample_rate"])


def run_search(name, maximizer, settings, seeds, folder, hparams, run_opts):
    """The batched search of every setting through Brain.evaluate (resumable)."""
    brain = AMSearchBrain(modules=None, hparams=hparams, run_opts=run_opts, maximizer=maximizer,
                          settings={s.name: s for s in settings}, seeds=seeds,
                          results_folder=folder, checkpoint_every=hparams["checkpoint_every"])
    data = sb.dataio.dataset.DynamicItemDataset(
        {s.name: {"order": i} for i, s in enumerate(settings)})
    data.set_output_keys(["id"])
    start = time.time()
    brain.evaluate(data, test_loader_kwargs={"batch_size": hparams["settings_per_batch"]})
    seconds = time.time() - start
    logger.info("%s search: %d settings x %d seeds in %.1f s", name, len(settings), len(seeds), seconds)
    return SearchResult.load(folder, settings), seconds


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
    datasets = dataio_prep(hparams, manifests, splits=sorted({split, "train"}))
    adapter = load_classifier(hparams, run_opts)
    device = adapter.device
    generator = hparams["generator"]
    generator.load_state_dict(torch.load(hparams["generator_file"], map_location="cpu"))
    generator.to(device).eval()
    unit = hparams["unit"]

    # Real reference excerpts and the unit on them
    ref_feats, ref_starts, ref_ids = real_excerpts(
        adapter, datasets[split], hparams, hparams["reference_excerpts_per_clip"])
    ref_acts = unit_activations(adapter, unit, ref_feats)

    # The searches: GAN latent space, then the input-space baseline
    settings = setting_grid(hparams["am_steps"], hparams["am_lrs"], hparams["am_penalties"],
                            hparams["directions"])
    seeds = list(range(hparams["num_seeds"]))
    runs = {"gan": (LatentActivationMaximizer(adapter, generator, unit,
                                              chunk_size=hparams["chunk_size"]),
                    hparams["results_folder"])}
    if hparams["run_input_baseline"]:
        runs["input"] = (InputActivationMaximizer(adapter, generator, unit,
                                                  jitter=hparams["jitter_frames"],
                                                  noise=hparams["input_noise"],
                                                  chunk_size=hparams["chunk_size"]),
                         hparams["baseline_folder"])

    # The probe: voice excerpts (inside the stems' voice interval) vs no-voice excerpts
    train_feats, train_starts, train_ids = real_excerpts(
        adapter, datasets["train"], hparams, hparams["probe_excerpts_per_clip"])
    train_labels = voice_labels(manifests["train"], train_ids, train_starts, hparams["excerpt_frames"])
    probe = VoiceProbe(train_feats.cpu(), train_labels, hparams["probe_ridge"])
    ref_labels = voice_labels(manifests[split], ref_ids, ref_starts, hparams["excerpt_frames"])
    ref_scores = probe(ref_feats)
    known = ref_labels >= 0
    auc = float(roc_auc(ref_scores[known][None], ref_labels[known][None])[0])
    summary = {
        "unit": str(unit),
        "grid": {"settings": len(settings), "seeds": len(seeds)},
        "real_unit": {"max_top_mean": float(ref_acts.topk(min(hparams["n_reference"], len(ref_acts))).values.mean()),
                      "min_bottom_mean": float((-ref_acts).topk(min(hparams["n_reference"], len(ref_acts))).values.mean().neg())},
        "probe": {"auc_on_real": auc if auc == auc else None,
                  "real_voice_mean": float(ref_scores[ref_labels == 1].mean()),
                  "real_no_voice_mean": float(ref_scores[ref_labels == 0].mean())},
        "runs": {},
    }
    for name, (maximizer, folder) in runs.items():
        result, seconds = run_search(name, maximizer, settings, seeds, folder, hparams, run_opts)
        rows = rank_settings(result, ref_feats, ref_acts, hparams["n_reference"], adapter,
                             hparams["selection_layer"])
        write_table(rows, os.path.join(folder, "ranking.md"))
        with open(os.path.join(folder, "ranking.json"), "w") as f:
            json.dump(rows, f, indent=1)
        run = {"seconds": round(seconds, 1)}
        for direction in hparams["directions"]:
            mine = [r for r in rows if r["direction"] == direction]
            best = mine[0]
            extreme = (max if direction == "max" else min)(mine, key=lambda r: r["act_mean"])
            picks = {"selected": best, "most_extreme": extreme}
            for tag, row in picks.items():
                s = [x.name for x in settings].index(row["setting"])
                render(result, s, direction, folder, f"{direction}_{tag}", adapter, hparams)
                scores = probe(result.features[s])
                row = dict(row, probe_mean=float(scores.mean()),
                           probe_voice_fraction=float((scores > 0).float().mean()))
                run[f"{direction}_{tag}"] = row
        summary["runs"][name] = run
    with open(os.path.join(hparams["output_folder"], "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    logger.info("Summary: %s", json.dumps(summary, indent=1))
