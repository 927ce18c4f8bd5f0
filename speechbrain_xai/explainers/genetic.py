"""Evolved local explanations: a genetic algorithm over interpretable components.

After E-LIME (Wang, Pei, Xue, Zhang, 2022, arXiv 2211.15143), adapted to
audio. Instead of fitting a linear surrogate to random perturbations (LIME),
a genetic algorithm evolves binary genomes over the components of one clip
(time x mel-band patches, time segments, or a user map; see
:mod:`speechbrain_xai.components`) so that the kept components alone preserve
the classifier's decision and the removed ones alone do not, with a pressure
toward few components:

    fitness = s(p_c(kept)) - sparsity_weight * (kept components / K)
              [+ deletion_weight * (p_c(input) - p_c(removed))]

where ``s`` is the log-odds (default, ``fitness_scale="log_odds_in"``: a
confident classifier's probabilities saturate near 1, where the log-odds still
tell a kept set at 0.9999 from one at 0.995) or the probability itself. The
log-odds come from the classifier's logits
(:func:`speechbrain_xai.components.target_log_odds`), so they do not saturate
where the probability rounds to 1.

Each generation is one round of forward passes for every clip of the batch
(all clips' new genomes share them, ``chunk_size`` perturbations at a time),
so the search is built to need few generations:

1. The first generation is deterministic (``init="ranked"``): all components
   (the input itself: no evaluation), each time segment alone and each mel
   band alone, and, with the deletion term, each segment and each band
   removed (the complements). Their results give every component an additive
   score (segment + band) and so a first ranking.
2. The second generation: the top-ranked prefixes of that ranking
   (``prefix_sizes``), pruning candidates (the best genome minus its
   lowest-ranked components, ``prune``), trimming candidates (the best
   genome minus its weakest whole time segments, ``trim``) and children bred
   by selection, crossover and mutation, up to ``population_size`` genomes.
3. Later generations: prefixes of the refined ranking, a ridge regression of
   the log-odds on every genome evaluated so far, divided by each component's
   share of the bins (the prefixes cover the ``refined_prefix_areas``
   fractions of the clip's bins: at equal weight, small components first),
   pruning candidates and children.

Every evaluated genome and its complement are candidates (the deletion term
evaluates both). Starting every seed from the same informed genomes makes the
explanations stable across seeds; the informed prefixes make them good with a
few dozen evaluations (LIME's random perturbations need about 1000).
Genomes seen before are not re-evaluated; a clip stops when its best fitness
has not improved for ``patience`` generations, after ``max_generations``, or
when its budget of ``max_evaluations`` is spent. Each clip has its own random
stream from ``seed`` and its audio (:func:`~speechbrain_xai.explainers.base.clip_generators`),
so the same seed gives the same explanation whatever batch the clip is in.

Operators are plain functions, replaceable (``!name:`` in YAML):

* selection ``(population [P, K], fitness [P], num, generator) -> [num, K]``
* crossover ``(parents_a [N, K], parents_b [N, K], generator) -> [N, K]``
* mutation ``(genomes [N, K], generator) -> [N, K]``
* elitism ``(population [P, K], fitness [P], num) -> [num, K]``

Example
-------
>>> import torch
>>> from speechbrain_xai.adapter import ClassifierAdapter
>>> net = torch.nn.Sequential(torch.nn.Linear(8000, 2))
>>> adapter = ClassifierAdapter.from_module(net, sample_rate=16000)
>>> explainer = GeneticExplainer(adapter, n_time=4, n_bands=2, seed=0)
>>> exp = explainer.explain(torch.randn(2, 8000))
>>> exp.mask.shape, exp.method, sorted(exp.details[0])[:3]
(torch.Size([2, 51, 201]), 'ga', ['component_scores', 'evaluations', 'fitness'])
>>> bool(((exp.mask == 0) | (exp.mask == 1)).all())
True
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Dict, List, Optional

import torch
from speechbrain.utils.logger import get_logger

from speechbrain_xai.components import (
    PerturbationScorer,
    batch_component_maps,
    component_importance,
    component_masks,
    target_log_odds,
)
from speechbrain_xai.explainers.base import (
    Attribution,
    Explainer,
    check_fill,
    clip_generators,
    register_explainer,
)

logger = get_logger(__name__)

INITS = ("ranked", "structured", "random")
FITNESS_SCALES = ("probability", "log_odds", "log_odds_in")
LOG_ODDS_EPS = 1e-6  # probabilities are clipped to [eps, 1 - eps] before the log-odds
LOG_ODDS_CLIP = math.log((1.0 - LOG_ODDS_EPS) / LOG_ODDS_EPS)  # the same clip on log-odds


# --------------------------------------------------------------------------
# Default operators (module-level, replaceable)
# --------------------------------------------------------------------------
def tournament_selection(population: torch.Tensor, fitness: torch.Tensor, num: int,
                         generator: torch.Generator, size: int = 3) -> torch.Tensor:
    """Picks ``num`` parents, each the fittest of ``size`` random members (ties: lowest index)."""
    contestants = torch.randint(population.shape[0], (num, size), generator=generator)
    winner = torch.gather(contestants, 1, fitness[contestants].argmax(dim=1, keepdim=True))
    return population[winner.squeeze(1)]


def rank_selection(population: torch.Tensor, fitness: torch.Tensor, num: int,
                   generator: torch.Generator) -> torch.Tensor:
    """Picks ``num`` parents with probability proportional to their fitness rank."""
    ranks = torch.empty(fitness.shape[0])
    ranks[torch.sort(fitness, stable=True).indices] = torch.arange(1.0, fitness.shape[0] + 1)
    return population[torch.multinomial(ranks, num, replacement=True, generator=generator)]


def uniform_crossover(parents_a: torch.Tensor, parents_b: torch.Tensor,
                      generator: torch.Generator, rate: float = 0.9) -> torch.Tensor:
    """With probability ``rate`` a child takes each gene from either parent at random,
    otherwise it copies ``parents_a``."""
    swap = torch.rand(parents_a.shape, generator=generator) < 0.5
    cross = torch.rand(parents_a.shape[0], 1, generator=generator) < rate
    return torch.where(swap & cross, parents_b, parents_a)


def one_point_crossover(parents_a: torch.Tensor, parents_b: torch.Tensor,
                        generator: torch.Generator, rate: float = 0.9) -> torch.Tensor:
    """With probability ``rate`` a child takes the genes after a random cut from ``parents_b``."""
    num, genes = parents_a.shape
    cut = torch.randint(1, max(2, genes), (num, 1), generator=generator)
    cross = torch.rand(num, 1, generator=generator) < rate
    after = torch.arange(genes)[None] >= cut
    return torch.where(after & cross, parents_b, parents_a)


def bit_flip_mutation(genomes: torch.Tensor, generator: torch.Generator,
                      rate: Optional[float] = None) -> torch.Tensor:
    """Flips each gene with probability ``rate`` (default ``1 / K``)."""
    rate = 1.0 / genomes.shape[1] if rate is None else rate
    return genomes ^ (torch.rand(genomes.shape, generator=generator) < rate)


def best_elitism(population: torch.Tensor, fitness: torch.Tensor, num: int) -> torch.Tensor:
    """The ``num`` fittest members, unchanged (ties: lowest index)."""
    order = torch.sort(fitness, descending=True, stable=True).indices
    return population[order[:num]]


# --------------------------------------------------------------------------
# Per-clip search state
# --------------------------------------------------------------------------
@dataclasses.dataclass
class _ClipSearch:
    generator: torch.Generator
    log_odds: Dict[bytes, float]  # genome key -> log-odds of p_c keeping that genome's components
    area: torch.Tensor  # (K,) each component's share of the clip's bins
    population: Optional[torch.Tensor] = None  # (P, K) bool: the last generation and the elites
    fitness: Optional[torch.Tensor] = None  # (P,)
    best_genome: Optional[torch.Tensor] = None
    best_fitness: float = float("-inf")
    stall: int = 0
    generations: int = 0
    done: bool = False
    history: List[float] = dataclasses.field(default_factory=list)
    order: Optional[torch.Tensor] = None  # (K,) components by the first generation's ranking
    segment_values: Optional[torch.Tensor] = None  # (n_time,) first-generation contrast per segment


def _key(genome: torch.Tensor) -> bytes:
    return genome.numpy().tobytes()


def _unique(genomes: torch.Tensor) -> torch.Tensor:
    """The rows of ``genomes`` ``[N, K]``, each once, in order of first appearance."""
    seen, rows = set(), []
    for i, genome in enumerate(genomes):
        k = _key(genome)
        if k not in seen:
            seen.add(k)
            rows.append(i)
    return genomes[rows]


def _prefixes(order: torch.Tensor, sizes) -> torch.Tensor:
    """Genomes ``[len(sizes), K]`` keeping the first ``k`` components of ``order``, for each ``k``."""
    out = torch.zeros(len(sizes), order.shape[0], dtype=torch.bool)
    for row, k in enumerate(sizes):
        out[row, order[:k]] = True
    return out


@register_explainer("ga")
class GeneticExplainer(Explainer):
    """Evolves a binary choice of components per clip (see module docstring).

    Each explanation's ``details`` hold, per clip, the genome, the number of
    selected components, the fitness (and its history), the component scores,
    the generations and the model evaluations; its ``importance`` ranks the
    selected components first (each group ordered by the component scores),
    for deletion / insertion curves. The component scores are the ridge
    weights of the log-odds on the kept components, fitted on every
    evaluation of the search (no extra ones).

    Arguments
    ---------
    adapter : ClassifierAdapter
        The explained classifier (any adapter: the GA is model-agnostic).
    components : str
        ``"grid"`` (time x mel bands), ``"time"`` (time segments) or ``"map"``.
    n_time, n_bands : int
        Grid size (``n_bands`` ignored for ``"time"``).
    component_map : torch.Tensor, optional
        User map ``[T, F]`` (or ``[B, T, F]``) with ``components="map"``.
    fill : str
        What replaces removed components: ``"zero"``, ``"mean"``, ``"noise"``.
    population_size : int
        New genomes of each generation after the first (prefixes, pruning
        candidates and children together; the elites are carried over for
        breeding and cost nothing). With ``init="structured"`` or
        ``"random"`` also the size of the first generation.
    max_generations : int
        Generations, the first included: each is one round of forward passes.
    max_evaluations : int
        Model evaluations per clip (the unperturbed clip is not one: its
        probability comes with the input's).
    sparsity_weight : float
        ``lambda``: fitness penalty per fraction of components kept (in
        log-odds units with ``fitness_scale="log_odds_in"``).
    deletion_weight : float
        ``beta``: weight of the drop on the masked-out input. Each genome
        then costs two evaluations (kept and removed); 0 halves the cost but
        selects merely sufficient components, which rank worse on deletion
        curves.
    elite : int
        Fittest genomes carried into the next generation's parent pool.
    patience, tol : int, float
        Early stop after ``patience`` generations without a gain above ``tol``.
    init_keep : float
        Probability that a gene of the random genomes of ``init="structured"``
        and ``"random"`` is 1.
    init : str
        ``"ranked"`` (default): the deterministic first generation and
        prefixes of the module docstring. ``"structured"``: the same first
        genomes filled up to ``population_size`` with random ones, no
        prefixes in the second generation. ``"random"``: all-ones and random
        genomes. With ``components="map"`` there are no segments or bands:
        ``"ranked"`` and ``"structured"`` act as ``"random"``.
    prefix_sizes : sequence of float
        With ``init="ranked"``: sizes of the second generation's prefixes of
        the first ranking, as fractions of ``K`` (each rounded, at least one
        component).
    refined_prefix_areas : sequence of float
        From the third generation on: prefixes of the refined ranking that
        cover these fractions of the clip's bins (at least one component
        each). Empty: none.
    prune : int
        Pruning candidates per generation after the first: the best genome so
        far minus its ``j`` lowest-ranked selected components (``j = 1..prune``),
        in the order of the first ranking (seed-independent with
        ``init="ranked"``).
    trim : int
        Trimming candidates per generation after the first: the best genome
        so far without the components of its ``j`` weakest time segments
        (``j = 1..trim``; a segment is weak when keeping it alone raises the
        log-odds least over removing it, in the first generation). Pruning
        drops one patch at a time; trimming drops every band of a segment at
        once, which moves the selection off the times that do not carry the
        decision. Grid and time components only; 0: none.
    fitness_scale : str
        Scale of the probabilities in the fitness: ``"log_odds_in"`` (the
        masked-in probability as log-odds, the masked-out drop as a
        probability), ``"log_odds"`` (both as log-odds) or ``"probability"``.
        Log-odds are clipped to those of ``[1e-6, 1 - 1e-6]``.
    selection, crossover, mutation, elitism : callable
        Operators (module-level defaults; see module docstring).
    chunk_size : int
        Perturbations per forward pass (all clips' genomes share them). The
        masks do not depend on it; on 2 CPU cores 16 was 1.7-2.7x faster than
        64 (2 and 4 s clips, 1 and 2 threads: the larger batches spill the
        caches); on a GPU larger chunks pay.
    path : str
        ``"istft"`` (listenable) or ``"features"`` for fitness evaluation; the
        returned probabilities always come from the listenable path.
    seed : int
        Seed of every random choice (with each clip's audio) and of the noise fill.
    """

    def __init__(self, adapter, components: str = "grid", n_time: int = 8, n_bands: int = 4,
                 component_map=None, fill: str = "zero", population_size: int = 4,
                 max_generations: int = 3, max_evaluations: int = 42,
                 sparsity_weight: float = 2.0, deletion_weight: float = 2.0, elite: int = 2,
                 patience: int = 1, tol: float = 1e-4, init_keep: float = 0.5,
                 init: str = "ranked", prefix_sizes=(0.125, 0.25, 0.375),
                 refined_prefix_areas=(0.06, 0.125), prune: int = 1, trim: int = 0,
                 fitness_scale: str = "log_odds_in",
                 selection: Callable = tournament_selection, crossover: Callable = uniform_crossover,
                 mutation: Callable = bit_flip_mutation, elitism: Callable = best_elitism,
                 chunk_size: int = 16, path: str = "istft", seed: int = 0):
        super().__init__(adapter)
        if population_size < 1 or elite < 0:
            raise ValueError("Need population_size >= 1 and elite >= 0.")
        if max_generations < 1 or max_evaluations < 1 or patience < 1:
            raise ValueError("max_generations, max_evaluations and patience must be >= 1.")
        if prune < 0:
            raise ValueError("prune (pruning candidates per generation) must be >= 0.")
        if trim < 0:
            raise ValueError("trim (trimming candidates per generation) must be >= 0.")
        self.components, self.n_time, self.n_bands = components, n_time, n_bands
        self.component_map = component_map
        self.fill, self.path, self.chunk_size, self.seed = check_fill(fill), path, chunk_size, seed
        self.population_size, self.max_generations = population_size, max_generations
        self.max_evaluations = max_evaluations
        self.sparsity_weight, self.deletion_weight = sparsity_weight, deletion_weight
        self.elite, self.patience, self.tol, self.init_keep = elite, patience, tol, init_keep
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}.")
        for name, fractions in (("prefix_sizes", prefix_sizes), ("refined_prefix_areas", refined_prefix_areas)):
            if any(not 0 < float(f) <= 1 for f in fractions):
                raise ValueError(f"{name} are fractions in (0, 1], got {fractions!r}.")
        self.prefix_sizes = tuple(float(f) for f in prefix_sizes)
        self.refined_prefix_areas = tuple(float(f) for f in refined_prefix_areas)
        if fitness_scale not in FITNESS_SCALES:
            raise ValueError(f"fitness_scale must be one of {FITNESS_SCALES}, got {fitness_scale!r}.")
        self.fitness_scale = fitness_scale
        self.init, self.prune, self.trim = init, prune, trim
        self.selection, self.crossover = selection, crossover
        self.mutation, self.elitism = mutation, elitism

    # ------------------------------------------------------------ fitness
    def _scaled(self, log_odds: float, kept: bool = True) -> float:
        """A log-odds on the fitness scale (``kept``: of a masked-in input)."""
        if self.fitness_scale == "probability" or (self.fitness_scale == "log_odds_in" and not kept):
            return _sigmoid(log_odds)
        return min(max(log_odds, -LOG_ODDS_CLIP), LOG_ODDS_CLIP)

    def fitness_value(self, kept: float, removed: float, full: float, kept_fraction: float) -> float:
        """The fitness of a genome from the target's log-odds on the masked-in
        (``kept``), masked-out (``removed``) and whole (``full``) input, and the
        fraction of components it keeps (the formula of the module docstring).

        >>> ga = GeneticExplainer.__new__(GeneticExplainer)
        >>> ga.fitness_scale, ga.sparsity_weight, ga.deletion_weight = "log_odds_in", 2.0, 2.0
        >>> round(ga.fitness_value(kept=3.0, removed=0.0, full=3.0, kept_fraction=0.25), 3)
        3.405
        """
        value = self._scaled(kept) - self.sparsity_weight * kept_fraction
        if self.deletion_weight:
            value += self.deletion_weight * (self._scaled(full, False) - self._scaled(removed, False))
        return value

    def _fitness(self, s: _ClipSearch, genome: torch.Tensor) -> float:
        """Fitness of an evaluated genome (``-inf`` when it was not evaluated)."""
        kept = s.log_odds.get(_key(genome))
        removed = s.log_odds.get(_key(~genome)) if self.deletion_weight else 0.0
        if kept is None or removed is None:
            return float("-inf")
        return self.fitness_value(kept, removed, s.log_odds[_key(torch.ones_like(genome))],
                                  float(genome.float().mean()))

    # ------------------------------------------------------------ generations
    def _segments(self, num_genes: int) -> int:
        """Time segments of the grid or time components (0 for a user map)."""
        if self.components == "map":
            return 0
        return num_genes // (self.n_bands if self.components == "grid" else 1)

    def _trimmed(self, s: _ClipSearch, num_genes: int) -> torch.Tensor:
        """The best genome without its ``j`` weakest time segments, ``j = 1..trim``."""
        n_seg = self._segments(num_genes)
        if not self.trim or not n_seg or s.segment_values is None:
            return torch.zeros(0, num_genes, dtype=torch.bool)
        segment = torch.arange(num_genes) // (num_genes // n_seg)  # (K,) each component's segment
        used = torch.zeros(n_seg, dtype=torch.bool)
        used[segment[s.best_genome]] = True
        used_ids = used.nonzero().flatten()
        weakest = used_ids[torch.sort(s.segment_values[used_ids], stable=True).indices]
        rows = []
        for j in range(1, min(self.trim, len(weakest) - 1) + 1):
            dropped = torch.isin(segment, weakest[:j])
            rows.append(s.best_genome & ~dropped)
        return torch.stack(rows) if rows else torch.zeros(0, num_genes, dtype=torch.bool)

    def _structured(self, num_genes: int) -> torch.Tensor:
        """Genomes keeping one time segment (all bands) or one band (all segments)."""
        if self.init == "random" or self.components == "map":
            return torch.zeros(0, num_genes, dtype=torch.bool)
        segments = self._segments(num_genes)
        bands = num_genes // segments
        ids = torch.arange(num_genes)
        rows = [ids // bands == t for t in range(segments)]
        cols = [ids % bands == f for f in range(bands)] if bands > 1 else []
        return torch.stack(rows + cols)

    def _first_generation(self, s: _ClipSearch, num_genes: int) -> torch.Tensor:
        """All-ones and the structured genomes; unless ``init="ranked"``, random
        genomes up to ``population_size``."""
        ones = torch.ones(1, num_genes, dtype=torch.bool)
        structured = self._structured(num_genes)
        if self.init == "ranked" and len(structured):
            return torch.cat([ones, structured])
        fill = max(0, self.population_size - 1 - len(structured))
        random = torch.rand(fill, num_genes, generator=s.generator) < self.init_keep
        return torch.cat([ones, structured, random])

    def _first_order(self, s: _ClipSearch, num_genes: int) -> torch.Tensor:
        """Components by decreasing score after the first generation: the
        additive (segment + band) log-odds contrast of keeping minus removing
        for the structured genomes, else the ridge weights."""
        structured = self._structured(num_genes)
        if not len(structured):
            return torch.sort(self._ridge(s, num_genes), descending=True, stable=True).indices
        values = torch.zeros(num_genes, dtype=torch.float64)
        contrast = []
        for genome in structured:
            kept, removed = s.log_odds.get(_key(genome)), s.log_odds.get(_key(~genome))
            # None: the budget ran out before it (a segment never scored ranks last)
            contrast.append(float("-inf") if kept is None else kept - (removed if removed is not None else 0.0))
            if kept is not None:
                values[genome] += contrast[-1]
        s.segment_values = torch.tensor(contrast[:self._segments(num_genes)], dtype=torch.float64)
        return torch.sort(values, descending=True, stable=True).indices

    def _next_generation(self, s: _ClipSearch, num_genes: int) -> torch.Tensor:
        """Prefixes (of the first or the refined ranking), pruning candidates, children."""
        parts = []
        if s.generations == 1 and self.init == "ranked" and len(self._structured(num_genes)):
            parts.append(_prefixes(s.order, sorted({max(1, round(f * num_genes)) for f in self.prefix_sizes})))
        if s.generations >= 2 and self.refined_prefix_areas:
            # per bin: the prefixes cover a share of the bins, small components first at equal weight
            order = torch.sort(self._ridge(s, num_genes) / s.area, descending=True, stable=True).indices
            covered = s.area[order].cumsum(0)
            parts.append(_prefixes(order, sorted({max(1, int((covered <= f + 1e-9).sum()))
                                                  for f in self.refined_prefix_areas})))
        selected = s.best_genome.nonzero().flatten()
        if self.prune and len(selected) > 1:
            rank = torch.empty(num_genes, dtype=torch.long)
            rank[s.order] = torch.arange(num_genes)
            weakest = selected[torch.sort(rank[selected], descending=True, stable=True).indices]
            pruned = s.best_genome.expand(min(self.prune, len(selected) - 1), -1).clone()
            for j in range(len(pruned)):
                pruned[j:, weakest[j]] = False  # row j drops the j + 1 weakest
            parts.append(pruned)
        parts.append(self._trimmed(s, num_genes))
        n_child = max(0, self.population_size - sum(len(p) for p in parts))
        if n_child:
            parents = self.selection(s.population, s.fitness, 2 * n_child, s.generator)
            children = self.crossover(parents[:n_child], parents[n_child:], s.generator)
            parts.append(self.mutation(children, s.generator).bool())
        return torch.cat(parts)

    # ------------------------------------------------------------ evaluation
    def _requests(self, s: _ClipSearch, candidates: torch.Tensor, budget: int) -> List[torch.Tensor]:
        """New genomes to evaluate for ``candidates`` (each with its complement
        under the deletion term), as many candidates as ``budget`` allows."""
        out, planned = [], set(s.log_odds)
        for genome in candidates:
            need = [g for g in ((genome, ~genome) if self.deletion_weight else (genome,))
                    if _key(g) not in planned]
            if len(out) + len(need) > budget:
                break
            planned.update(_key(g) for g in need)
            out += need
        return out

    def _evaluate(self, scorer: PerturbationScorer, searches: List[_ClipSearch],
                  candidates: List[Optional[torch.Tensor]]) -> None:
        """One round: every active clip's new genomes in shared forward passes."""
        clips, genomes = [], []
        for b, (s, cand) in enumerate(zip(searches, candidates)):
            if cand is not None:
                new = self._requests(s, cand, self.max_evaluations - int(scorer.evaluations[b]))
                clips += [b] * len(new)
                genomes += new
        if genomes:
            values = scorer.score(torch.tensor(clips), torch.stack(genomes), log_odds=True).tolist()
            for b, g, v in zip(clips, genomes, values):
                searches[b].log_odds[_key(g)] = v

    def _advance(self, s: _ClipSearch, generation: torch.Tensor, evaluations: int) -> None:
        """Fitness of the generation, the best so far, the stopping rules."""
        if self.deletion_weight:  # each evaluated pair gives two candidates
            generation = _unique(torch.cat([generation, ~generation]))
        fitness = torch.tensor([self._fitness(s, g) for g in generation], dtype=torch.float64)
        evaluated = torch.isfinite(fitness)
        generation, fitness = generation[evaluated], fitness[evaluated]
        s.generations += 1
        gain = False
        if len(fitness):
            i = int(torch.argmax(fitness))  # first maximum
            if float(fitness[i]) > s.best_fitness + self.tol:
                s.best_fitness, s.best_genome, gain = float(fitness[i]), generation[i].clone(), True
        s.stall = 0 if gain else s.stall + 1
        s.history.append(s.best_fitness)
        if s.population is not None and self.elite:
            elites = self.elitism(s.population, s.fitness, self.elite)
            generation = torch.cat([elites, generation])
            fitness = torch.cat([torch.tensor([self._fitness(s, g) for g in elites], dtype=torch.float64),
                                 fitness])
        s.population, s.fitness = generation, fitness
        cost = 2 if self.deletion_weight else 1
        s.done = (s.generations >= self.max_generations or s.stall >= self.patience
                  or evaluations + cost > self.max_evaluations)

    def _ridge(self, s: _ClipSearch, num_genes: int, ridge: float = 1.0) -> torch.Tensor:
        """Per component: its weight in a ridge regression of the (clipped)
        log-odds on the kept components, fitted on every evaluation of the
        search (each evaluated genome is a pair (kept components, log-odds))."""
        keys = list(s.log_odds)
        x = torch.frombuffer(bytearray(b"".join(keys)), dtype=torch.bool).reshape(-1, num_genes).double()
        y = torch.tensor([_clip(s.log_odds[k]) for k in keys], dtype=torch.float64)
        x, y = x - x.mean(0), y - y.mean()
        gram = x.T @ x + ridge * torch.eye(num_genes, dtype=torch.float64)
        return torch.linalg.solve(gram, x.T @ y)

    @torch.no_grad()
    def compute(self, wavs, wav_lens, target, probs) -> Attribution:
        maps, num_genes = batch_component_maps(self.components, wav_lens, wavs.shape[1],
                                               self.adapter.stft_config, self.n_time, self.n_bands,
                                               self.component_map)
        scorer = PerturbationScorer(self.adapter, wavs, wav_lens, target, maps, self.fill, self.path,
                                    self.chunk_size, self.seed)
        # log-odds of the input from its probabilities: log p is a valid logit vector
        input_log_odds = target_log_odds(probs.double().log(), target).cpu().tolist()
        bins = [torch.bincount(m[m >= 0].flatten().cpu(), minlength=num_genes).clamp_min(1).double()
                for m in maps]  # (K,) bins of each component, per clip
        ones = _key(torch.ones(num_genes, dtype=torch.bool))
        searches = [_ClipSearch(generator=g, log_odds={ones: lo}, area=n / n.sum())  # the input needs
                    for g, lo, n in zip(clip_generators(wavs, wav_lens, self.seed),  # no evaluation
                                        input_log_odds, bins)]
        candidates = [self._first_generation(s, num_genes) for s in searches]
        while True:
            self._evaluate(scorer, searches, candidates)
            for b, (s, cand) in enumerate(zip(searches, candidates)):
                if cand is not None:
                    self._advance(s, cand, int(scorer.evaluations[b]))
                    if s.order is None:
                        s.order = self._first_order(s, num_genes)
            if all(s.done for s in searches):
                break
            candidates = [None if s.done else self._next_generation(s, num_genes) for s in searches]
        genomes = torch.stack([s.best_genome for s in searches])  # (B, K)
        details = [{
            "genome": s.best_genome.int().tolist(),
            "num_selected": int(s.best_genome.sum()),
            "num_components": num_genes,
            "fitness": s.best_fitness,
            "fitness_history": s.history,
            "component_scores": self._ridge(s, num_genes).tolist(),
            "generations": s.generations,
            "evaluations": int(scorer.evaluations[b]),
        } for b, s in enumerate(searches)]
        return selection_attribution(genomes, maps, details)


def _clip(log_odds: float) -> float:
    return min(max(log_odds, -LOG_ODDS_CLIP), LOG_ODDS_CLIP)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def ranking_values(genome: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Component values ``[K]`` that rank components for deletion / insertion
    curves: the selected ones first, each group ordered by ``scores``.

    >>> ranking_values(torch.tensor([1, 0, 1]), torch.tensor([0.0, 2.0, 1.0])).tolist()
    [1.0, 0.5, 1.25]
    """
    scores = scores.double()
    span = (scores.max() - scores.min()).clamp_min(1e-12)
    return genome.double() + 0.5 * (scores - scores.min()) / span


def selection_attribution(genomes: torch.Tensor, maps: torch.Tensor, details: List[Dict]) -> Attribution:
    """The :class:`Attribution` of a component selection: binary masks of
    ``genomes [B, K]`` on ``maps [B, T, F]``, and the importance of
    :func:`ranking_values` (from ``details[b]["component_scores"]``)."""
    values = torch.stack([ranking_values(genomes[b], torch.tensor(d["component_scores"]))
                          for b, d in enumerate(details)])
    masks = component_masks(genomes.to(maps.device), maps)
    return Attribution(masks, component_importance(values, maps), details)
