#!/usr/bin/env python3
"""What a GAN can make for activation maximisation, before any search.

A search only moves through the generator's latent space, so its maximised
examples can only read as voice if the generator makes voice. This script
reads the classifier's unit and both classifier-free voice probes (as
``am_search.py``: trained on the train split, 0 the midpoint between the real
class means) on:

* the real reference excerpts the unit ranks highest and lowest (the
  ``n_reference`` the search's selection compares with);
* the generator's rebuilds of those excerpts (``invert_reference``: the
  closest latent code to each);
* ``diagnosis_draws`` plain draws of the generator, and the best of each 64
  of them by the unit (what ``init_candidates: 64`` starts from).

For each probe it gives the mean, the share above 0 (reads as voice) and the
share at least halfway from the midpoint to the real voice mean. It writes
``diagnosis.json`` and ``diagnosis.md`` to ``output_folder``. Same
hyperparameters and overrides as ``am_search.py``.

To run:
    python recipes/VocalMix/interpret/diagnose_gan.py recipes/VocalMix/interpret/hparams/am.yaml \\
        --data_folder data/VocalMix --classifier_source <pretrained> \\
        --generator_file <train_gan.py output>/generator.ckpt --output_folder <folder>
"""

import os
import sys

import speechbrain as sb
import torch
from hyperpyyaml import load_hyperpyyaml

from speechbrain_xai.brains.am_search import prepare_search
from speechbrain_xai.data.datasets import vocalmix_excerpt_datasets
from speechbrain_xai.data.excerpts import feature_hop_seconds
from speechbrain_xai.data.vocalmix import prepare_vocalmix_from_hparams
from speechbrain_xai.data.voice_probes import probe_summary, train_voice_probes
from speechbrain_xai.explainers.am_selection import unit_activations
from speechbrain_xai.files import write_json, write_text


def draws(generator, count, seed, chunk=512):
    """``count`` plain samples of the generator (latents seeded by ``seed``)."""
    z = torch.randn(count, generator.latent_dim, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return torch.cat([generator(c.to(generator.feat_mean.device)) for c in z.split(chunk)])


def row(adapter, unit, probes, halfway, feats):
    """The unit's mean and, per probe, the mean, share above 0 and share past
    halfway; and the probes' scores ``{name: [N]}``."""
    out = {"excerpts": len(feats), "unit_mean": float(unit_activations(adapter, unit, feats).mean())}
    scores = {name: probe(feats) for name, probe in probes.items()}
    for name, s in scores.items():
        out[name] = {"mean": float(s.mean()), "voice_fraction": float((s > 0).float().mean()),
                     "halfway_fraction": float((s >= halfway[name]).float().mean())}
    return out, scores


def markdown(rows, halfway):
    names = list(halfway)
    lines = ["| samples | n | unit | " + " | ".join(f"{n} (> 0, >= {halfway[n]:.2f})" for n in names)
             + " |", "|---|---|---|" + "---|" * len(names)]
    for label, r in rows.items():
        cells = [f"{r[n]['mean']:+.2f} ({r[n]['voice_fraction']:.2f}, {r[n]['halfway_fraction']:.3f})"
                 for n in names]
        lines.append(f"| {label} | {r['excerpts']} | {r['unit_mean']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
    with open(hparams_file) as fin:
        hparams = load_hyperpyyaml(fin, overrides)
    sb.create_experiment_directory(experiment_directory=hparams["output_folder"],
                                   hyperparams_to_save=hparams_file, overrides=overrides)
    manifests = prepare_vocalmix_from_hparams(hparams, hparams["save_folder"])
    split = hparams["reference_split"]
    datasets = vocalmix_excerpt_datasets(hparams, manifests, splits=sorted({split, "train"}))
    hparams["invert_reference"] = True  # the rebuilds are the point here
    search = prepare_search(hparams, run_opts, datasets[split])
    adapter, unit, generator = search.adapter, hparams["unit"], hparams["generator"]
    probes = train_voice_probes(adapter, datasets["train"], manifests["train"], hparams)
    real = {name: probe_summary(probe, manifests[split], search.reference, search.start_feats,
                                feature_hop_seconds(adapter), hparams)
            for name, probe in probes.items()}
    halfway = {name: s["real_voice_mean"] / 2 for name, s in real.items()}

    extremes = search.reference.extreme_rows(hparams["n_reference"])  # as the rebuilds'
    ref = search.reference.feats
    samples = draws(generator, hparams["diagnosis_draws"], hparams["seed"])
    acts = unit_activations(adapter, unit, samples)
    blocks = len(samples) // 64
    best = acts[:blocks * 64].view(blocks, 64).argmax(1) + 64 * torch.arange(blocks, device=acts.device)
    sets = {"real, top by the unit": ref[extremes["top"].to(ref.device)],
            "real, bottom by the unit": ref[extremes["bottom"].to(ref.device)],
            "rebuilt top": search.inverted["top"], "rebuilt bottom": search.inverted["bottom"],
            "plain draws": samples}
    if blocks:
        sets["best of 64 draws by the unit"] = samples[best]
    rows, scores = {}, {}
    for label, feats in sets.items():
        rows[label], scores[label] = row(adapter, unit, probes, halfway, feats)
    result = {"halfway": halfway, "real": real, "inversion": search.summary["gan_inverted"],
              "rows": rows,
              "draw_quantiles": {name: {str(q): float(s.quantile(q)) for q in (0.5, 0.9, 0.99)}
                                 for name, s in scores["plain draws"].items()}}
    if sb.utils.distributed.if_main_process():
        write_json(os.path.join(hparams["output_folder"], "diagnosis.json"), result, indent=1)
        table = markdown(rows, halfway)
        write_text(os.path.join(hparams["output_folder"], "diagnosis.md"), table)
        print(table)
