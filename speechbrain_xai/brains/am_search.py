"""Activation-maximisation searches as SpeechBrain evaluations, their reports, and the recipe steps.

:class:`AMSearchBrain` runs a search
(:class:`~speechbrain_xai.explainers.activation_maximization.LatentActivationMaximizer`)
through ``Brain.evaluate()``: one batch = the settings searched together,
gradients re-enabled inside ``evaluate_batch``, each finished setting and the
running batch's state saved, so an interrupted search resumes
(:func:`run_search`). Under ``torchrun`` the seeds are split across the
processes (each runs every setting of a batch with its share of the seeds,
so the grid's tracks stay whole and the work is even) and the main process
concatenates the shares and saves the settings. :func:`report_search` ranks the settings
(:func:`~speechbrain_xai.explainers.am_selection.rank_settings`), writes
``ranking.md`` / ``ranking.json`` and renders the selected and the most
extreme setting of each direction (:func:`render_setting`: a PNG grid and
Griffin-Lim audio).

The steps the GAN-based activation-maximisation recipes share (VocalMix and
ESC-50 alike; only the data and the checks differ) read the recipe's
``hparams`` (keys declared with :func:`~speechbrain_xai.hparams.reads_hparams`):

1. :func:`prepare_search`: loads the generator, cuts the real reference
   excerpts (:func:`reference_set`), builds the grid and the searches
   (:func:`maximizers`: the GAN's latent space and the input-space baseline)
   and starts the summary;
2. :func:`run_searches`: runs and reports every search
   (:func:`search_and_report`) and writes ``summary.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import soundfile as sf
import speechbrain as sb
import torch
from speechbrain.utils.distributed import run_on_main
from speechbrain.utils.logger import get_logger

from speechbrain_xai.brains.base import FrozenClassifierBrain
from speechbrain_xai.data.distributed import gather_in_order, shard
from speechbrain_xai.data.excerpts import dataset_excerpts, feature_hop_seconds
from speechbrain_xai.explainers.activation_maximization import (
    AMSetting,
    InputActivationMaximizer,
    LatentActivationMaximizer,
    SearchResult,
    setting_grid,
)
from speechbrain_xai.explainers.am_selection import rank_settings, unit_activations
from speechbrain_xai.files import atomic_open, torch_load, write_json, write_text
from speechbrain_xai.hparams import reads_hparams, require_hparams
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

    Under ``torchrun`` every process runs every batch of settings with its
    contiguous share of the seeds (:func:`~speechbrain_xai.data.distributed.shard`;
    rows of the search are independent), the shares are gathered on the main
    process, which saves the settings with all seeds in order, and the
    processes wait for it before the next batch. A resumed batch state
    belongs to one process's seeds: rerun with the same number of processes
    to resume it.

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
        if all(self.is_done(name) for name in batch.id):
            return torch.tensor(0.0)
        # The whole batch runs again even when a kill between its saves left part
        # of it saved: the same rows as in an uninterrupted run (float32 kernels
        # round differently for another batch, and the search amplifies that).
        todo = [self.settings[name] for name in batch.id]
        seeds = shard(self.seeds)  # all of them without torchrun
        parts = []
        if seeds:
            text = " ".join(s.name for s in todo)
            if len(seeds) < len(self.seeds):  # this process's share: its own state file
                text += " seeds " + " ".join(map(str, seeds))
            tag = hashlib.sha1(text.encode()).hexdigest()[:12]
            state = os.path.join(self.results_folder, f"search_state_{tag}.pt")
            with torch.enable_grad():
                parts = [self.maximizer.search(todo, seeds, checkpoint_path=state,
                                               checkpoint_every=self.checkpoint_every)]
        parts = gather_in_order(parts, dst=0)
        if sb.utils.distributed.if_main_process():
            result = parts[0] if len(parts) == 1 else SearchResult.concat_seeds(parts)
            for s, setting in enumerate(todo):
                if not self.is_done(setting.name):
                    result.save_setting(s, self.results_folder)
        sb.utils.distributed.ddp_barrier()  # the settings are saved before anyone goes on
        if not parts:
            return torch.tensor(0.0)
        return torch.tensor(float(torch.cat([p.objective.flatten() for p in parts]).mean()))

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


# --------------------------------------------------------------------------
# The recipe steps
# --------------------------------------------------------------------------
class ReferenceSet(NamedTuple):
    """Real excerpts of the reference split and the unit on them."""

    feats: torch.Tensor  # (N, T, F), on the adapter's device
    starts: torch.Tensor  # (N,) start frame of each excerpt
    ids: List[str]  # clip id of each excerpt
    acts: torch.Tensor  # (N,) the unit's activations

    def extreme_rows(self, n: int) -> Dict[str, torch.Tensor]:
        """Row indices (CPU) of the ``n`` excerpts the unit ranks highest
        (``"top"``, highest first) and lowest (``"bottom"``, in the same
        descending order); ``n`` is capped at the number of excerpts."""
        order = torch.argsort(self.acts.cpu(), descending=True)
        n = min(int(n), len(order))
        return {"top": order[:n], "bottom": order[len(order) - n:]}


@reads_hparams("excerpt_frames", "reference_excerpts_per_clip", "dataloader_opts")
def reference_set(adapter, unit, dataset, hparams: Mapping) -> ReferenceSet:
    """Real excerpts of the reference split (``reference_excerpts_per_clip``
    evenly spaced excerpts of ``excerpt_frames`` frames per clip), their start
    frames, clip ids and the unit's activations on them."""
    feats, starts, ids = dataset_excerpts(adapter, dataset, hparams["excerpt_frames"],
                                          hparams["reference_excerpts_per_clip"],
                                          hparams["dataloader_opts"])
    return ReferenceSet(feats, starts, ids, unit_activations(adapter, unit, feats))


@reads_hparams("n_reference", "output_folder", optional=("inversion_steps",))
def invert_reference(generator, adapter, unit, reference: ReferenceSet, hparams: Mapping
                     ) -> Tuple[Dict[str, torch.Tensor], dict]:
    """What the generator can make of the real excerpts the unit ranks highest
    and lowest (the ``n_reference`` of each side, those the selection compares
    the settings with): each is rebuilt by the generator
    (:meth:`~speechbrain_xai.lobes.gan.SpectrogramGenerator.invert`,
    ``inversion_steps`` steps, default 300) and the unit read on the rebuilds.
    A unit far lower on the rebuilt top excerpts than on the real ones means
    the generator cannot make what the unit responds to, whatever the search.
    Writes ``<output_folder>/inverted_top.png`` (real and rebuilt, in turns).

    Returns
    -------
    rebuilt : dict
        ``{"top": [n, T, F], "bottom": [n, T, F]}`` (classifier domain).
    report : dict
        Per side: the unit's mean on the real excerpts and on the rebuilds,
        and the mean reconstruction error (normalised domain).
    """
    extremes = reference.extreme_rows(hparams["n_reference"])
    n = len(extremes["top"])
    steps = int(hparams.get("inversion_steps", 300))
    rebuilt, report = {}, {"excerpts": n, "steps": steps}
    for side, rows in extremes.items():
        real = reference.feats[rows.to(reference.feats.device)]
        z, error = generator.invert(real, steps=steps)
        with torch.no_grad():
            rebuilt[side] = generator(z)
        report[side] = {"real_unit_mean": float(reference.acts[rows.to(reference.acts.device)].mean()),
                        "rebuilt_unit_mean": float(unit_activations(adapter, unit, rebuilt[side]).mean()),
                        "reconstruction_error_mean": float(error.mean())}
    shown = min(8, n)
    pairs = torch.stack([reference.feats[extremes["top"][:shown].to(reference.feats.device)],
                         rebuilt["top"][:shown]], dim=1).flatten(0, 1)
    titles = [f"{kind} {i}" for i in range(shown) for kind in ("real", "rebuilt")]
    hop_seconds = feature_hop_seconds(adapter) if adapter.feature_hop_length else None
    run_on_main(save_excerpt_grid, args=[pairs.cpu(), os.path.join(hparams["output_folder"],
                                                                   "inverted_top.png"), titles],
                kwargs={"hop_seconds": hop_seconds})
    return rebuilt, report


@reads_hparams("num_seeds", "chunk_size", "results_folder", "run_input_baseline",
               "jitter_frames", "input_noise", "baseline_folder", "baseline_num_seeds",
               optional=("init_candidates",))
def maximizers(adapter, generator, unit, hparams: Mapping
               ) -> Dict[str, Tuple[LatentActivationMaximizer, str, List[int]]]:
    """``{run name: (maximizer, results folder, seeds)}``: the GAN's latent
    space (``"gan"``; ``init_candidates`` latents drawn per seed, the start
    the one that drives the unit furthest, default 1: the paper's single
    draw), then, with ``run_input_baseline``, the input-space baseline
    (``"input"``, the first ``baseline_num_seeds`` seeds; all when null)
    scored by the same metric."""
    seeds = list(range(hparams["num_seeds"]))
    runs = {"gan": (LatentActivationMaximizer(adapter, generator, unit,
                                              chunk_size=hparams["chunk_size"],
                                              init_candidates=hparams.get("init_candidates", 1)),
                    hparams["results_folder"], seeds)}
    if hparams["run_input_baseline"]:
        runs["input"] = (InputActivationMaximizer(adapter, generator, unit,
                                                  jitter=hparams["jitter_frames"],
                                                  noise=hparams["input_noise"],
                                                  chunk_size=hparams["chunk_size"]),
                         hparams["baseline_folder"], seeds[:hparams["baseline_num_seeds"] or None])
    return runs


@dataclass
class PreparedSearch:
    """Everything a search needs before it runs (:func:`prepare_search`)."""

    adapter: torch.nn.Module  # the classifier, on the run device
    reference: ReferenceSet
    settings: List[AMSetting]
    runs: Dict[str, Tuple[LatentActivationMaximizer, str, List[int]]]  # as maximizers()
    start_feats: torch.Tensor  # the generator's unoptimised samples (one plain draw per seed)
    summary: dict  # the start of summary.json
    # with init_candidates > 1: the samples the GAN search starts from, per direction
    candidate_starts: Dict[str, torch.Tensor] = field(default_factory=dict)
    # with invert_reference: the generator's rebuilds of the real top / bottom excerpts
    inverted: Dict[str, torch.Tensor] = field(default_factory=dict)


@reads_hparams("classifier", "generator", "generator_file", "unit", "am_steps", "am_lrs",
               "am_penalties", "directions", "n_reference",
               *reference_set.hparams_required, *maximizers.hparams_required,
               optional=[k for k in maximizers.hparams_keys if k not in maximizers.hparams_required]
               + ["invert_reference", *invert_reference.hparams_keys])
def prepare_search(hparams: Mapping, run_opts: Mapping, reference_dataset) -> PreparedSearch:
    """Step 1 of a search recipe: moves the classifier (``classifier``) to the
    run device; loads the generator (``generator`` with the weights of
    ``generator_file``); cuts the real reference excerpts
    (:func:`reference_set`); builds the grid (``am_steps`` x ``am_lrs`` x
    ``am_penalties`` x ``directions``) and the searches (:func:`maximizers`);
    samples the generator at one plain draw per seed (and, with
    ``init_candidates > 1``, at the search's chosen starts per direction);
    summarises the unit on real excerpts (top / bottom ``n_reference``) and
    on those unoptimised samples; with ``invert_reference`` (default off),
    rebuilds those real excerpts with the generator (:func:`invert_reference`,
    ``gan_inverted`` in the summary).
    """
    require_hparams(hparams, prepare_search, "prepare_search")
    adapter = hparams["classifier"].to(run_opts.get("device", "cpu"))
    generator = hparams["generator"]
    generator.load_state_dict(torch_load(hparams["generator_file"], map_location="cpu"))
    generator.to(adapter.device).eval()
    unit = hparams["unit"]
    reference = reference_set(adapter, unit, reference_dataset, hparams)
    ref_acts = reference.acts
    settings = setting_grid(hparams["am_steps"], hparams["am_lrs"], hparams["am_penalties"],
                            hparams["directions"])
    runs = maximizers(adapter, generator, unit, hparams)
    seeds = runs["gan"][2]
    gan = runs["gan"][0]
    candidate_starts = {}
    with torch.no_grad():
        start_feats = generator(gan.init_params(seeds).to(adapter.device))
        if gan.init_candidates > 1:
            starts = gan.search_starts(seeds, sorted(set(hparams["directions"])))
            candidate_starts = {d: generator(z.to(adapter.device)) for d, z in starts.items()}
    n_ref = min(hparams["n_reference"], len(ref_acts))
    summary = {"unit": str(unit),
               "grid": {"settings": len(settings), "seeds": len(seeds)},
               "real_unit": {"reference_excerpts": len(ref_acts),
                             "max_top_mean": float(ref_acts.topk(n_ref).values.mean()),
                             "min_bottom_mean": float(ref_acts.topk(n_ref, largest=False).values.mean())},
               "gan_unoptimised_unit_mean": float(unit_activations(adapter, unit, start_feats).mean())}
    if candidate_starts:
        summary["init_candidates"] = gan.init_candidates
        summary["gan_start_unit_mean"] = {d: float(unit_activations(adapter, unit, f).mean())
                                          for d, f in candidate_starts.items()}
    inverted = {}
    if hparams.get("invert_reference", False):
        inverted, summary["gan_inverted"] = invert_reference(generator, adapter, unit, reference,
                                                             hparams)
    return PreparedSearch(adapter, reference, settings, runs, start_feats, summary,
                          candidate_starts, inverted)


@reads_hparams("settings_per_batch", "checkpoint_every", "n_reference", "selection_layer",
               "num_rendered_audio", "griffin_lim_iters")
def search_and_report(search: PreparedSearch, hparams: Mapping, run_opts: Mapping,
                      score_fn: Union[None, ScoreFn, Mapping[str, ScoreFn]] = None) -> dict:
    """Runs every search of ``search.runs`` as batched jobs (:func:`run_search`)
    and reports it on the main process (:func:`report_search`: ranking
    tables, renders of the selected and most extreme settings, ``score_fn``
    checks).

    Returns
    -------
    dict
        ``{run name: {"seconds", "seeds", <direction>_<selected|most_extreme>: row}}``.
    """
    ref = search.reference
    summary = {}
    for name, (maximizer, folder, seeds) in search.runs.items():
        result, seconds = run_search(maximizer, search.settings, seeds, folder,
                                     hparams["settings_per_batch"], hparams["checkpoint_every"],
                                     run_opts)
        report = run_on_main(report_search, args=[
            result, ref.feats, ref.acts, folder, search.adapter, hparams["n_reference"],
            hparams["selection_layer"]], kwargs=dict(
            score_fn=score_fn, num_audio=hparams["num_rendered_audio"],
            griffin_lim_iters=hparams["griffin_lim_iters"]))
        summary[name] = {"seconds": round(seconds, 1), "seeds": len(seeds), **report}
    return summary


@reads_hparams("output_folder", *search_and_report.hparams_required)
def run_searches(search: PreparedSearch, hparams: Mapping, run_opts: Mapping,
                 score_fn: Union[None, ScoreFn, Mapping[str, ScoreFn]] = None) -> dict:
    """Step 2 of a search recipe: :func:`search_and_report`, its result added
    to ``search.summary`` as ``runs``, written to
    ``<output_folder>/summary.json`` (by the main process). Returns the summary."""
    require_hparams(hparams, run_searches, "run_searches")
    search.summary["runs"] = search_and_report(search, hparams, run_opts, score_fn)
    if sb.utils.distributed.if_main_process():
        write_json(os.path.join(hparams["output_folder"], "summary.json"), search.summary, indent=1)
        logger.info("Summary: %s", json.dumps(search.summary, indent=1))
    return search.summary
