"""Automatic selection of activation-maximisation settings (Mishra et al., 2019).

Every setting of a search (:mod:`speechbrain_xai.explainers.activation_maximization`)
is scored as in the paper: the Fréchet distance between the unit's
activations on the setting's generated examples and on the real excerpts
that most (maximisation) or least (minimisation) activate it, optionally also
over a layer's pooled activation vectors. The lowest distance wins; this
rejects runaway settings whose activations are far beyond anything real data
produces.

Example
-------
>>> import torch
>>> from speechbrain_xai.explainers.activation_maximization import AMSetting, SearchResult
>>> real_acts = torch.linspace(-3, 3, 100)
>>> settings = [AMSetting(10, 1.0, 0.0), AMSetting(10, 0.01, 0.1)]
>>> acts = torch.stack([40 + torch.randn(8), 2.8 + 0.1 * torch.randn(8)])  # runaway, realistic
>>> result = SearchResult(settings, list(range(8)), torch.zeros(2, 8, 4, 3), torch.zeros(2, 8, 2),
...                       acts, torch.zeros(2, 8), torch.zeros(2, 8, dtype=torch.long))
>>> rows = rank_settings(result, torch.zeros(100, 4, 3), real_acts, n_reference=10)
>>> [(r["setting"], r["rank"], r["selected"]) for r in rows]
[('max_steps10_lr0.01_pen0.1', 1, True), ('max_steps10_lr1_pen0', 2, False)]
"""

from __future__ import annotations

from dataclasses import asdict
from typing import List, Optional

import torch

from speechbrain_xai.explainers.activation_maximization import SearchResult, UnitSpec, pool_activations
from speechbrain_xai.metrics import frechet_distance


def classifier_embeddings(adapter, feats: torch.Tensor, layer: str = "embedding_model",
                          batch_size: int = 256) -> torch.Tensor:
    """Pooled activations ``[N, D]`` of ``layer`` (:func:`pool_activations`)
    for excerpts ``[N, T, F]`` in the classifier's feature domain (no gradients)."""
    outs = []
    with torch.no_grad(), adapter.capture([layer]) as reps:
        for chunk in feats.split(batch_size):
            adapter.logits_from_features(chunk)
            outs.append(pool_activations(reps[layer]).float())
    return torch.cat(outs)


def unit_activations(adapter, unit: UnitSpec, feats: torch.Tensor,
                     batch_size: int = 256) -> torch.Tensor:
    """Unit activations ``[N]`` for excerpts ``[N, T, F]`` (no gradients)."""
    with torch.no_grad():
        return torch.cat([unit(adapter, c).float() for c in feats.split(batch_size)])


def rank_settings(result: SearchResult, real_feats: torch.Tensor, real_acts: torch.Tensor,
                  n_reference: int = 50, adapter=None, layer: Optional[str] = None) -> List[dict]:
    """Scores every setting by the Fréchet distance to the real reference set.

    Arguments
    ---------
    result : SearchResult
        Output of a search.
    real_feats : torch.Tensor
        Real excerpts ``[N, T, F]``.
    real_acts : torch.Tensor
        The unit's activations on them ``[N]`` (:func:`unit_activations`).
    n_reference : int
        The top-``n`` (maximisation) or bottom-``n`` (minimisation) real
        excerpts form the reference set.
    adapter : ClassifierAdapter, optional
        Needed with ``layer``.
    layer : str, optional
        Also compute the distance over this layer's pooled activation vectors.

    Returns
    -------
    list of dict
        One row per setting (setting fields, ``act_mean``, ``act_std``,
        ``fd_unit``, optionally ``fd_layer``, ``rank`` within its direction and
        ``selected``), sorted by direction then distance.
    """
    n_ref = min(int(n_reference), real_acts.numel())
    order = torch.argsort(real_acts, descending=True)
    refs = {"max": order[:n_ref], "min": order[-n_ref:]}
    ref_layer = {}
    rows = []
    for s, setting in enumerate(result.settings):
        ref = refs[setting.direction]
        acts = result.activation[s].double()
        row = {"setting": setting.name, **asdict(setting),
               "act_mean": float(acts.mean()), "act_std": float(acts.std()) if acts.numel() > 1 else 0.0,
               "ref_act_mean": float(real_acts[ref].mean()),
               "fd_unit": frechet_distance(acts, real_acts[ref].double())}
        if layer is not None:
            if setting.direction not in ref_layer:
                ref_layer[setting.direction] = classifier_embeddings(adapter, real_feats[ref], layer)
            gen = classifier_embeddings(adapter, result.features[s].to(real_feats.device), layer)
            ok = min(gen.shape[0], ref.numel()) > gen.shape[1]
            row["fd_layer"] = frechet_distance(gen, ref_layer[setting.direction], min_samples_per_dim=ok)
        rows.append(row)
    for direction in ("max", "min"):
        mine = sorted((r for r in rows if r["direction"] == direction), key=lambda r: r["fd_unit"])
        for rank, r in enumerate(mine, start=1):
            r["rank"], r["selected"] = rank, rank == 1
    return sorted(rows, key=lambda r: (r["direction"], r["rank"]))
