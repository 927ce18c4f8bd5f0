"""Activation-maximisation searches as SpeechBrain evaluations, and their reports.

:class:`AMSearchBrain` runs a search
(:class:`~speechbrain_xai.explainers.activation_maximization.LatentActivationMaximizer`)
through ``Brain.evaluate()``: one batch = the settings searched together,
gradients re-enabled inside ``evaluate_batch``, each finished setting and the
running batch's state saved, so an interrupted search resumes
(:func:`run_search`). :func:`report_search` ranks the settings
(:func:`~speechbrain_xai.explainers.am_selection.rank_settings`), writes
``ranking.md`` / ``ranking.json`` and renders the selected and the most
extreme setting of each direction (:func:`render_setting`: a PNG grid and
Griffin-Lim audio).
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import soundfile as sf
import speechbrain as sb
import torch
from speechbrain.utils.logger import get_logger

from speechbrain_xai.brains.base import FrozenClassifierBrain
from speechbrain_xai.data.excerpts import feature_hop_seconds
from speechbrain_xai.explainers.activation_maximization import (
    AMSetting,
    LatentActivationMaximizer,
    SearchResult,
)
from speechbrain_xai.explainers.am_selection import rank_settings
from speechbrain_xai.files import atomic_open, write_json, write_text
from speechbrain_xai.plotting import save_excerpt_grid

logger = get_logger(__name__)

#: A check the classifier does not see: excerpts ``[N, T, F]`` -> scores ``[N]`` (> 0: positive).
ScoreFn = Callable[[torch.Tensor], torch.Tensor]


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


# --------------------------------------------------------------------------
# Reporting a search
# --------------------------------------------------------------------------
def write_table(rows: List[dict], path: str) -> None:
    """Writes the ranking rows (:func:`rank_settings`) as a Markdown table, atomically."""
    cols = [c for c in ("rank", "setting", "act_mean", "act_std", "ref_act_mean", "fd_unit",
                        "fd_layer", "selected") if c in rows[0]]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c])
                                       for c in cols) + " |")
    write_text(path, "\n".join(lines) + "\n")


def render_setting(result: SearchResult, s: int, folder: str, tag: str, adapter,
                   num_audio: int = 4, griffin_lim_iters: int = 100, count: int = 16) -> None:
    """A setting's examples, the most extreme first (in its direction):
    ``<tag>.png`` (the first ``count``, time axis from the classifier's hop)
    and ``<tag>_<i>.wav`` (the first ``num_audio``, Griffin-Lim,
    peak-normalised, 16-bit, at the adapter's rate), each written atomically."""
    acts = result.activation[s]
    order = torch.argsort(acts, descending=result.settings[s].direction == "max")
    feats = result.features[s][order]
    titles = [f"{float(a):.2f}" for a in acts[order]]
    hop_seconds = feature_hop_seconds(adapter) if adapter.feature_hop_length else None
    save_excerpt_grid(feats[:count], os.path.join(folder, f"{tag}.png"), titles[:count],
                      hop_seconds=hop_seconds)
    if num_audio:
        wavs = adapter.features_to_audio(feats[:num_audio].to(adapter.device),
                                         n_iter=griffin_lim_iters).cpu()
        for i, wav in enumerate(wavs):
            peak = wav.abs().max().clamp_min(1e-8)
            with atomic_open(os.path.join(folder, f"{tag}_{i}.wav"), "wb") as f:
                sf.write(f, (0.9 * wav / peak).numpy(), adapter.sample_rate, format="WAV")


def report_search(result: SearchResult, real_feats: torch.Tensor, real_acts: torch.Tensor,
                  folder: str, adapter, n_reference: int = 50, layer: Optional[str] = None,
                  score_fn: Union[None, ScoreFn, Mapping[str, ScoreFn]] = None,
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
    write_json(os.path.join(folder, "ranking.json"), rows, indent=1)
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
