"""LIME on the same components, fill and classifier as the genetic explainer.

The baseline of the genetic explainer's benchmark: ``lime``'s ``LimeBase``
(exponential kernel of width 0.25 on the cosine distance to the unperturbed
genome, Ridge surrogate, ``num_samples`` 1000 random genomes keeping each
component with probability 0.5, the first sample being the unperturbed clip,
as ``lime_image`` does) fitted to the target probability of perturbations
built by :class:`speechbrain_xai.components.ComponentScorer`. LIME explains
one clip at a time and classifies its samples ``batch_size`` at a time
(lime's default 10).

The explanation keeps the ``num_selected`` components with the largest
surrogate weights (per clip; default: every component with a positive
weight); ``settings["per_clip"]`` holds all the weights.

Needs the optional ``lime`` package: ``pip install speechbrain_xai[lime]``.

Example
-------
>>> import torch
>>> from speechbrain_xai.adapter import ClassifierAdapter
>>> net = torch.nn.Sequential(torch.nn.Linear(8000, 2))
>>> adapter = ClassifierAdapter.from_module(net, sample_rate=16000)
>>> lime_exp = LimeExplainer(adapter, n_time=4, n_bands=2, num_samples=50)
>>> exp = lime_exp.explain(torch.randn(1, 8000), num_selected=3)
>>> int(exp.settings["per_clip"][0]["num_selected"]), exp.settings["per_clip"][0]["evaluations"]
(3, 50)
"""

from __future__ import annotations

import time
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch

from speechbrain_xai.components import FILLS, ComponentScorer, component_masks
from speechbrain_xai.explainers.genetic import explanation_with_fill
from speechbrain_xai.explanation import Explanation


def _lime_base():
    try:
        from lime.lime_base import LimeBase
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "The LIME baseline needs the 'lime' package: pip install speechbrain_xai[lime] "
            "(or pip install lime)."
        ) from err
    return LimeBase


class LimeExplainer:
    """LIME over interpretable components (see module docstring).

    Arguments
    ---------
    classifier : ClassifierAdapter
        The explained classifier.
    components, n_time, n_bands, component_map, fill, path
        As in :class:`speechbrain_xai.explainers.GeneticExplainer`.
    num_samples : int
        Perturbations per clip (lime's default 1000), the first unperturbed.
    kernel_width : float
        Width of lime's exponential kernel on the cosine distance.
    batch_size : int
        Perturbations per forward pass (lime's default 10).
    seed : int
        Seed of the sampling (and of the noise fill).
    """

    def __init__(self, classifier, components: str = "grid", n_time: int = 8, n_bands: int = 4,
                 component_map=None, fill: str = "zero", num_samples: int = 1000,
                 kernel_width: float = 0.25, batch_size: int = 10, path: str = "istft",
                 seed: int = 0):
        if fill not in FILLS:
            raise ValueError(f"Unknown fill {fill!r}; use one of {FILLS}.")
        if num_samples < 2:
            raise ValueError("num_samples must be at least 2.")
        self.adapter = classifier
        self.components, self.n_time, self.n_bands = components, n_time, n_bands
        self.component_map, self.fill, self.path = component_map, fill, path
        self.num_samples, self.kernel_width = num_samples, kernel_width
        self.batch_size, self.seed = batch_size, seed

    def _kernel(self, distances):
        return np.sqrt(np.exp(-(distances ** 2) / self.kernel_width ** 2))

    @torch.no_grad()
    def explain(self, wavs, wav_lens=None, target=None, sample_rate: Optional[int] = None,
                num_selected: Union[None, int, Sequence[int]] = None) -> Explanation:
        """Explains a batch of clips, one clip at a time (as LIME does).

        ``num_selected``: components kept per clip (an int or one per clip);
        None keeps those with a positive surrogate weight.
        """
        from sklearn.metrics import pairwise_distances

        LimeBase = _lime_base()
        start = time.perf_counter()
        scorer, probs_input, num_genes = ComponentScorer.for_explainer(
            self, wavs, wav_lens, target, sample_rate, self.batch_size)
        wavs, maps = scorer.wavs, scorer.maps
        if num_selected is None or isinstance(num_selected, int):
            num_selected = [num_selected] * wavs.shape[0]
        genomes, per_clip = [], []
        for b in range(wavs.shape[0]):
            rng = np.random.RandomState(self.seed)
            data = rng.randint(0, 2, (self.num_samples, num_genes)).astype(bool)
            data[0] = True
            clips = torch.full((self.num_samples,), b, dtype=torch.long)
            probs = scorer.score(clips, torch.from_numpy(data)).double().numpy()
            distances = pairwise_distances(data, data[:1], metric="cosine").ravel()
            base = LimeBase(self._kernel, verbose=False, random_state=rng)
            _, weights_list, score, _ = base.explain_instance_with_data(
                data.astype(float), probs[:, None], distances, 0, num_genes, feature_selection="none"
            )
            weights = np.zeros(num_genes)
            for k, w in weights_list:
                weights[k] = w
            order = np.argsort(-weights, kind="stable")
            k_sel = int((weights > 0).sum()) if num_selected[b] is None else int(num_selected[b])
            genome = torch.zeros(num_genes, dtype=torch.bool)
            genome[torch.from_numpy(order[:k_sel].copy())] = True
            genomes.append(genome)
            per_clip.append({
                "genome": genome.int().tolist(), "num_selected": k_sel,
                "num_components": num_genes, "component_scores": weights.tolist(),
                "surrogate_r2": float(score), "evaluations": int(scorer.evaluations[b]),
            })
        mask = component_masks(torch.stack(genomes).to(maps.device), maps)
        settings: Dict = {
            "components": self.components, "n_time": self.n_time, "n_bands": self.n_bands,
            "fill": self.fill, "num_samples": self.num_samples, "kernel_width": self.kernel_width,
            "batch_size": self.batch_size, "path": self.path, "seed": self.seed,
            "num_components": num_genes, "per_clip": per_clip,
            "search_seconds": time.perf_counter() - start,
        }
        return explanation_with_fill(scorer, mask, probs_input, "lime", settings)
