"""GAN-based activation maximisation (Mishra et al., 2019): the batched search.

Only the latent code ``z`` of a trained spectrogram generator is optimised, so
that a chosen *unit* of the frozen classifier (:class:`UnitSpec`: a class
logit or a hidden channel) is maximised (``a(G(z)) - lambda |z|^2``) or
minimised (``-a(G(z)) - lambda |z|^2``, the same ascent with the sign
flipped), with Adam, keeping the best example seen. Every hyper-parameter
setting (:class:`AMSetting`: steps x learning rate x penalty x direction) and
every seed runs in *one* batched optimisation: the state is
``z [S * K, latent]`` (row ``s * K + k`` is setting ``s`` and seed ``k``),
learning rates, penalties, signs and step budgets are per-row tensors, Adam is
written out on the batch, and a row stops moving once its own step budget is
spent. The best examples of every setting and seed form a
:class:`SearchResult`.

:class:`InputActivationMaximizer` is the no-GAN baseline: the (normalised)
log-mel excerpt itself is optimised, with random time jitter and noise as
robustness transforms.

The rest of the method lives beside this file:

* :mod:`speechbrain_xai.explainers.am_selection`: each setting scored by the
  Fréchet distance to the real excerpts that most / least activate the unit,
  the lowest distance selected;
* :mod:`speechbrain_xai.brains.am_search`: the search run through
  SpeechBrain's ``evaluate()`` (resumable), its report and renders, and the
  recipe steps;
* :mod:`speechbrain_xai.brains.gan`: the generator's training.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from speechbrain.utils.logger import get_logger

from speechbrain_xai.files import torch_load, torch_save
from speechbrain_xai.lobes.folding import fold_batchnorm

logger = get_logger(__name__)


# --------------------------------------------------------------------------
# What is maximised, and how
# --------------------------------------------------------------------------
def pool_activations(out: torch.Tensor, index: Optional[int] = None) -> torch.Tensor:
    """Reduces a layer output to one value per example (``index`` given) or to a
    vector per example (``index=None``).

    ``[B, C, H, W]`` conv maps: channel = dim 1, averaged over the map;
    ``[B, 1, D]`` embeddings and ``[B, D]``: unit ``D``; ``[B, T, D]``
    (SpeechBrain's channels-last sequences): averaged over time.
    """
    if out.dim() == 4:
        vec = out.mean(dim=(2, 3))
    elif out.dim() == 3:
        vec = out[:, 0] if out.shape[1] == 1 else out.mean(dim=1)
    elif out.dim() == 2:
        vec = out
    else:
        raise ValueError(f"Cannot pool a layer output of shape {tuple(out.shape)}.")
    return vec if index is None else vec[:, index]


@dataclass
class UnitSpec:
    """The unit to maximise or minimise.

    Arguments
    ---------
    layer : str, optional
        ``None`` for the class logits, else a name from ``adapter.layer_names()``
        (e.g. ``"embedding_model.blocks.2"``).
    index : int or str
        Class index or name (logits), or channel/unit index (hidden layer).
    relative : bool
        Logits only: use ``logit_c - logsumexp(other logits)``, the log-odds of
        the class (for two classes, the pre-sigmoid output of a binary
        detector, as in the paper).
    """

    layer: Optional[str] = None
    index: Union[int, str] = 0
    relative: bool = False

    def resolve(self, adapter) -> int:
        if isinstance(self.index, str):
            names = adapter.class_names or []
            if self.layer is not None or self.index not in names:
                raise ValueError(f"Unknown class {self.index!r}; classes: {names}.")
            return names.index(self.index)
        return int(self.index)

    def __call__(self, adapter, feats: torch.Tensor) -> torch.Tensor:
        """Unit activation ``[B]`` for classifier-domain excerpts ``[B, T, F]``."""
        idx = self.resolve(adapter)
        if self.layer is None:
            logits = adapter.logits_from_features(feats)
            if not self.relative:
                return logits[:, idx]
            others = torch.cat([logits[:, :idx], logits[:, idx + 1:]], dim=1)
            return logits[:, idx] - torch.logsumexp(others, dim=1)
        with adapter.capture([self.layer]) as reps:
            adapter.logits_from_features(feats)
        return pool_activations(reps[self.layer], idx)

    def __str__(self) -> str:
        where = "logit" if self.layer is None else self.layer
        return f"{where}[{self.index}]" + ("(log-odds)" if self.relative else "")


@dataclass(frozen=True)
class AMSetting:
    """One hyper-parameter setting of the search."""

    steps: int
    lr: float
    penalty: float
    direction: str = "max"

    def __post_init__(self):
        if self.direction not in ("max", "min"):
            raise ValueError(f"direction must be 'max' or 'min', got {self.direction!r}.")
        if self.steps < 0 or self.lr <= 0 or self.penalty < 0:
            raise ValueError(f"Bad setting {self}: need steps >= 0, lr > 0, penalty >= 0.")

    @property
    def name(self) -> str:
        return f"{self.direction}_steps{self.steps}_lr{self.lr:g}_pen{self.penalty:g}"


def setting_grid(steps: Sequence[int], lrs: Sequence[float], penalties: Sequence[float],
                 directions: Sequence[str] = ("max",)) -> List[AMSetting]:
    """All combinations, direction-major (the paper's grid: 3 x 3 x 3).

    Example
    -------
    >>> grid = setting_grid([100, 500], [0.1], [0.1, 0.01], ["max", "min"])
    >>> len(grid), grid[0].name
    (8, 'max_steps100_lr0.1_pen0.1')
    """
    return [AMSetting(int(s), float(lr), float(p), d)
            for d in directions for s in steps for lr in lrs for p in penalties]


@dataclass
class SearchResult:
    """Best examples of a search, ``S`` settings x ``K`` seeds.

    ``features [S, K, T, F]`` (classifier domain), ``params [S, K, ...]`` (the
    optimised variables: latents or normalised excerpts), ``activation``,
    ``objective`` and ``best_step`` ``[S, K]``.
    """

    settings: List[AMSetting]
    seeds: List[int]
    features: torch.Tensor
    params: torch.Tensor
    activation: torch.Tensor
    objective: torch.Tensor
    best_step: torch.Tensor

    def save_setting(self, s: int, folder: str) -> str:
        """Writes setting ``s`` to ``<folder>/<name>.pt`` atomically."""
        path = os.path.join(folder, self.settings[s].name + ".pt")
        torch_save({"setting": asdict(self.settings[s]), "seeds": self.seeds,
                      **{k: getattr(self, k)[s].cpu() for k in _TENSOR_FIELDS}}, path)
        return path

    @classmethod
    def concat_seeds(cls, parts: Sequence["SearchResult"]) -> "SearchResult":
        """One result from searches of the same settings with different seeds
        (e.g. one per process), seeds in the order of ``parts``.

        Example
        -------
        >>> grid = setting_grid([2], [0.1], [0.0])
        >>> part = lambda seeds: SearchResult(grid, seeds, *[torch.zeros(1, len(seeds))] * 5)
        >>> both = SearchResult.concat_seeds([part([0, 1]), part([2])])
        >>> both.seeds, tuple(both.activation.shape)
        ([0, 1, 2], (1, 3))
        """
        if not parts:
            raise ValueError("No search results to concatenate.")
        names = [s.name for s in parts[0].settings]
        if any([s.name for s in p.settings] != names for p in parts):
            raise ValueError("Only results of the same settings can be concatenated.")
        return cls(list(parts[0].settings), [seed for p in parts for seed in p.seeds],
                   **{k: torch.cat([getattr(p, k) for p in parts], dim=1) for k in _TENSOR_FIELDS})

    @classmethod
    def load(cls, folder: str, settings: Sequence[AMSetting]) -> "SearchResult":
        """Gathers saved settings (all must have the same seeds)."""
        parts = [torch_load(os.path.join(folder, s.name + ".pt")) for s in settings]
        return cls(list(settings), parts[0]["seeds"],
                   **{k: torch.stack([p[k] for p in parts]) for k in _TENSOR_FIELDS})


_TENSOR_FIELDS = ("features", "params", "activation", "objective", "best_step")


# --------------------------------------------------------------------------
# The batched search
# --------------------------------------------------------------------------
class LatentActivationMaximizer:
    """Batched latent activation maximisation over settings x seeds.

    Arguments
    ---------
    adapter : ClassifierAdapter
        The frozen classifier (``EncoderPipeline`` layout).
    generator : SpectrogramGenerator
        Trained generator (put in eval mode here: BatchNorm must not mix rows).
    unit : UnitSpec
        The unit to maximise or minimise.
    chunk_size : int
        Rows per forward/backward pass (a memory bound). Results are the same
        computation for any chunk size or batch composition, but float32
        kernels round differently for other batch sizes (about 1e-6 after a
        few steps), and a long optimisation can amplify that.
    betas, eps : Adam constants.
    fold_batchnorm : bool
        Search on frozen copies of the classifier and the generator with each
        BatchNorm folded into the layer before it
        (:func:`speechbrain_xai.lobes.folding.fold_batchnorm`: the eval-mode
        networks, one pass less forward and backward per BatchNorm; rounding
        differs by about 1e-6). The copies are made once and remade when a
        parameter of the networks changes.
    channels_last : bool
        With ``fold_batchnorm``, on CPU: run the copies with channels-last
        weights. Faster convolutions for large batches (a grid of many rows),
        slower for a few rows; float32 rounds differently from the default
        layout, so keep one choice for searches that must agree bit for bit.
    init_candidates : int
        Latents drawn per seed before the search (1: the paper's single
        ``N(0, I)`` start). With ``N > 1`` each seed draws ``N`` codes and
        starts every setting of a direction from the one whose sample drives
        the unit furthest that way (highest activation for ``max``, lowest
        for ``min``): the optimisation begins on a sample the generator
        already makes well, instead of pulling an average one across its
        latent space. The first candidate is the plain start.

    Example
    -------
    >>> import torch
    >>> from speechbrain_xai.lobes.gan import SpectrogramGenerator
    >>> from speechbrain_xai.adapter import ClassifierAdapter
    >>> from speechbrain.lobes.features import Fbank
    >>> from speechbrain_xai.lobes.classifiers import SmallCNN, ClassifierHead
    >>> adapter = ClassifierAdapter.from_modules(Fbank(n_mels=16), SmallCNN(16, (4,), 8),
    ...                                          ClassifierHead(8, 2), sample_rate=16000)
    >>> gen = SpectrogramGenerator(latent_dim=8, frames=16, n_mels=16, channels=(8, 4))
    >>> am = LatentActivationMaximizer(adapter, gen, UnitSpec(index=1))
    >>> res = am.search(setting_grid([3], [0.1, 0.01], [0.01], ["max", "min"]), seeds=[0, 1])
    >>> res.features.shape, res.activation.shape
    (torch.Size([4, 2, 16, 16]), torch.Size([4, 2]))
    """

    def __init__(self, adapter, generator, unit: UnitSpec, chunk_size: int = 512,
                 betas=(0.9, 0.999), eps: float = 1e-8, fold_batchnorm: bool = True,
                 channels_last: bool = False, init_candidates: int = 1):
        if int(init_candidates) < 1:
            raise ValueError(f"init_candidates must be >= 1, got {init_candidates}.")
        self.adapter = adapter
        self.init_candidates = int(init_candidates)
        self.generator = generator.eval()
        self.unit = unit
        self.chunk_size = int(chunk_size)
        self.betas, self.eps = betas, eps
        self.fold_batchnorm, self.channels_last = bool(fold_batchnorm), bool(channels_last)
        self._copies: Dict[tuple, tuple] = {}

    @contextlib.contextmanager
    def _search_networks(self):
        """Runs the block with ``self.adapter`` and ``self.generator`` replaced
        by their folded copies (see ``fold_batchnorm``), cached per state."""
        if not self.fold_batchnorm:
            yield
            return
        adapter, generator = self.adapter, self.generator
        channels_last = self.channels_last and self.device.type == "cpu"
        key = (channels_last, _state_key(adapter), _state_key(generator))
        if key not in self._copies:
            copies = (fold_batchnorm(adapter), fold_batchnorm(generator))
            if channels_last:
                copies = tuple(m.to(memory_format=torch.channels_last) for m in copies)
            self._copies = {key: copies}  # one state is kept: the networks' current one
        self.adapter, self.generator = self._copies[key]
        try:
            yield
        finally:
            self.adapter, self.generator = adapter, generator

    # -- parametrisation (overridden by the input-space baseline)
    stochastic = False  # True when to_features applies random transforms at search steps

    def init_params(self, seeds: Sequence[int]) -> torch.Tensor:
        """Initial latents ``[K, latent_dim]``, ``N(0, I)`` from each seed."""
        return self.candidate_params(seeds, 1)[:, 0]

    def candidate_params(self, seeds: Sequence[int], count: int) -> torch.Tensor:
        """``count`` latents per seed ``[K, count, latent_dim]``; the first of
        each seed is :meth:`init_params`'s."""
        dim = self.generator.latent_dim
        out = []
        for s in seeds:
            g = torch.Generator().manual_seed(int(s))
            out.append(torch.stack([torch.randn(dim, generator=g) for _ in range(count)]))
        return torch.stack(out)

    def start_params(self, seeds: Sequence[int], directions: Sequence[str]
                     ) -> Dict[str, torch.Tensor]:
        """The start of every seed ``[K, ...]`` per direction: :meth:`init_params`,
        or with ``init_candidates > 1`` the candidate whose sample drives the
        unit furthest in that direction (see the class's arguments)."""
        if self.init_candidates == 1:
            start = self.init_params(seeds)
            return {d: start for d in directions}
        cands = self.candidate_params(seeds, self.init_candidates)  # (K, N, dim)
        K, N = cands.shape[:2]
        flat = cands.reshape(K * N, -1).to(self.device)
        with torch.no_grad():
            acts = torch.cat([self.unit(self.adapter, self.to_features(c, -1))
                              for c in flat.split(self.chunk_size)]).view(K, N).cpu()
        out = {}
        for d in directions:
            pick = (acts.argmax(1) if d == "max" else acts.argmin(1))
            out[d] = cands[torch.arange(K), pick]
        return out

    def search_starts(self, seeds: Sequence[int], directions: Sequence[str]
                      ) -> Dict[str, torch.Tensor]:
        """:meth:`start_params` on the networks the search runs on (see
        ``fold_batchnorm``): the starts a :meth:`search` of these seeds uses."""
        with self._search_networks():
            return self.start_params(seeds, directions)

    def to_features(self, params: torch.Tensor, step: int) -> torch.Tensor:
        return self.generator(params)

    def prior(self, params: torch.Tensor) -> torch.Tensor:
        """The penalised norm ``|z|^2`` per row."""
        return params.pow(2).flatten(1).sum(1)

    @property
    def device(self) -> torch.device:
        return next(self.generator.buffers()).device

    def _key(self, settings, seeds) -> str:
        text = repr(([s.name for s in settings], list(seeds), str(self.unit), type(self).__name__,
                     "tracks-v2") + ((self.init_candidates,) if self.init_candidates > 1 else ()))
        return hashlib.sha1(text.encode()).hexdigest()[:16]

    @staticmethod
    def tracks(settings: Sequence[AMSetting]) -> Tuple[List[AMSetting], List[int]]:
        """Groups settings that differ only in their step budget.

        A setting with budget ``n`` follows exactly the first ``n`` steps of
        the same (learning rate, penalty, direction) with a larger budget
        (Adam does not depend on the budget, and the best example is tracked
        per budget), so each group is optimised once, for its largest budget.

        Returns
        -------
        tracks : list of AMSetting
            One per group, with the group's largest budget.
        track_of : list of int
            The track index of every setting.
        """
        index: Dict[tuple, int] = {}
        tracks, track_of = [], []
        for s in settings:
            key = (s.lr, s.penalty, s.direction)
            if key not in index:
                index[key] = len(tracks)
                tracks.append(s)
            elif s.steps > tracks[index[key]].steps:
                tracks[index[key]] = s
            track_of.append(index[key])
        return tracks, track_of

    def search(self, settings: Sequence[AMSetting], seeds: Sequence[int],
               checkpoint_path: Optional[str] = None, checkpoint_every: int = 50,
               callback: Optional[Callable[[int], None]] = None) -> SearchResult:
        """Runs every setting with every seed as one batched optimisation.

        Settings that differ only in their number of steps share one
        optimisation (see :meth:`tracks`): the paper's grid of 3 budgets x 3
        learning rates x 3 penalties costs 9 runs of the largest budget per
        seed and direction, with the best example kept for each budget.

        Arguments
        ---------
        settings : list of AMSetting
            ``S`` settings (steps, lr, penalty, direction).
        seeds : list of int
            ``K`` seeds; seed ``k`` gives the same start for every setting.
        checkpoint_path : str, optional
            File for the search state, written every ``checkpoint_every``
            steps; an existing state for the same settings, seeds and unit is
            resumed.
        callback : callable, optional
            Called with the step index after each step (progress, interruption).

        Returns
        -------
        SearchResult
        """
        settings, seeds = list(settings), [int(s) for s in seeds]
        if not settings or not seeds:
            raise ValueError("Give at least one setting and one seed.")
        with self._search_networks():
            return self._search(settings, seeds, checkpoint_path, checkpoint_every, callback)

    def _search(self, settings, seeds, checkpoint_path, checkpoint_every, callback) -> SearchResult:
        S, K, dev = len(settings), len(seeds), self.device
        tracks, track_of = self.tracks(settings)
        T = len(tracks)

        def per_row(values, dtype=torch.float32):
            return torch.tensor(values, dtype=dtype, device=dev).repeat_interleave(K)

        lr = per_row([s.lr for s in tracks])
        pen = per_row([s.penalty for s in tracks])
        sign = per_row([1.0 if s.direction == "max" else -1.0 for s in tracks])
        budget = per_row([s.steps for s in tracks], torch.long)  # (T * K,)
        # the same budgets on the host: which rows run at a step is known without
        # asking the device (no synchronisation inside the loop)
        row_budget = [s.steps for s in tracks for _ in range(K)]
        budget_ends = set(row_budget)
        # setting row s * K + k reads track row track_of[s] * K + k
        source = (per_row(track_of, torch.long) * K
                  + torch.arange(K, device=dev).repeat(S))
        setting_budget = per_row([s.steps for s in settings], torch.long)  # (S * K,)
        starts = self.start_params(seeds, sorted({s.direction for s in tracks}))  # (K, ...) each
        params = torch.cat([starts[s.direction] for s in tracks]).to(dev)  # (T * K, ...), row t * K + k
        state = {"step": 0, "params": params, "m": torch.zeros_like(params),
                 "v": torch.zeros_like(params),
                 "best_params": params[source].clone(),
                 "best_obj": torch.full((S * K,), -math.inf, device=dev),
                 "best_step": torch.zeros(S * K, dtype=torch.long, device=dev)}
        key = self._key(settings, seeds)
        if checkpoint_path and os.path.isfile(checkpoint_path):
            saved = torch_load(checkpoint_path, map_location=dev)
            if saved.get("key") == key:
                state = {k: v for k, v in saved.items() if k != "key"}
                logger.info("Resuming the search at step %d from %s", state["step"], checkpoint_path)
            else:
                logger.warning("Ignoring %s: it belongs to another search.", checkpoint_path)
        b1, b2 = self.betas
        max_steps = max(row_budget)
        logger.info("Search: %d settings x %d seeds as %d tracks (%d rows), up to %d steps",
                    S, K, T, T * K, max_steps)
        chunks: List[Tuple[torch.Tensor, bool]] = []
        ones = [1] * (params.dim() - 1)
        for t in range(state["step"], max_steps + 1):
            if checkpoint_path and t > 0 and t % checkpoint_every == 0 and t != state["step"]:
                state["step"] = t
                torch_save({**state, "key": key}, checkpoint_path)
            if not chunks or (t - 1) in budget_ends:  # the rows still running changed
                chunks = _row_chunks(row_budget, t, self.chunk_size, dev)
            grads = torch.zeros_like(state["params"])
            obj_t = torch.full((T * K,), -math.inf, device=dev)
            for chunk, moving in chunks:
                p = state["params"][chunk].detach().requires_grad_(True)
                with torch.enable_grad():
                    act = self.unit(self.adapter, self.to_features(p, t))
                    obj = sign[chunk] * act - pen[chunk] * self.prior(p)
                    if moving:
                        grads[chunk] = torch.autograd.grad(obj.sum(), p)[0]
                obj = obj.detach()
                if self.stochastic:  # judge the best on the untransformed example
                    with torch.no_grad():
                        act = self.unit(self.adapter, self.to_features(p, -1))
                        obj = sign[chunk] * act - pen[chunk] * self.prior(p)
                obj_t[chunk] = obj
            # the best example so far, per setting (its own budget)
            candidate = obj_t[source]
            better = (setting_budget >= t) & (candidate > state["best_obj"])
            state["best_obj"] = torch.where(better, candidate, state["best_obj"])
            state["best_params"] = torch.where(better.view(-1, *ones), state["params"][source],
                                               state["best_params"])
            state["best_step"] = state["best_step"].masked_fill(better, t)
            move = (budget > t).float().view(-1, *ones)
            # Adam ascent, only on rows whose budget is not spent
            state["m"] = torch.where(move > 0, b1 * state["m"] + (1 - b1) * grads, state["m"])
            state["v"] = torch.where(move > 0, b2 * state["v"] + (1 - b2) * grads.pow(2), state["v"])
            m_hat = state["m"] / (1 - b1 ** (t + 1))
            v_hat = state["v"] / (1 - b2 ** (t + 1))
            row_lr = lr.view_as(move)
            state["params"] = state["params"] + move * row_lr * m_hat / (v_hat.sqrt() + self.eps)
            if t % 100 == 0:
                logger.info("Search step %d/%d (%d rows still moving)", t, max_steps,
                            sum(b > t for b in row_budget))
            if callback is not None:
                callback(t)
        if checkpoint_path and os.path.isfile(checkpoint_path):
            os.remove(checkpoint_path)
        return self._result(settings, seeds, state)

    def _result(self, settings, seeds, state) -> SearchResult:
        S, K = len(settings), len(seeds)
        best = state["best_params"]
        with torch.no_grad():
            feats = torch.cat([self.to_features(c, -1) for c in best.split(self.chunk_size)])
            act = torch.cat([self.unit(self.adapter, f) for f in feats.split(self.chunk_size)])
        shape = (S, K)
        return SearchResult(settings, seeds, feats.reshape(*shape, *feats.shape[1:]).cpu(),
                            best.reshape(*shape, *best.shape[1:]).cpu(), act.reshape(shape).cpu(),
                            state["best_obj"].reshape(shape).cpu(),
                            state["best_step"].reshape(shape).cpu())


def _row_chunks(row_budget: Sequence[int], step: int, chunk_size: int, device
                ) -> List[Tuple[torch.Tensor, bool]]:
    """The rows evaluated at ``step`` (budget >= step) in chunks of at most
    ``chunk_size``, each with whether any of its rows still moves (budget > step)."""
    rows = [r for r, b in enumerate(row_budget) if b >= step]
    out = []
    for i in range(0, len(rows), chunk_size):
        part = rows[i:i + chunk_size]
        out.append((torch.tensor(part, device=device), any(row_budget[r] > step for r in part)))
    return out


def _state_key(module: torch.nn.Module) -> tuple:
    """Identifies the current values of a module's parameters and buffers
    (storage, version counter): changes when they are trained or moved."""
    return (id(module),) + tuple((t.data_ptr(), t._version, t.device.type)
                                 for t in module.state_dict().values())


class InputActivationMaximizer(LatentActivationMaximizer):
    """The no-GAN baseline: the normalised excerpt itself is optimised.

    Excerpts live in the generator's normalised domain (per-band mean/std of
    the real data; the generator is used only for these statistics), start as
    ``0.1 * N(0, I)`` from each seed, and are penalised by their mean square.
    Robustness transforms during the search: a random circular time shift of
    up to ``jitter`` frames and Gaussian noise of std ``noise`` (the same draw
    for all rows at a step). The best example is judged and kept untransformed.
    """

    def __init__(self, adapter, generator, unit: UnitSpec, jitter: int = 4, noise: float = 0.05,
                 **kwargs):
        if kwargs.get("init_candidates", 1) != 1:
            raise ValueError("init_candidates is a latent-space option; the input-space "
                             "baseline starts from one draw per seed.")
        super().__init__(adapter, generator, unit, **kwargs)
        self.jitter, self.noise = int(jitter), float(noise)
        self.stochastic = bool(self.jitter or self.noise)

    def init_params(self, seeds):
        shape = (self.generator.frames, self.generator.n_mels)
        return torch.stack([0.1 * torch.randn(shape, generator=torch.Generator().manual_seed(int(s)))
                            for s in seeds])

    def to_features(self, params, step):
        if step >= 0 and (self.jitter or self.noise):
            g = torch.Generator().manual_seed(10_007 * step + 1)
            shift = int(torch.randint(-self.jitter, self.jitter + 1, (1,), generator=g))
            noise = self.noise * torch.randn(params.shape[1:], generator=g).to(params.device)
            params = torch.roll(params, shift, dims=1) + noise
        return self.generator.denormalize(params)

    def prior(self, params):
        return params.pow(2).flatten(1).mean(1)
