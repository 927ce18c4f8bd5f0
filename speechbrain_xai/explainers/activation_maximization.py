"""GAN-based activation maximisation with automatic selection (Mishra et al., 2019).

Only the latent code ``z`` of a trained spectrogram generator is optimised, so
that a chosen *unit* of the frozen classifier (a class logit or a hidden
channel) is maximised (``a(G(z)) - lambda |z|^2``) or minimised
(``-a(G(z)) - lambda |z|^2``, the same ascent with the sign flipped), with
Adam, keeping the best example seen. Every hyper-parameter setting
(steps x learning rate x penalty x direction) and every seed runs in *one*
batched optimisation: the state is ``z [S * K, latent]`` (row ``s * K + k`` is
setting ``s`` and seed ``k``), learning rates, penalties, signs and step
budgets are per-row tensors, Adam is written out on the batch, and a row stops
moving once its own step budget is spent.

Each setting is then scored as in the paper: the Fréchet distance between the
unit's activations on the setting's generated examples and on the real
excerpts that most (maximisation) or least (minimisation) activate it,
optionally also over a layer's pooled activation vectors. The lowest distance
wins; this rejects runaway settings whose activations are far beyond anything
real data produces.

:class:`InputActivationMaximizer` is the no-GAN baseline: the (normalised)
log-mel excerpt itself is optimised, with random time jitter and noise as
robustness transforms, and is scored by the same metric.

:class:`AMSearchBrain` runs a search through SpeechBrain's ``evaluate()``
(one batch = the settings searched together) with gradients re-enabled
inside ``evaluate_batch``, saving each finished setting and the search state,
so an interrupted search resumes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import speechbrain as sb
import torch
from speechbrain.utils.logger import get_logger

from speechbrain_xai.brains.base import FrozenClassifierBrain
from speechbrain_xai.files import torch_save
from speechbrain_xai.metrics import frechet_distance

logger = get_logger(__name__)


# --------------------------------------------------------------------------
# The classifier seen from its features
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


def classifier_embeddings(adapter, feats: torch.Tensor, layer: str = "embedding_model",
                          batch_size: int = 256) -> torch.Tensor:
    """Pooled activations ``[N, D]`` of ``layer`` for excerpts ``[N, T, F]``."""
    outs = []
    with torch.no_grad(), adapter.capture([layer]) as reps:
        for chunk in feats.split(batch_size):
            adapter.logits_from_features(chunk)
            outs.append(pool_activations(reps[layer]).float())
    return torch.cat(outs)


def excerpts_from_features(feats: torch.Tensor, lens: torch.Tensor, frames: int,
                           per_clip: int = 1, random: bool = False,
                           generator: Optional[torch.Generator] = None,
                           return_starts: bool = False):
    """Cuts ``per_clip`` excerpts of ``frames`` frames from each clip's valid frames.

    Arguments
    ---------
    feats : torch.Tensor
        Features ``[B, T, F]``.
    lens : torch.Tensor
        Relative lengths ``[B]``.
    frames : int
        Excerpt length.
    per_clip : int
        Excerpts per clip: evenly spaced when ``random`` is False.
    random : bool
        Random start frames (training) instead of evenly spaced ones.
    generator : torch.Generator, optional
        For the random starts.
    return_starts : bool
        Also return the start frame of each excerpt (``LongTensor [B * per_clip]``).

    Returns
    -------
    torch.Tensor
        ``[B * per_clip, frames, F]`` (clip-major order).
    """
    valid = (lens * feats.shape[1]).round().long().clamp(max=feats.shape[1])
    if int(valid.min()) < frames:
        raise ValueError(
            f"A clip has {int(valid.min())} feature frames, fewer than excerpt_frames={frames}; "
            "use longer clips or shorter excerpts."
        )
    out, all_starts = [], []
    for b in range(feats.shape[0]):
        room = int(valid[b]) - frames
        if random:
            starts = torch.randint(0, room + 1, (per_clip,), generator=generator).tolist()
        else:
            starts = [round(i * room / max(per_clip - 1, 1)) for i in range(per_clip)]
            if per_clip == 1:
                starts = [room // 2]
        out += [feats[b, s:s + frames] for s in starts]
        all_starts += starts
    if return_starts:
        return torch.stack(out), torch.tensor(all_starts)
    return torch.stack(out)


# --------------------------------------------------------------------------
# What is maximised, and how
# --------------------------------------------------------------------------
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
    def load(cls, folder: str, settings: Sequence[AMSetting]) -> "SearchResult":
        """Gathers saved settings (all must have the same seeds)."""
        parts = [torch.load(os.path.join(folder, s.name + ".pt")) for s in settings]
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
                 betas=(0.9, 0.999), eps: float = 1e-8):
        self.adapter = adapter
        self.generator = generator.eval()
        self.unit = unit
        self.chunk_size = int(chunk_size)
        self.betas, self.eps = betas, eps

    # -- parametrisation (overridden by the input-space baseline)
    stochastic = False  # True when to_features applies random transforms at search steps

    def init_params(self, seeds: Sequence[int]) -> torch.Tensor:
        """Initial latents ``[K, latent_dim]``, ``N(0, I)`` from each seed."""
        dim = self.generator.latent_dim
        return torch.stack([torch.randn(dim, generator=torch.Generator().manual_seed(int(s)))
                            for s in seeds])

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
                     "tracks-v2"))
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
        S, K, dev = len(settings), len(seeds), self.device
        tracks, track_of = self.tracks(settings)
        T = len(tracks)

        def per_row(values, dtype=torch.float32):
            return torch.tensor(values, dtype=dtype, device=dev).repeat_interleave(K)

        lr = per_row([s.lr for s in tracks])
        pen = per_row([s.penalty for s in tracks])
        sign = per_row([1.0 if s.direction == "max" else -1.0 for s in tracks])
        budget = per_row([s.steps for s in tracks], torch.long)  # (T * K,)
        # setting row s * K + k reads track row track_of[s] * K + k
        source = (per_row(track_of, torch.long) * K
                  + torch.arange(K, device=dev).repeat(S))
        setting_budget = per_row([s.steps for s in settings], torch.long)  # (S * K,)
        start = self.init_params(seeds).to(dev)  # (K, ...)
        params = start.repeat(T, *[1] * (start.dim() - 1))  # (T * K, ...), row t * K + k
        state = {"step": 0, "params": params, "m": torch.zeros_like(params),
                 "v": torch.zeros_like(params),
                 "best_params": params[source].clone(),
                 "best_obj": torch.full((S * K,), -math.inf, device=dev),
                 "best_step": torch.zeros(S * K, dtype=torch.long, device=dev)}
        key = self._key(settings, seeds)
        if checkpoint_path and os.path.isfile(checkpoint_path):
            saved = torch.load(checkpoint_path, map_location=dev)
            if saved.get("key") == key:
                state = {k: v for k, v in saved.items() if k != "key"}
                logger.info("Resuming the search at step %d from %s", state["step"], checkpoint_path)
            else:
                logger.warning("Ignoring %s: it belongs to another search.", checkpoint_path)
        b1, b2 = self.betas
        logger.info("Search: %d settings x %d seeds as %d tracks (%d rows), up to %d steps",
                    S, K, T, T * K, int(budget.max()))
        for t in range(state["step"], int(budget.max()) + 1):
            if checkpoint_path and t > 0 and t % checkpoint_every == 0 and t != state["step"]:
                state["step"] = t
                torch_save({**state, "key": key}, checkpoint_path)
            rows = (budget >= t).nonzero().flatten()
            grads = torch.zeros_like(state["params"])
            obj_t = torch.full((T * K,), -math.inf, device=dev)
            for chunk in rows.split(self.chunk_size):
                p = state["params"][chunk].detach().requires_grad_(True)
                with torch.enable_grad():
                    act = self.unit(self.adapter, self.to_features(p, t))
                    obj = sign[chunk] * act - pen[chunk] * self.prior(p)
                    moving = budget[chunk] > t
                    if bool(moving.any()):
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
            idx = better.nonzero().flatten()
            state["best_obj"][idx] = candidate[idx]
            state["best_params"][idx] = state["params"][source[idx]].detach()
            state["best_step"][idx] = t
            move = (budget > t).float().view(-1, *[1] * (params.dim() - 1))
            # Adam ascent, only on rows whose budget is not spent
            state["m"] = torch.where(move > 0, b1 * state["m"] + (1 - b1) * grads, state["m"])
            state["v"] = torch.where(move > 0, b2 * state["v"] + (1 - b2) * grads.pow(2), state["v"])
            m_hat = state["m"] / (1 - b1 ** (t + 1))
            v_hat = state["v"] / (1 - b2 ** (t + 1))
            row_lr = lr.view_as(move)
            state["params"] = state["params"] + move * row_lr * m_hat / (v_hat.sqrt() + self.eps)
            if t % 100 == 0:
                logger.info("Search step %d/%d (%d rows still moving)", t, int(budget.max()),
                            int((budget > t).sum()))
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


# --------------------------------------------------------------------------
# Automatic selection
# --------------------------------------------------------------------------
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


def write_table(rows: List[dict], path: str) -> None:
    """Writes the ranking as a Markdown table (and returns nothing)."""
    cols = [c for c in ("rank", "setting", "act_mean", "act_std", "ref_act_mean", "fd_unit",
                        "fd_layer", "selected") if c in rows[0]]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c])
                                       for c in cols) + " |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def save_excerpt_grid(feats: torch.Tensor, path: str, titles: Optional[Sequence[str]] = None,
                      columns: int = 8) -> None:
    """Saves log-mel excerpts ``[N, T, F]`` as a PNG grid (needs matplotlib)."""
    from speechbrain_xai.plotting import _pyplot

    plt = _pyplot()
    n = feats.shape[0]
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.6 * rows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(feats[i].T.cpu().numpy(), origin="lower", aspect="auto", cmap="magma")
            if titles is not None:
                ax.set_title(titles[i], fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# --------------------------------------------------------------------------
# The search as a SpeechBrain evaluation
# --------------------------------------------------------------------------
class AMSearchBrain(FrozenClassifierBrain):
    """Runs searches through ``evaluate()``: each batch of the evaluated
    dataset lists setting names (``batch.id``); all settings of a batch and
    all seeds run as one batched optimisation inside ``evaluate_batch``, where
    gradients are re-enabled (``evaluate`` runs under ``no_grad``).

    Finished settings are saved to ``results_folder`` and skipped on a rerun;
    the state of an unfinished batch is checkpointed every
    ``checkpoint_every`` steps and resumed.

    Arguments
    ---------
    maximizer : LatentActivationMaximizer
        Its adapter and generator are moved to the run device at start.
    settings : dict
        Setting name -> :class:`AMSetting`.
    seeds : list of int
        Seeds of every setting.
    results_folder : str
        Where settings and search states are written.
    checkpoint_every : int
        Steps between search-state checkpoints.
    """

    def __init__(self, *args, maximizer=None, settings: Optional[Dict[str, AMSetting]] = None,
                 seeds: Sequence[int] = (), results_folder: str = ".", checkpoint_every: int = 50,
                 **kwargs):
        super().__init__(*args, **kwargs)
        if maximizer is None or not settings:
            raise ValueError("AMSearchBrain needs maximizer= and settings=.")
        self.maximizer, self.settings = maximizer, settings
        self.seeds, self.results_folder = list(seeds), results_folder
        self.checkpoint_every = int(checkpoint_every)
        os.makedirs(results_folder, exist_ok=True)

    def frozen_modules(self):
        return [self.maximizer.adapter, self.maximizer.generator]

    def is_done(self, name: str) -> bool:
        return os.path.isfile(os.path.join(self.results_folder, name + ".pt"))

    def evaluate_batch(self, batch, stage):
        todo = [self.settings[name] for name in batch.id if not self.is_done(name)]
        if not todo:
            return torch.tensor(0.0)
        tag = hashlib.sha1(" ".join(s.name for s in todo).encode()).hexdigest()[:12]
        state = os.path.join(self.results_folder, f"search_state_{tag}.pt")
        with torch.enable_grad():
            result = self.maximizer.search(todo, self.seeds, checkpoint_path=state,
                                           checkpoint_every=self.checkpoint_every)
        for s in range(len(todo)):
            result.save_setting(s, self.results_folder)
        return torch.tensor(float(result.objective.mean()))

    def on_stage_end(self, stage, stage_loss, epoch=None):
        done = sum(self.is_done(n) for n in self.settings)
        logger.info("Search finished: %d/%d settings saved in %s", done, len(self.settings),
                    self.results_folder)


# --------------------------------------------------------------------------
# Running and reporting a search (what the recipes call)
# --------------------------------------------------------------------------
def dataset_excerpts(adapter, dataset, frames: int, per_clip: int, loader_kwargs: Optional[dict] = None):
    """Evenly spaced excerpts of every clip of a SpeechBrain dataset.

    Arguments
    ---------
    adapter : ClassifierAdapter
        Computes the features (``adapter.features``).
    dataset : DynamicItemDataset
        Gives ``id`` and ``sig`` (waveform).
    frames, per_clip : int
        Excerpt length and excerpts per clip.
    loader_kwargs : dict, optional
        For ``make_dataloader`` (batch size, workers).

    Returns
    -------
    feats : torch.Tensor
        ``[N, frames, F]`` on the adapter's device, clip-major.
    starts : torch.Tensor
        Start frame of each excerpt ``[N]``.
    ids : list of str
        Clip id of each excerpt.
    """
    loader = sb.dataio.dataloader.make_dataloader(dataset, **(loader_kwargs or {}))
    feats, starts, ids = [], [], []
    with torch.no_grad():
        for batch in loader:
            batch = batch.to(adapter.device)
            wavs, lens = batch.sig
            x, s = excerpts_from_features(adapter.features(wavs), lens, frames, per_clip=per_clip,
                                          return_starts=True)
            feats.append(x)
            starts.append(s)
            ids += [i for i in batch.id for _ in range(per_clip)]
    return torch.cat(feats), torch.cat(starts), ids


def run_search(maximizer: LatentActivationMaximizer, settings: Sequence[AMSetting],
               seeds: Sequence[int], folder: str, settings_per_batch: int,
               checkpoint_every: int = 50, run_opts: Optional[dict] = None
               ) -> Tuple[SearchResult, float]:
    """Every setting x seed through :class:`AMSearchBrain` (``Brain.evaluate``,
    ``settings_per_batch`` settings per batched optimisation; resumable: saved
    settings are skipped, the state of the running batch is checkpointed).

    Returns
    -------
    result : SearchResult
        All settings, loaded back from ``folder``.
    seconds : float
        Wall time of the search.
    """
    brain = AMSearchBrain(modules=None, run_opts=run_opts, maximizer=maximizer,
                          settings={s.name: s for s in settings}, seeds=seeds,
                          results_folder=folder, checkpoint_every=checkpoint_every)
    data = sb.dataio.dataset.DynamicItemDataset({s.name: {"order": i} for i, s in enumerate(settings)})
    data.set_output_keys(["id"])
    start = time.time()
    brain.evaluate(data, test_loader_kwargs={"batch_size": int(settings_per_batch)})
    seconds = time.time() - start
    logger.info("Search of %d settings x %d seeds in %.1f s", len(settings), len(seeds), seconds)
    return SearchResult.load(folder, settings), seconds


def render_setting(result: SearchResult, s: int, folder: str, tag: str, adapter,
                   num_audio: int = 4, griffin_lim_iters: int = 100, count: int = 16) -> None:
    """A setting's examples, the most extreme first (in its direction):
    ``<tag>.png`` (the first ``count``) and ``<tag>_<i>.wav`` (the first
    ``num_audio``, Griffin-Lim, peak-normalised, at the adapter's rate)."""
    acts = result.activation[s]
    order = torch.argsort(acts, descending=result.settings[s].direction == "max")
    feats = result.features[s][order]
    titles = [f"{float(a):.2f}" for a in acts[order]]
    save_excerpt_grid(feats[:count], os.path.join(folder, f"{tag}.png"), titles[:count])
    if num_audio:
        wavs = adapter.features_to_audio(feats[:num_audio].to(adapter.device),
                                         n_iter=griffin_lim_iters).cpu()
        for i, wav in enumerate(wavs):
            peak = wav.abs().max().clamp_min(1e-8)
            sb.dataio.dataio.write_audio(os.path.join(folder, f"{tag}_{i}.wav"), 0.9 * wav / peak,
                                         adapter.sample_rate)


def report_search(result: SearchResult, real_feats: torch.Tensor, real_acts: torch.Tensor,
                  folder: str, adapter, n_reference: int = 50, layer: Optional[str] = None,
                  score_fn: Union[None, Callable[[torch.Tensor], torch.Tensor],
                                  Mapping[str, Callable[[torch.Tensor], torch.Tensor]]] = None,
                  **render_kwargs) -> dict:
    """Ranks the settings (:func:`rank_settings`), writes ``ranking.md`` and
    ``ranking.json`` to ``folder`` and renders, per direction, the selected
    setting and the most extreme one (largest / smallest mean activation) as
    ``<direction>_selected`` and ``<direction>_most_extreme``
    (:func:`render_setting`).

    ``score_fn`` (optional) maps excerpts ``[N, T, F]`` to scores ``[N]`` from
    a check the classifier does not see (e.g. a voice probe); its mean and
    positive fraction are added to the rendered settings' rows as
    ``score_mean`` and ``score_positive_fraction``. A dict ``{name: function}``
    runs several checks and adds ``<name>_mean`` and ``<name>_positive_fraction``.

    Returns
    -------
    dict
        ``<direction>_selected`` / ``<direction>_most_extreme``: their ranking rows.
    """
    rows = rank_settings(result, real_feats, real_acts, n_reference, adapter, layer)
    write_table(rows, os.path.join(folder, "ranking.md"))
    with open(os.path.join(folder, "ranking.json"), "w") as f:
        json.dump(rows, f, indent=1)
    names = [s.name for s in result.settings]
    checks = {} if score_fn is None else score_fn if isinstance(score_fn, Mapping) else {"score": score_fn}
    report = {}
    for direction in sorted({s.direction for s in result.settings}):
        mine = [r for r in rows if r["direction"] == direction]
        extreme = (max if direction == "max" else min)(mine, key=lambda r: r["act_mean"])
        for tag, row in (("selected", mine[0]), ("most_extreme", extreme)):
            s = names.index(row["setting"])
            render_setting(result, s, folder, f"{direction}_{tag}", adapter, **render_kwargs)
            for name, fn in checks.items():
                scores = fn(result.features[s])
                row = dict(row, **{f"{name}_mean": float(scores.mean()),
                                   f"{name}_positive_fraction": float((scores > 0).float().mean())})
            report[f"{direction}_{tag}"] = row
    return report
