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

import csv
import json
import os
import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.logger import get_logger
from train_gan import HOP_SECONDS, dataio_prep, load_classifier, prepare_data

from speechbrain_xai.brains.am_search import report_search, run_search
from speechbrain_xai.data.excerpts import dataset_excerpts
from speechbrain_xai.explainers.activation_maximization import (
    InputActivationMaximizer,
    LatentActivationMaximizer,
    setting_grid,
)
from speechbrain_xai.explainers.am_selection import unit_activations
from speechbrain_xai.metrics import roc_auc

logger = get_logger(__name__)


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


def vibrato_features(x, band_hz=(4.0, 8.0)):
    """Classifier-free vibrato statistics of log-mel excerpts [N, T, F] (10 ms
    frames). VocalMix voices have vibrato at 4.5-6.5 Hz; the background's
    harmonic instruments (organ, lead) hold a static pitch. Per band: the share
    of its temporal modulation power (slow trend removed) at vibrato rates; per
    pair of neighbouring bands: the correlation of their vibrato-rate
    modulation (a partial that wobbles moves energy between neighbours)."""
    x = x.double()
    frames = x.shape[1]
    trend = torch.nn.functional.avg_pool1d(x.transpose(1, 2), 15, 1, 7,
                                           count_include_pad=False).transpose(1, 2)
    spec = torch.fft.rfft((x - trend) * torch.hann_window(frames, dtype=x.dtype)[None, :, None], dim=1)
    hz = torch.fft.rfftfreq(frames, HOP_SECONDS)
    band = (hz >= band_hz[0]) & (hz <= band_hz[1])
    power = spec.abs() ** 2
    share = power[:, band].sum(1) / power[:, 1:].sum(1).clamp_min(1e-12)
    wobble = torch.fft.irfft(spec * band[None, :, None], n=frames, dim=1)
    wobble = wobble / wobble.norm(dim=1, keepdim=True).clamp_min(1e-9)
    neighbours = (wobble[:, :, 1:] * wobble[:, :, :-1]).sum(1)
    return torch.cat([share, neighbours], dim=1)


class VoiceProbe:
    """Ridge-regularised linear discriminant on classifier-free statistics of
    log-mel excerpts (``features``: :func:`probe_features` or
    :func:`vibrato_features`), trained on real voice vs no-voice excerpts."""

    def __init__(self, feats, labels, ridge, features=probe_features):
        self.features = features
        z = features(feats)
        self.mu, self.sd = z.mean(0), z.std(0).clamp_min(1e-6)
        z = (z - self.mu) / self.sd
        pos, neg = z[labels == 1], z[labels == 0]
        cov = (torch.cov(pos.T) + torch.cov(neg.T)) / 2 + ridge * torch.eye(z.shape[1], dtype=z.dtype)
        self.w = torch.linalg.solve(cov, pos.mean(0) - neg.mean(0))
        self.b = -float(self.w @ (pos.mean(0) + neg.mean(0))) / 2

    def __call__(self, feats):
        z = (self.features(feats.cpu()) - self.mu) / self.sd
        return (z @ self.w + self.b).float()


def probe_summary(probe, manifest, ref_feats, ref_starts, ref_ids, ref_acts, start_feats, hparams):
    """The probe on real excerpts (AUC; voice / no-voice means; the excerpts
    the unit ranks highest / lowest) and on the unoptimised generator samples."""
    labels = voice_labels(manifest, ref_ids, ref_starts, hparams["excerpt_frames"])
    scores = probe(ref_feats)
    known = labels >= 0
    auc = float(roc_auc(scores[known][None], labels[known][None])[0])
    n_ref = min(hparams["n_reference"], len(ref_acts))
    order = torch.argsort(ref_acts.cpu(), descending=True)
    start_scores = probe(start_feats)
    return {"auc_on_real": auc if auc == auc else None,
            "real_voice_mean": float(scores[labels == 1].mean()),
            "real_no_voice_mean": float(scores[labels == 0].mean()),
            "real_top_by_unit_mean": float(scores[order[:n_ref]].mean()),
            "real_bottom_by_unit_mean": float(scores[order[-n_ref:]].mean()),
            "gan_unoptimised_mean": float(start_scores.mean()),
            "gan_unoptimised_voice_fraction": float((start_scores > 0).float().mean())}


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
    datasets = dataio_prep(hparams, manifests, splits=sorted({split, "train"}))
    adapter = load_classifier(hparams, run_opts)
    reference, settings, runs, start_feats, summary = prepare_search(adapter, datasets[split], hparams)
    ref_feats, ref_starts, ref_ids, ref_acts = reference
    # The probe: voice excerpts (inside the stems' voice interval) vs no-voice excerpts
    train_feats, train_starts, train_ids = dataset_excerpts(
        adapter, datasets["train"], hparams["excerpt_frames"], hparams["probe_excerpts_per_clip"],
        hparams["dataloader_opts"])
    train_labels = voice_labels(manifests["train"], train_ids, train_starts, hparams["excerpt_frames"])
    # and a second probe on vibrato statistics alone
    probes = {name: VoiceProbe(train_feats.cpu(), train_labels, hparams["probe_ridge"], features)
              for name, features in (("probe", probe_features), ("vibrato_probe", vibrato_features))}
    for name, probe in probes.items():
        summary[name] = probe_summary(probe, manifests[split], ref_feats, ref_starts, ref_ids,
                                      ref_acts, start_feats, hparams)
    summary["runs"] = search_and_report(runs, settings, ref_feats, ref_acts, adapter, hparams,
                                        run_opts, score_fn=probes)
    with open(os.path.join(hparams["output_folder"], "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    logger.info("Summary: %s", json.dumps(summary, indent=1))
