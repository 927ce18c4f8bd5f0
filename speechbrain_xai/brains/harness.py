"""The one evaluation harness: any registered explainers, any SpeechBrain dataset, one table.

:class:`ExplainerEvaluationBrain` runs a dict of explainers (instances, or
registry names with options) over a ``DynamicItemDataset`` through
``Brain.evaluate()`` and SpeechBrain's data loaders, in one or more
*conditions* (the clean clips, or clips mixed with interference:
:func:`speechbrain_xai.contamination.contaminate`), and scores every
explanation the same way:

* faithfulness as in the L-MAC paper (AI, AD, AG, FF, Fid-In, SPS, COMP) from
  :meth:`Explanation.metrics`, with the masked-in / masked-out probabilities;
* deletion and insertion AUC: the explanation's ``importance`` (the mask, or
  the ranking of whole components for component methods) removes / inserts
  bins in ``curve_steps`` steps, with the method's fill, through the listenable
  ISTFT path;
* agreement with the oracle mask where ground truth exists (the batch has
  ``source_sig``, the clip's source of ``oracle_class``, and
  ``background_sig``, the rest; the interference of a condition counts as
  background): ROC AUC, IoU, energy precision / recall, on clips whose target
  is ``oracle_class`` and whose source is not silent;
* seconds per clip (the ``explain`` call, batched).

Under ``torchrun`` the clips are split across the processes in whole batches
(:class:`~speechbrain_xai.data.distributed.EvaluationSampler`: each clip on
exactly one process, each batch as in a single-process run, the interference
seeded by the batch's index in the whole set), each process explains and saves
its share, and the per-clip rows are merged in the data set's order: the main
process writes the same table as a single process would.

It writes ``results.md`` (one row per condition and method), ``results.json``
(means, standard deviations and counts) and ``per_clip.csv``. With
``save_explanations`` each explanation is also saved (wav + npy + png + json
per clip, :meth:`Explanation.save`); a rerun then skips the clips already
saved (a killed run resumes) and reads their rows back. Saved files are named
after the dataset's ids through :func:`~speechbrain_xai.data.inputs.unique_ids`
(``../x`` or ``/abs/x`` is saved as ``x`` / ``abs_x``, an empty id as
``clip``), and the folders after the condition and method labels through
:func:`~speechbrain_xai.data.inputs.safe_id`, so nothing is written outside
``explanations_folder``; the tables keep the ids as they are.

:func:`evaluate_explainers` builds the Brain and runs it: what recipes and the
command line call.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import speechbrain as sb
import torch
from speechbrain.utils.logger import get_logger

from speechbrain_xai import metrics as M
from speechbrain_xai.brains.base import FrozenClassifierBrain
from speechbrain_xai.components import PerturbationScorer
from speechbrain_xai.contamination import contaminate
from speechbrain_xai.data.inputs import safe_id, unique_ids
from speechbrain_xai.explainers.base import Explainer, get_explainer
from speechbrain_xai.explanation import Explanation, is_saved
from speechbrain_xai.files import remove_stale, write_json, write_text
from speechbrain_xai.hparams import reads_hparams, require_hparams

logger = get_logger(__name__)

#: Columns of results.md, in order (the json and csv hold every metric).
TABLE_COLUMNS = ("AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP", "deletion_auc", "insertion_auc",
                 "oracle_auc", "oracle_iou", "time_share", "seconds_per_clip")
ORACLE_KEYS = ("oracle_auc", "oracle_iou", "energy_precision", "energy_recall", "time_share",
               "time_share_chance")


def build_explainers(adapter, spec: Mapping[str, Union[Explainer, Mapping, None]]) -> Dict[str, Explainer]:
    """``{label: Explainer}`` from ``{label: Explainer | options | None}``.

    Options are a dict for :func:`get_explainer`; its ``method`` entry names
    the registered method (default: the label itself), e.g.
    ``{"IG-20": {"method": "integrated_gradients", "n_steps": 20}, "saliency": {}}``.
    """
    out = {}
    for label, value in spec.items():
        if isinstance(value, Explainer):
            if value.adapter is not adapter:
                logger.info("Explainer %r has its own adapter; its classifier is the one evaluated.",
                            label)
            out[label] = value
            continue
        options = dict(value or {})
        out[label] = get_explainer(options.pop("method", label), adapter, **options)
    return out


class ExplainerEvaluationBrain(FrozenClassifierBrain):
    """Scores explainers on a dataset inside ``evaluate()`` (see module docstring).

    Under ``torchrun`` each process explains its share of the data set and
    the rows are merged (``shard_test``); only the main process writes files.

    Arguments
    ---------
    adapter : ClassifierAdapter
        The explained classifier (kept out of ``modules``, moved to the run device).
    explainers : dict
        ``{label: Explainer | options}`` (see :func:`build_explainers`).
    results_folder : str
        Where the table, the json and the per-clip csv go.
    conditions : dict, optional
        ``{name: {"kind": contamination, "snr_db": float}}``; default: the clean clips.
    oracle_class : str, optional
        The class whose source the batch's ``source_sig`` holds (None: no ground truth).
    target : None, int or str
        The explained class of every clip (None: the predicted one).
    curve_steps : int
        Steps of the deletion / insertion curves (0 skips them).
    seed : int
        Seed of the conditions' interference (per batch, from the batch's
        index in the whole test set, so it depends neither on what ran
        before nor on the number of processes).
    explanations_folder : str, optional
        Where explanations are saved (``<folder>/<condition>/<label>/``).
    save_explanations : bool or list of str
        Save every method's explanations (True) or those of the listed labels.
    save_conditions : list of str, optional
        Save only in these conditions (default: all).
    save_plots : bool
        Also save a PNG per explanation (needs matplotlib).
    chunk_size : int
        Perturbations per forward pass of the curves.
    extra : dict, optional
        Added to results.json (run facts: epochs, wall times...).
    **kwargs
        ``run_opts`` and the rest, as for ``sb.Brain``.
    """

    shard_test = True

    def __init__(self, adapter, explainers, results_folder: str,
                 conditions: Optional[Mapping[str, Mapping]] = None,
                 oracle_class: Optional[str] = None, target=None, curve_steps: int = 10,
                 seed: int = 0,
                 explanations_folder: Optional[str] = None,
                 save_explanations: Union[bool, Sequence[str]] = False,
                 save_conditions: Optional[Sequence[str]] = None, save_plots: bool = True,
                 chunk_size: int = 16, extra: Optional[Dict] = None, **kwargs):
        super().__init__(modules=kwargs.pop("modules", None), **kwargs)
        self.adapter = adapter
        self.explainers = build_explainers(adapter, explainers)
        if not self.explainers:
            raise ValueError("Give at least one explainer to evaluate.")
        self.conditions = dict(conditions or {"in_domain": {"kind": "none"}})
        self.oracle_class, self.target = oracle_class, target
        if oracle_class is not None and oracle_class not in (adapter.class_names or []):
            raise ValueError(f"oracle_class {oracle_class!r} is not a class of the classifier "
                             f"({adapter.class_names}); set it to one of them or to null.")
        self.curve_steps, self.seed, self.chunk_size = int(curve_steps), int(seed), int(chunk_size)
        self.results_folder = results_folder
        self.explanations_folder = explanations_folder
        labels = list(self.explainers) if save_explanations is True else list(save_explanations or [])
        unknown = sorted(set(labels) - set(self.explainers))
        if unknown:
            raise ValueError(f"save_explanations names unknown methods {unknown}; "
                             f"methods: {list(self.explainers)}.")
        if labels and explanations_folder is None:
            raise ValueError("save_explanations needs explanations_folder.")
        self.save_labels = labels
        self.save_conditions = list(save_conditions) if save_conditions else list(self.conditions)
        for kind, names in (("method labels", self.explainers), ("conditions", self.conditions)):
            folders = [safe_id(n) for n in names]
            if len(set(folders)) != len(folders):
                raise ValueError(f"The {kind} {list(names)} give the same folder name twice "
                                 f"({folders}); rename them.")
        self.file_names: Dict[str, str] = {}
        self.save_plots = save_plots
        self.extra = dict(extra or {})

    def frozen_modules(self):
        modules = [self.adapter] + [e.adapter for e in self.explainers.values()]
        decoders = [e.decoder for e in self.explainers.values() if hasattr(e, "decoder")]
        return modules + decoders

    def on_evaluate_start(self, max_key=None, min_key=None):
        super().on_evaluate_start(max_key=max_key, min_key=min_key)
        # what the saves of a killed run left half-way (main process, before any rank saves)
        sb.utils.distributed.run_on_main(self._remove_stale_saves)

    def _remove_stale_saves(self):
        for condition in self.save_conditions:
            for label in self.save_labels:
                remove_stale(self._folder(condition, label))

    # ------------------------------------------------------------ one batch
    def on_stage_start(self, stage, epoch=None):
        self.rows: List[Dict] = []

    def evaluate(self, test_set, *args, **kwargs):
        """``Brain.evaluate``, with the saved files' names fixed first from all
        the dataset's ids (the same on every process and in every rerun)."""
        dataset = getattr(test_set, "dataset", test_set)  # a DataLoader or a dataset
        ids = getattr(dataset, "data_ids", None)
        self.file_names = dict(zip(ids, unique_ids(ids))) if ids is not None else {}
        return super().evaluate(test_set, *args, **kwargs)

    def file_name(self, clip_id: str) -> str:
        """The name a clip's saved files start with (see module docstring)."""
        if clip_id not in self.file_names:  # a dataset without data_ids: named as met
            taken = set(self.file_names.values())
            name = base = safe_id(clip_id)
            k = 0
            while name in taken:
                k += 1
                name = f"{base}_{k}"
            self.file_names[clip_id] = name
        return self.file_names[clip_id]

    def _folder(self, condition: str, label: str) -> Optional[str]:
        if label in self.save_labels and condition in self.save_conditions:
            return os.path.join(self.explanations_folder, safe_id(condition), safe_id(label))
        return None

    @staticmethod
    def _saved_row(folder: str, name: str) -> Dict:
        with open(os.path.join(folder, f"{name}.json")) as f:
            return json.load(f)["harness_row"]

    def evaluate_batch(self, batch, stage):
        batch = batch.to(self.device)
        clean, lens = batch.sig
        source = getattr(batch, "source_sig", None)
        background = getattr(batch, "background_sig", None)
        for c, (condition, spec) in enumerate(self.conditions.items()):
            generator = torch.Generator().manual_seed(self.seed + 1000 * self.test_batch_index + c)
            wavs, interference = contaminate(clean, spec.get("kind", "none"), spec.get("snr_db", 0.0),
                                             self.adapter.sample_rate, generator)
            for label, explainer in self.explainers.items():
                folder = self._folder(condition, label)
                names = [self.file_name(clip) for clip in batch.id]
                todo = [i for i, name in enumerate(names) if folder is None or not is_saved(folder, name)]
                self.rows += [self._saved_row(folder, names[i]) for i in range(len(names))
                              if i not in todo]
                if not todo:
                    continue
                idx = torch.tensor(todo, device=wavs.device)
                # trim to the longest clip left, so a clip's grid does not depend on skipped ones
                n = int(math.ceil(float(lens[idx].max()) * wavs.shape[1]))
                sub_lens = (lens[idx] * wavs.shape[1] / n).clamp(max=1.0)
                exp = explainer.explain(wavs[idx, :n], sub_lens, self.target)
                truth = None
                if source is not None and background is not None:
                    truth = (source.data[idx, :n], background.data[idx, :n] + interference[idx, :n])
                scores = self.score(exp, explainer, truth)
                ids = [batch.id[i] for i in todo]
                rows = self._rows(condition, label, ids, exp, scores)
                if folder is not None:
                    exp.save(folder, [names[i] for i in todo], plot=self.save_plots,
                             extra=[{"harness_row": row} for row in rows])
                self.rows += rows
        return torch.zeros(())

    def score(self, exp: Explanation, explainer: Explainer, truth=None) -> Dict[str, torch.Tensor]:
        """Per-clip metrics ``{name: [B]}`` of one batch of explanations
        (:func:`explanation_scores` with this harness's settings)."""
        return explanation_scores(self.adapter, exp, self.curve_steps, truth, self.oracle_class,
                                  self.chunk_size)

    def _rows(self, condition, label, ids, exp: Explanation, scores) -> List[Dict]:
        names = exp.class_names or []
        rows = []
        for i, clip in enumerate(ids):
            c = int(exp.target[i])
            row = {"condition": condition, "method": label, "ID": clip,
                   "target": names[c] if names else str(c)}
            row.update({k: float(v[i]) for k, v in scores.items()})
            rows.append(row)
        return rows

    # ------------------------------------------------------------ the table
    def on_stage_end(self, stage, stage_loss, epoch=None):
        rows = self.gather_test(self.rows)  # every process's share, in the data set's order
        self.table = ResultsTable(rows)
        if sb.utils.distributed.if_main_process():
            self.table.write(self.results_folder, self.extra)
            logger.info("Explainer evaluation (%d rows):\n%s", len(rows), self.table.markdown())


@torch.no_grad()
def explanation_scores(adapter, exp: Explanation, curve_steps: int = 10, truth=None,
                       oracle_class: Optional[str] = None,
                       chunk_size: int = 16) -> Dict[str, torch.Tensor]:
    """Per-clip metrics ``{name: [B]}`` of a batch of explanations: what the
    harness tabulates (see module docstring).

    Arguments
    ---------
    adapter : ClassifierAdapter
        The explained classifier.
    exp : Explanation
        The explanations.
    curve_steps : int
        Steps of the deletion / insertion curves (0 skips them).
    truth : (torch.Tensor, torch.Tensor), optional
        Waveforms ``[B, N]`` of the source of ``oracle_class`` and of the rest.
    oracle_class : str, optional
        The class whose source ``truth`` holds (agreement on clips explained as it).
    chunk_size : int
        Perturbations per forward pass of the curves.
    """
    out = {k: v.float() for k, v in exp.metrics().items()}
    rows = torch.arange(len(exp))
    out["p_masked_in"] = exp.probs_masked_in[rows, exp.target].float()
    out["p_masked_out"] = exp.probs_masked_out[rows, exp.target].float()
    out["mask_mean"] = exp.mask.flatten(1).mean(1)
    device = adapter.device
    wavs, lens, target = exp.input_wav.to(device), exp.wav_lens.to(device), exp.target.to(device)
    if curve_steps:
        scorer = PerturbationScorer(adapter, wavs, lens, target, fill=exp.fill, path="istft",
                                    chunk_size=chunk_size, seed=exp.fill_seed)
        importance = exp.importance if exp.importance is not None else exp.mask
        predict = lambda m: scorer.score_masks(rows, m)  # noqa: E731
        out["deletion_auc"] = M.deletion_auc(predict, importance, curve_steps).float()
        out["insertion_auc"] = M.insertion_auc(predict, importance, curve_steps).float()
    if truth is not None and oracle_class is not None:
        src, rest = (t.to(device) for t in truth)
        explained = exp.target == adapter.class_names.index(oracle_class)
        keep = explained & (src.abs().amax(dim=1).cpu() > 0)
        nan = torch.full((len(exp),), float("nan"))
        agree = {k: nan.clone() for k in ORACLE_KEYS}
        if bool(keep.any()):
            k = keep.nonzero().flatten()
            found = M.oracle_agreement(exp.mask[k], adapter.stft(src[k.to(device)]).abs().cpu(),
                                       adapter.stft(rest[k.to(device)]).abs().cpu())
            for key in ORACLE_KEYS:
                agree[key][k] = found[key].float()
        out.update(agree)
    out["seconds_per_clip"] = torch.full((len(exp),), float(exp.seconds or 0.0) / len(exp))
    if exp.details is not None and all("evaluations" in d for d in exp.details):
        out["evaluations"] = torch.tensor([float(d["evaluations"]) for d in exp.details])
    return out


class ResultsTable:
    """Per-clip rows -> means per (condition, method): markdown, json, csv.

    Example
    -------
    >>> rows = [{"condition": "in_domain", "method": "a", "ID": "x", "AG": 10.0, "oracle_auc": 0.9},
    ...         {"condition": "in_domain", "method": "a", "ID": "y", "AG": 20.0,
    ...          "oracle_auc": float("nan")}]
    >>> summary = ResultsTable(rows).summary()["in_domain"]["a"]
    >>> summary["AG"], summary["oracle_auc"], summary["n"], summary["n_oracle"]
    (15.0, 0.9, 2, 1)
    """

    def __init__(self, rows: Sequence[Dict]):
        seen, self.rows = set(), []
        for row in sorted(rows, key=lambda r: (r["condition"], r["method"], r["ID"])):
            key = (row["condition"], row["method"], row["ID"])
            if key not in seen:  # a clip explained twice (e.g. padded DDP shards) counts once
                seen.add(key)
                self.rows.append(row)

    def summary(self) -> Dict[str, Dict[str, Dict]]:
        """``condition -> method -> {metric: mean, metric_std: std, n, n_oracle}``."""
        groups: Dict = {}
        for row in self.rows:
            groups.setdefault(row["condition"], {}).setdefault(row["method"], []).append(row)
        out: Dict = {}
        for condition, methods in groups.items():
            out[condition] = {}
            for method, rows in methods.items():
                keys = list(dict.fromkeys(k for r in rows for k in r
                                          if k not in ("condition", "method", "ID", "target")))
                entry: Dict = {"n": len(rows)}
                for key in keys:
                    entry[key], entry[f"{key}_std"], _ = _mean_std(
                        [r.get(key, float("nan")) for r in rows])
                if "oracle_auc" in keys:
                    entry["n_oracle"] = sum(1 for r in rows if r.get("oracle_auc") == r.get("oracle_auc"))
                out[condition][method] = entry
        return out

    def markdown(self) -> str:
        summary = self.summary()
        present = {k for methods in summary.values() for e in methods.values() for k in e}
        cols = [c for c in TABLE_COLUMNS if c in present]
        has_oracle = "n_oracle" in present
        head = cols + (["n_oracle"] if has_oracle else []) + ["n"]
        lines = ["| condition | method | " + " | ".join(head) + " |",
                 "|---|---|" + "---|" * len(head)]
        for condition, methods in summary.items():
            for method, entry in methods.items():
                cells = [_fmt(entry.get(c)) for c in head]
                lines.append(f"| {condition} | {method} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def csv_text(self) -> str:
        keys: List[str] = []
        for row in self.rows:
            keys += [k for k in row if k not in keys]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        return buf.getvalue()

    def write(self, folder: str, extra: Optional[Dict] = None) -> None:
        """``results.md``, ``results.json`` and ``per_clip.csv`` in ``folder`` (atomically)."""
        write_text(os.path.join(folder, "results.md"), self.markdown() + "\n")
        write_json(os.path.join(folder, "results.json"), {"results": self.summary(), **(extra or {})})
        write_text(os.path.join(folder, "per_clip.csv"), self.csv_text())


def _mean_std(values) -> Tuple[float, float, int]:
    """Mean, standard deviation and count of the finite (non-NaN) ``values``:
    NaN mean when there is none, std 0 when there is one."""
    values = torch.tensor([float(v) for v in values], dtype=torch.float64)
    finite = values[~values.isnan()]
    count = int(finite.numel())
    mean = float(finite.mean()) if count else float("nan")
    return mean, (float(finite.std()) if count > 1 else 0.0), count


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if value != value:
        return "nan"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


HIGHER_IS_BETTER = ("AI", "AG", "FF", "Fid-In", "insertion_auc", "oracle_auc", "oracle_iou",
                    "time_share")
LOWER_IS_BETTER = ("AD", "deletion_auc")


def read_run(path: str) -> Dict[str, Dict[str, Dict]]:
    """``condition -> method -> entry`` of one harness run (its folder or its
    ``results.json``); several runs joined by ``,`` (e.g. the L-MAC recipe's
    run and an ``evaluate.py`` run of the same classifier) are merged, the
    first run giving a method wins."""
    merged: Dict[str, Dict[str, Dict]] = {}
    for part in path.split(","):
        file = os.path.join(part, "results.json") if os.path.isdir(part) else part
        if not os.path.isfile(file):
            raise FileNotFoundError(f"{part}: no results.json; give a folder written by the "
                                    "evaluation harness (results.md, results.json, per_clip.csv)")
        with open(file) as f:
            try:
                results = json.load(f)["results"]
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"{file}: not a results.json of the evaluation harness "
                                 "(no 'results' table); rerun the evaluation") from None
        for condition, methods in results.items():
            for method, entry in methods.items():
                merged.setdefault(condition, {}).setdefault(method, entry)
    return merged


def summarize_runs(paths: Sequence[str], columns: Sequence[str] = TABLE_COLUMNS) -> Dict:
    """Mean and spread over runs (seeds of a whole chain) of the harness tables.

    Each run is read with :func:`read_run`; for every condition, method and
    column the runs' means are averaged: ``{condition: {method: {column:
    (mean, std over runs, number of runs)}}}``. A method or column missing
    from a run is averaged over the runs that have it.

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> for seed, auc in enumerate([0.6, 0.8]):
    ...     path = os.path.join(folder, f"run{seed}.json")
    ...     write_json(path, {"results": {"in_domain": {"a": {"oracle_auc": auc}}}})
    >>> mean, std, runs = summarize_runs([os.path.join(folder, f"run{i}.json") for i in (0, 1)],
    ...                                  ["oracle_auc"])["in_domain"]["a"]["oracle_auc"]
    >>> round(mean, 3), round(std, 3), runs
    (0.7, 0.141, 2)
    """
    if not paths:
        raise ValueError("give at least one run")
    runs = [read_run(p) for p in paths]
    out: Dict = {}
    for run in runs:
        for condition, methods in run.items():
            for method in methods:
                out.setdefault(condition, {}).setdefault(method, {})
    for condition, methods in out.items():
        for method, cells in methods.items():
            for column in columns:
                values = [run[condition][method][column] for run in runs
                          if method in run.get(condition, {}) and column in run[condition][method]]
                mean, std, count = _mean_std(v for v in values if v is not None)
                if count:
                    cells[column] = (mean, std, count)
    return out


def runs_markdown(summary: Dict, columns: Sequence[str] = TABLE_COLUMNS) -> str:
    """The table of :func:`summarize_runs`: ``mean ± std`` per cell, the best
    method of each condition in bold where the column has a direction, and the
    number of runs."""
    present = [c for c in columns if any(c in cells for methods in summary.values()
                                         for cells in methods.values())]
    lines = ["| condition | method | " + " | ".join(present) + " | runs |",
             "|---|---|" + "---|" * (len(present) + 1)]
    for condition, methods in summary.items():
        best = {}
        for column in present:
            means = {m: cells[column][0] for m, cells in methods.items() if column in cells}
            if len(means) < 2:  # nothing to compare with
                continue
            if column in HIGHER_IS_BETTER:
                best[column] = max(means, key=means.get)
            elif column in LOWER_IS_BETTER:
                best[column] = min(means, key=means.get)
        for method, cells in methods.items():
            row = []
            for column in present:
                if column not in cells:
                    row.append("-")
                    continue
                mean, std, count = cells[column]
                text = f"{_fmt(mean)} ± {_fmt(std)}" if count > 1 else _fmt(mean)
                row.append(f"**{text}**" if best.get(column) == method else text)
            runs = max((cells[c][2] for c in present if c in cells), default=0)
            lines.append(f"| {condition} | {method} | " + " | ".join(row) + f" | {runs} |")
    return "\n".join(lines)


def evaluate_explainers(adapter, explainers, dataset, results_folder: str,
                        loader_kwargs: Optional[Dict] = None, run_opts: Optional[Dict] = None,
                        **options) -> ResultsTable:
    """Runs :class:`ExplainerEvaluationBrain` over ``dataset`` and returns its table.

    Arguments
    ---------
    adapter : ClassifierAdapter
        The explained classifier.
    explainers : dict
        ``{label: Explainer | options}``.
    dataset : DynamicItemDataset
        Gives ``id`` and ``sig`` (and ``source_sig``, ``background_sig`` for ground truth).
    results_folder : str
        Where the results go.
    loader_kwargs : dict, optional
        For SpeechBrain's data loader (batch size, workers).
    run_opts : dict, optional
        SpeechBrain run options (device, distributed launch...).
    **options
        The other arguments of :class:`ExplainerEvaluationBrain`.
    """
    brain = ExplainerEvaluationBrain(adapter, explainers, results_folder, run_opts=run_opts,
                                     **options)
    brain.evaluate(dataset, test_loader_kwargs=dict(loader_kwargs or {}))
    return brain.table


def select_explainers(explainers: Dict, methods=None) -> Dict:
    """The entries of ``explainers`` named by ``methods`` (a label or a list of
    labels, in that order); all of them when ``methods`` is empty.

    >>> select_explainers({"ga": {}, "lime": {}, "gradcam": {}}, ["gradcam", "ga"])
    {'gradcam': {}, 'ga': {}}
    >>> select_explainers({"ga": {}}, "lime")
    Traceback (most recent call last):
    ...
    ValueError: methods: 'lime' is not an explainer of this configuration; choose among ga
    """
    if not methods:
        return dict(explainers)
    names = [methods] if isinstance(methods, str) else list(methods)
    for name in names:
        if name not in explainers:
            raise ValueError(f"methods: {name!r} is not an explainer of this configuration; "
                             f"choose among {', '.join(explainers)}")
    return {name: explainers[name] for name in names}


@reads_hparams("classifier", "explainers", "output_folder", "dataloader_opts",
               optional=("conditions", "oracle_class", "target", "curve_steps", "test_seed",
                         "explanations_folder", "save_explanations", "save_plots", "chunk_size",
                         "methods"))
def run_evaluation(hparams: Dict, run_opts: Dict, dataset) -> ResultsTable:
    """The evaluation recipes' step (VocalMix, ESC-50): :func:`evaluate_explainers`
    with the hyperparameters ``classifier``, ``explainers``, ``output_folder``
    (results), ``dataloader_opts`` and, optionally, ``conditions``,
    ``oracle_class``, ``target``, ``curve_steps``, ``test_seed``,
    ``explanations_folder``, ``save_explanations``, ``save_plots``, ``chunk_size`` and
    ``methods`` (labels of ``explainers`` to run, in that order; null: all of them)."""
    require_hparams(hparams, run_evaluation, "run_evaluation")
    get = hparams.get
    return evaluate_explainers(
        hparams["classifier"], select_explainers(hparams["explainers"], get("methods")), dataset,
        hparams["output_folder"],
        loader_kwargs=hparams["dataloader_opts"], run_opts=run_opts,
        conditions=get("conditions"), oracle_class=get("oracle_class"), target=get("target"),
        curve_steps=get("curve_steps", 10), seed=get("test_seed", 0),
        explanations_folder=get("explanations_folder"),
        save_explanations=get("save_explanations", False), save_plots=get("save_plots", True),
        chunk_size=get("chunk_size", 16),
    )
