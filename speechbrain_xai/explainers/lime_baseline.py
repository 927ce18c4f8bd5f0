"""LIME on the same components, fill and classifier as the genetic explainer.

The baseline of the genetic explainer's benchmark: ``lime``'s ``LimeBase``
(exponential kernel of width 0.25 on the cosine distance to the unperturbed
genome, Ridge surrogate, ``num_samples`` 1000 random genomes keeping each
component with probability 0.5, the first sample being the unperturbed clip,
as ``lime_image`` does) fitted to the target probability of perturbations
built by :class:`speechbrain_xai.components.PerturbationScorer`. LIME
explains one clip at a time and classifies its samples ``batch_size`` at a
time (lime's default 10).

The explanation keeps the ``num_selected`` components with the largest
surrogate weights (per clip; default: every component with a positive
weight); ``details`` hold all the weights (``component_scores``).

Needs the optional ``lime`` package: ``pip install speechbrain_xai[lime]``.

Example
-------
>>> import torch
>>> from speechbrain_xai import ClassifierAdapter
>>> box = ClassifierAdapter.from_module(torch.nn.Linear(8000, 2), sample_rate=16000)
>>> lime_exp = LimeExplainer(box, n_time=4, n_bands=2, num_samples=50, num_selected=3)
>>> exp = lime_exp.explain(torch.randn(1, 8000))
>>> exp.details[0]["num_selected"], exp.details[0]["evaluations"]
(3, 50)
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from speechbrain_xai.components import PerturbationScorer, batch_component_maps
from speechbrain_xai.explainers.base import Attribution, Explainer, check_fill, register_explainer
from speechbrain_xai.explainers.genetic import selection_attribution


def _lime_base():
    try:
        from lime.lime_base import LimeBase
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "The LIME baseline needs the 'lime' package: pip install speechbrain_xai[lime] "
            "(or pip install lime)."
        ) from err
    return LimeBase


@register_explainer("lime")
class LimeExplainer(Explainer):
    """LIME over interpretable components (see module docstring).

    Arguments
    ---------
    adapter : ClassifierAdapter
        The explained classifier.
    components, n_time, n_bands, component_map, fill, path
        As in :class:`speechbrain_xai.explainers.genetic.GeneticExplainer`.
    num_samples : int
        Perturbations per clip (lime's default 1000), the first unperturbed.
    kernel_width : float
        Width of lime's exponential kernel on the cosine distance.
    batch_size : int
        Perturbations per forward pass (lime's default 10).
    num_selected : int, optional
        Components kept per clip (None: those with a positive surrogate weight).
    seed : int
        Seed of the sampling (and of the noise fill).
    """

    def __init__(self, adapter, components: str = "grid", n_time: int = 8, n_bands: int = 4,
                 component_map=None, fill: str = "zero", num_samples: int = 1000,
                 kernel_width: float = 0.25, batch_size: int = 10, path: str = "istft",
                 num_selected: Optional[int] = None, seed: int = 0):
        super().__init__(adapter)
        if num_samples < 2:
            raise ValueError("num_samples must be at least 2.")
        if num_selected is not None and int(num_selected) < 1:
            raise ValueError(f"num_selected must be None or >= 1, got {num_selected!r}.")
        self.components, self.n_time, self.n_bands = components, n_time, n_bands
        self.component_map, self.fill, self.path = component_map, check_fill(fill), path
        self.num_samples, self.kernel_width = num_samples, kernel_width
        self.batch_size, self.num_selected, self.seed = batch_size, num_selected, seed

    def _kernel(self, distances):
        return np.sqrt(np.exp(-(distances ** 2) / self.kernel_width ** 2))

    @torch.no_grad()
    def compute(self, wavs, wav_lens, target, probs) -> Attribution:
        """One clip at a time, as LIME does."""
        from sklearn.metrics import pairwise_distances

        LimeBase = _lime_base()
        maps, num_genes = batch_component_maps(self.components, wav_lens, wavs.shape[1],
                                               self.adapter.stft_config, self.n_time, self.n_bands,
                                               self.component_map)
        scorer = PerturbationScorer(self.adapter, wavs, wav_lens, target, maps, self.fill, self.path,
                                    self.batch_size, self.seed)
        genomes, details = [], []
        for b in range(wavs.shape[0]):
            rng = np.random.RandomState(self.seed)
            data = rng.randint(0, 2, (self.num_samples, num_genes)).astype(bool)
            data[0] = True
            clips = torch.full((self.num_samples,), b, dtype=torch.long)
            scores = scorer.score(clips, torch.from_numpy(data)).double().numpy()
            distances = pairwise_distances(data, data[:1], metric="cosine").ravel()
            base = LimeBase(self._kernel, verbose=False, random_state=rng)
            _, weights_list, score, _ = base.explain_instance_with_data(
                data.astype(float), scores[:, None], distances, 0, num_genes, feature_selection="none"
            )
            weights = np.zeros(num_genes)
            for k, w in weights_list:
                weights[k] = w
            order = np.argsort(-weights, kind="stable")
            k_sel = int((weights > 0).sum()) if self.num_selected is None else int(self.num_selected)
            genome = torch.zeros(num_genes, dtype=torch.bool)
            genome[torch.from_numpy(order[:k_sel].copy())] = True
            genomes.append(genome)
            details.append({
                "genome": genome.int().tolist(), "num_selected": k_sel,
                "num_components": num_genes, "component_scores": weights.tolist(),
                "surrogate_r2": float(score), "evaluations": int(scorer.evaluations[b]),
            })
        return selection_attribution(torch.stack(genomes), maps, details)
