"""Evolved local explanations: a genetic algorithm over interpretable components.

After E-LIME (Wang, Pei, Xue, Zhang, 2022, arXiv 2211.15143), adapted to
audio. Instead of fitting a linear surrogate to random perturbations (LIME),
a genetic algorithm evolves binary genomes over the components of one clip
(time x mel-band patches, time segments, or a user map; see
:mod:`speechbrain_xai.components`) so that the kept components alone preserve
the classifier's decision, with a pressure toward few components:

    fitness = s(p_c(kept)) - sparsity_weight * (kept components / K)
              [+ deletion_weight * (p_c(input) - p_c(removed))]

where ``s`` is the log-odds (default, ``fitness_scale="log_odds_in"``: a
confident classifier's probabilities saturate near 1, where the log-odds still
tell a kept set at 0.9999 from one at 0.995) or the probability itself.

The first generation is deterministic (``init="ranked"``): all components,
each time segment alone and each mel band alone. Their results rank the
components, and the top-ranked prefixes join the second generation; selection,
crossover and mutation then refine from there. Starting every seed from the
same informed genomes is what makes the explanations stable across seeds
(LIME's random perturbations need about 1000 evaluations for that).

The populations of all clips in a batch are evaluated together in forward
passes of ``chunk_size`` perturbations; genomes seen before are not
re-evaluated; a clip stops when its best fitness has not improved for
``patience`` generations, after ``max_generations``, or when its budget of
``max_evaluations`` model evaluations is spent. Each clip has its own random
stream seeded by ``seed``, so the same seed gives the same explanation and a
clip's explanation does not depend on the batch it is in.

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
>>> explainer = GeneticExplainer(adapter, n_time=4, n_bands=2, population_size=8,
...                              max_generations=3, seed=0)
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
)
from speechbrain_xai.explainers.base import Attribution, Explainer, check_fill, register_explainer

logger = get_logger(__name__)

INITS = ("ranked", "structured", "random")
FITNESS_SCALES = ("probability", "log_odds", "log_odds_in")
LOG_ODDS_EPS = 1e-6  # probabilities are clipped to [eps, 1 - eps] before the log-odds


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
    population: torch.Tensor  # (P, K) bool
    cache: Dict[bytes, tuple] = dataclasses.field(default_factory=dict)  # genome -> (p_in, p_out)
    fitness: Optional[torch.Tensor] = None
    best_genome: Optional[torch.Tensor] = None
    best_fitness: float = float("-inf")
    stall: int = 0
    generations: int = 0
    done: bool = False
    history: List[float] = dataclasses.field(default_factory=list)
    structured: Optional[torch.Tensor] = None  # (S, K) the deterministic first genomes
    # keys of the seed-independent genomes (ranked first generation and prefixes)
    seeded: List[bytes] = dataclasses.field(default_factory=list)


def _key(genome: torch.Tensor) -> bytes:
    return genome.numpy().tobytes()


@register_explainer("ga")
class GeneticExplainer(Explainer):
    """Evolves a binary choice of components per clip (see module docstring).

    Each explanation's ``details`` hold, per clip, the genome, the number of
    selected components, the fitness (and its history), the component scores,
    the generations and the model evaluations; its ``importance`` ranks the
    selected components first (each group ordered by the component scores),
    for deletion / insertion curves.

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
    population_size, max_generations : int
        GA size; ``max_evaluations`` caps model evaluations per clip.
    sparsity_weight : float
        ``lambda``: fitness penalty per fraction of components kept (in
        log-odds units with ``fitness_scale="log_odds_in"``).
    deletion_weight : float
        ``beta``: weight of the drop on the masked-out input. Each genome
        then costs two evaluations (kept and removed); 0 halves the cost but
        selects merely sufficient components, which rank worse on deletion
        curves (see the recipe README).
    elite : int
        Members copied unchanged to the next generation.
    patience, tol : int, float
        Early stop after ``patience`` generations without a gain above ``tol``.
    init_keep : float
        Probability that a gene of the random initial genomes is 1; the
        all-ones genome is always in the first population.
    init : str
        ``"ranked"`` (default): the first generation is deterministic, the
        all-ones genome and, for every time segment, the genome keeping only
        that segment (all its bands) and, on a grid, for every band the
        genome keeping only that band. Their results give every component an
        additive score (segment score + band score, a score being ``p_c``
        keeping only that segment or band minus ``p_c`` removing it), and the
        second generation adds the top-``k`` prefixes of that ranking
        (``prefix_sizes``) to the evolved children: the search starts from the
        same informed genomes for every seed, which makes explanations more
        stable across seeds. ``"structured"``: the same deterministic genomes
        in a first population filled up with random genomes, no ranking.
        ``"random"``: random genomes only (plus all-ones). With
        ``components="map"`` there are no segments or bands: ``"ranked"`` and
        ``"structured"`` act as ``"random"``.
    prefix_sizes : sequence of float
        With ``init="ranked"``: sizes of the ranked prefixes as fractions of
        ``K`` (each rounded, at least one component).
    prune : int
        Evaluations reserved for the final pruning: the best genome minus its
        ``j`` lowest-ranked selected components (``j = 1..``), evaluated in one
        batch; the fittest replaces the best when it is at least as fit. The
        order is that of the ridge component scores, fitted with
        ``init="ranked"`` on the seed-independent genomes only (first
        generation and ranked prefixes: the same order for every seed).
    fitness_scale : str
        Scale of the probabilities in the fitness: ``"log_odds_in"`` (the
        masked-in probability as log-odds, the masked-out drop as a
        probability), ``"log_odds"`` (both as log-odds) or ``"probability"``.
        Probabilities are clipped to ``[1e-6, 1 - 1e-6]`` first.
    selection, crossover, mutation, elitism : callable
        Operators (module-level defaults; see module docstring).
    chunk_size : int
        Perturbations per forward pass (all clips' genomes share them).
    path : str
        ``"istft"`` (listenable) or ``"features"`` for fitness evaluation; the
        returned probabilities always come from the listenable path.
    seed : int
        Seed of every random choice (and of the noise fill).
    """

    def __init__(self, adapter, components: str = "grid", n_time: int = 8, n_bands: int = 4,
                 component_map=None, fill: str = "zero", population_size: int = 20,
                 max_generations: int = 12, max_evaluations: int = 66,
                 sparsity_weight: float = 1.0, deletion_weight: float = 1.0, elite: int = 2,
                 patience: int = 3, tol: float = 1e-4, init_keep: float = 0.5,
                 init: str = "ranked", prefix_sizes=(0.125, 0.25, 0.375, 0.5, 0.625),
                 prune: int = 10, fitness_scale: str = "log_odds_in",
                 selection: Callable = tournament_selection, crossover: Callable = uniform_crossover,
                 mutation: Callable = bit_flip_mutation, elitism: Callable = best_elitism,
                 chunk_size: int = 64, path: str = "istft", seed: int = 0):
        super().__init__(adapter)
        if population_size < 2 or not 0 <= elite < population_size:
            raise ValueError("Need population_size >= 2 and 0 <= elite < population_size.")
        if max_generations < 1 or max_evaluations < 1 or patience < 1:
            raise ValueError("max_generations, max_evaluations and patience must be >= 1.")
        self.components, self.n_time, self.n_bands = components, n_time, n_bands
        self.component_map = component_map
        self.fill, self.path, self.chunk_size, self.seed = check_fill(fill), path, chunk_size, seed
        self.population_size, self.max_generations = population_size, max_generations
        self.max_evaluations = max_evaluations
        self.sparsity_weight, self.deletion_weight = sparsity_weight, deletion_weight
        self.elite, self.patience, self.tol, self.init_keep = elite, patience, tol, init_keep
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}.")
        if any(not 0 < float(f) <= 1 for f in prefix_sizes):
            raise ValueError(f"prefix_sizes are fractions of the components in (0, 1], got {prefix_sizes!r}.")
        self.prefix_sizes = tuple(float(f) for f in prefix_sizes)
        if fitness_scale not in FITNESS_SCALES:
            raise ValueError(f"fitness_scale must be one of {FITNESS_SCALES}, got {fitness_scale!r}.")
        self.fitness_scale = fitness_scale
        if not 0 <= prune < max_evaluations:
            raise ValueError("prune (evaluations reserved for pruning) must lie in [0, max_evaluations).")
        self.init, self.prune = init, prune
        self.selection, self.crossover = selection, crossover
        self.mutation, self.elitism = mutation, elitism

    # ---------------------------------------------------------------- search
    def _structured(self, num_genes: int) -> torch.Tensor:
        """Genomes keeping one time segment (all bands) or one band (all segments)."""
        if self.init == "random" or self.components == "map":
            return torch.zeros(0, num_genes, dtype=torch.bool)
        bands = self.n_bands if self.components == "grid" else 1
        ids = torch.arange(num_genes)
        rows = [ids // bands == t for t in range(num_genes // bands)]
        cols = [ids % bands == f for f in range(bands)] if bands > 1 else []
        return torch.stack(rows + cols)

    def _initial(self, num_genes: int) -> _ClipSearch:
        gen = torch.Generator().manual_seed(int(self.seed))
        structured = self._structured(num_genes)
        if self.init == "ranked" and len(structured):
            # a deterministic first generation: all-ones and the structured genomes
            pop = torch.cat([torch.ones(1, num_genes, dtype=torch.bool), structured])
            return _ClipSearch(generator=gen, population=pop, structured=structured,
                               seeded=[_key(g) for g in pop])
        pop = torch.rand(self.population_size, num_genes, generator=gen) < self.init_keep
        pop[0] = True
        structured = structured[: self.population_size - 1]
        pop[1:1 + len(structured)] = structured
        return _ClipSearch(generator=gen, population=pop)

    def _ranked_prefixes(self, s: _ClipSearch, num_genes: int) -> torch.Tensor:
        """Top-``k`` genomes of the additive ranking from the structured genomes' results."""
        values = torch.zeros(num_genes, dtype=torch.float64)
        for genome in s.structured:
            if _key(genome) not in s.cache:  # budget spent before it was evaluated
                continue
            p_in, p_out = s.cache[_key(genome)]
            score = self._scale(p_in) - (self._scale(p_out, False) if self.deletion_weight else 0.0)
            values[genome] += score
        order = torch.sort(values, descending=True, stable=True).indices
        sizes = sorted({max(1, round(f * num_genes)) for f in self.prefix_sizes})
        out = torch.zeros(len(sizes), num_genes, dtype=torch.bool)
        for row, k in enumerate(sizes):
            out[row, order[:k]] = True
        return out

    def _scale(self, p: float, kept: bool = True) -> float:
        """A probability on the fitness scale (``kept``: of a masked-in input)."""
        if self.fitness_scale == "probability" or (self.fitness_scale == "log_odds_in" and not kept):
            return p
        p = min(max(p, LOG_ODDS_EPS), 1.0 - LOG_ODDS_EPS)
        return math.log(p / (1.0 - p))

    def _fitness(self, genome: torch.Tensor, p_in: float, p_out: float, p_input: float) -> float:
        value = self._scale(p_in) - self.sparsity_weight * float(genome.float().mean())
        if self.deletion_weight:
            value += self.deletion_weight * (self._scale(p_input, False) - self._scale(p_out, False))
        return value

    def _prune(self, scorer: PerturbationScorer, searches: List[_ClipSearch], p_input: torch.Tensor,
               num_genes: int):
        """Tries the best genome minus its ``j`` lowest-scored components, all clips in one batch."""
        cost = 2 if self.deletion_weight else 1
        clips, genomes = [], []
        for b, s in enumerate(searches):
            # ridge scores on the seed-independent genomes when there are (the same
            # pruning order for every seed), else on every evaluation
            scores = self._component_scores(s, num_genes, keys=s.seeded or None)
            selected = s.best_genome.nonzero().flatten()
            order = selected[torch.sort(scores[selected], stable=True).indices]
            left = (self.max_evaluations - int(scorer.evaluations[b])) // cost
            candidate = s.best_genome.clone()
            for comp in order[: min(len(order) - 1, left, self.prune // cost)]:
                candidate = candidate.clone()
                candidate[comp] = False
                if _key(candidate) not in s.cache:
                    clips.append(b)
                    genomes.append(candidate)
        for b, g, (pi, po) in zip(clips, genomes, self._score(scorer, searches, clips, genomes)):
            fit = self._fitness(g, pi, po, float(p_input[b]))
            if fit >= searches[b].best_fitness:
                searches[b].best_fitness, searches[b].best_genome = fit, g

    def _score(self, scorer: PerturbationScorer, searches: List[_ClipSearch], clips: List[int],
               genomes: List[torch.Tensor]) -> List[tuple]:
        """Evaluates (clip, genome) pairs in shared chunks and caches ``(p_in, p_out)``."""
        if not genomes:
            return []
        clips_t, genomes_t = torch.tensor(clips), torch.stack(genomes)
        p_in = scorer.score(clips_t, genomes_t).tolist()
        p_out = scorer.score(clips_t, ~genomes_t).tolist() if self.deletion_weight else [0.0] * len(p_in)
        for b, g, pi, po in zip(clips, genomes, p_in, p_out):
            searches[b].cache[_key(g)] = (pi, po)
        return list(zip(p_in, p_out))

    def _evaluate(self, scorer: PerturbationScorer, searches: List[_ClipSearch], p_input: torch.Tensor):
        """Fills ``fitness`` of every active clip, evaluating unseen genomes in shared chunks."""
        clips, genomes = [], []
        for b, s in enumerate(searches):
            if s.done:
                continue
            left = self.max_evaluations - self.prune - int(scorer.evaluations[b])
            cost = 2 if self.deletion_weight else 1
            new = {}
            for g in s.population:
                k = _key(g)
                if k not in s.cache and k not in new and (len(new) + 1) * cost <= left:
                    new[k] = g
            clips += [b] * len(new)
            genomes += list(new.values())
        self._score(scorer, searches, clips, genomes)
        for b, s in enumerate(searches):
            if s.done:
                continue
            fit = []
            for g in s.population:
                hit = s.cache.get(_key(g))
                if hit is None:  # over budget: never evaluated, never selected
                    fit.append(float("-inf"))
                    continue
                fit.append(self._fitness(g, hit[0], hit[1], float(p_input[b])))
            s.fitness = torch.tensor(fit, dtype=torch.float64)

    def _advance(self, searches: List[_ClipSearch], evaluations: torch.Tensor):
        """Bookkeeping (best, early stop, budget) and the next generation of active clips."""
        cost = 2 if self.deletion_weight else 1
        for b, s in enumerate(searches):
            if s.done:
                continue
            s.generations += 1
            i = int(torch.argmax(s.fitness))  # first maximum
            if float(s.fitness[i]) > s.best_fitness + self.tol:
                s.best_fitness, s.best_genome, s.stall = float(s.fitness[i]), s.population[i].clone(), 0
            else:
                s.stall += 1
            s.history.append(s.best_fitness)
            if (s.stall >= self.patience or s.generations >= self.max_generations
                    or int(evaluations[b]) + cost > self.max_evaluations - self.prune):
                s.done = True
                continue
            elites = self.elitism(s.population, s.fitness, self.elite)
            prefixes = torch.zeros(0, elites.shape[1], dtype=torch.bool)
            if s.structured is not None and s.generations == 1:
                prefixes = self._ranked_prefixes(s, elites.shape[1])
                s.seeded += [_key(g) for g in prefixes]
            n_child = max(0, self.population_size - self.elite - len(prefixes))
            parents = self.selection(s.population, s.fitness, 2 * n_child, s.generator)
            children = self.crossover(parents[:n_child], parents[n_child:], s.generator)
            children = self.mutation(children, s.generator)
            s.population = torch.cat([elites, prefixes, children]).bool()

    def _component_scores(self, s: _ClipSearch, num_genes: int, ridge: float = 1.0,
                          keys: Optional[List[bytes]] = None) -> torch.Tensor:
        """Per component: its weight in a ridge regression of ``p_c`` on the kept
        components, fitted on every evaluation of the search (no extra ones):
        each genome gives the pair (kept, ``p_c(kept)``) and, with a deletion
        term, the pair (its complement, ``p_c(removed)``).

        Used to order the pruning and to rank the components inside and
        outside the selection (deletion/insertion curves).
        """
        keys = [k for k in (s.cache if keys is None else keys) if k in s.cache]
        genomes = torch.stack([torch.frombuffer(bytearray(k), dtype=torch.bool) for k in keys])
        genomes = genomes.reshape(-1, num_genes)
        y = torch.tensor([s.cache[k][0] for k in keys], dtype=torch.float64)
        if self.deletion_weight:
            genomes = torch.cat([genomes, ~genomes])
            y = torch.cat([y, torch.tensor([s.cache[k][1] for k in keys], dtype=torch.float64)])
        x = genomes.double()
        x, y = x - x.mean(0), y - y.mean()
        gram = x.T @ x + ridge * torch.eye(num_genes, dtype=torch.float64)
        return torch.linalg.solve(gram, x.T @ y).float()

    @torch.no_grad()
    def compute(self, wavs, wav_lens, target, probs) -> Attribution:
        maps, num_genes = batch_component_maps(self.components, wav_lens, wavs.shape[1],
                                               self.adapter.stft_config, self.n_time, self.n_bands,
                                               self.component_map)
        scorer = PerturbationScorer(self.adapter, wavs, wav_lens, target, maps, self.fill, self.path,
                                    self.chunk_size, self.seed)
        p_input = probs.gather(1, target[:, None]).squeeze(1).cpu()
        searches = [self._initial(num_genes) for _ in range(wavs.shape[0])]
        while not all(s.done for s in searches):
            self._evaluate(scorer, searches, p_input)
            self._advance(searches, scorer.evaluations)
        if self.prune:
            self._prune(scorer, searches, p_input, num_genes)
        genomes = torch.stack([s.best_genome for s in searches])  # (B, K)
        details = [{
            "genome": s.best_genome.int().tolist(),
            "num_selected": int(s.best_genome.sum()),
            "num_components": num_genes,
            "fitness": s.best_fitness,
            "fitness_history": s.history,
            "component_scores": self._component_scores(s, num_genes).tolist(),
            "generations": s.generations,
            "evaluations": int(scorer.evaluations[b]),
        } for b, s in enumerate(searches)]
        return selection_attribution(genomes, maps, details)


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
