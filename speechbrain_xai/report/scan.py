"""What a report shows, found in an output folder at any depth.

Three kinds of outputs are recognised by their content, not by the order or
the time they were written:

* **explanations** saved by :meth:`Explanation.save`: ``<id>.json`` (a
  summary with ``method``, ``target``, ``prob_input`` and ``metrics``) beside
  ``<id>_input.wav``, ``<id>_masked_in.wav``, ``<id>_masked_out.wav`` and
  ``<id>.png``. Each belongs to a *method* and a *group*:

  - saved by the harness (the json has a ``harness_row``): the row's
    ``method``, and its ``condition`` after the path of the run folder (the
    nearest folder above with a ``results.json``) when that is not the
    report's folder;
  - otherwise (``speechbrain-xai explain``'s ``OUT/<method>/<id>.*``): the
    folder's name is the method and the path of the folder above it (when not
    the report's folder) is the group;

* **harness results**: ``results.json`` with ``{"results": {condition: {method: means}}}``;
* **activation-maximisation searches**: a folder with ``ranking.json`` (and
  the ``<direction>_<selected|most_extreme>`` pictures and audio of
  :func:`speechbrain_xai.brains.am_search.report_search`), matched with the
  run of a ``summary.json`` at or above it that reports the same settings.

Paths kept here are absolute; the HTML writer makes them relative.

Example
-------
>>> import os, tempfile
>>> from speechbrain_xai.files import write_json
>>> root = tempfile.mkdtemp()
>>> write_json(os.path.join(root, "saliency", "clip.json"),
...            {"method": "saliency", "target": 0, "target_name": "yes", "prob_input": 0.9,
...             "prob_masked_in": 0.8, "prob_masked_out": 0.1, "metrics": {"AI": 0.0}})
>>> content = scan_folder(root)
>>> [(e.clip_id, e.group, e.method, e.files["input"]) for e in content.explanations]
[('clip', '', 'saliency', None)]
>>> content.summaries[0].means
{'AI': 0.0, 'p_masked_in': 0.8, 'p_masked_out': 0.1}
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from speechbrain.utils.logger import get_logger

logger = get_logger(__name__)

#: Files of a saved explanation, by role: suffix after the clip id.
EXPLANATION_FILES = {"input": "_input.wav", "masked_in": "_masked_in.wav",
                     "masked_out": "_masked_out.wav", "picture": ".png"}
_EXPLANATION_KEYS = ("method", "target", "prob_input", "metrics")
_TABLE_SKIP = ("n", "n_oracle")  # counts, not means, in a results.json entry


@dataclass
class ClipExplanation:
    """One saved explanation of one clip."""

    clip_id: str
    group: str  # the run / condition ("" when there is one)
    method: str
    summary: Dict  # the explanation's json
    files: Dict[str, Optional[str]]  # role (EXPLANATION_FILES) -> path, None when absent

    @property
    def metrics(self) -> Dict[str, float]:
        """The clip's numbers: the json's ``metrics``, ``p_masked_in`` /
        ``p_masked_out``, ``seconds_per_clip``, then the harness row's other
        numbers (deletion / insertion AUC, oracle agreement...)."""
        s = self.summary
        out = {k: v for k, v in s["metrics"].items() if _is_number(v)}
        out["p_masked_in"], out["p_masked_out"] = s.get("prob_masked_in"), s.get("prob_masked_out")
        if _is_number(s.get("seconds")):
            out["seconds_per_clip"] = s["seconds"]
        for key, value in (s.get("harness_row") or {}).items():
            if _is_number(value) and key not in out:
                out[key] = value
        return {k: v for k, v in out.items() if _is_number(v)}

    @property
    def predicted(self) -> Optional[str]:
        """The class predicted on the input (argmax of ``probs_input``), when saved."""
        probs = self.summary.get("probs_input")
        if not probs:
            return None
        best = max(range(len(probs)), key=probs.__getitem__)
        names = self.summary.get("class_names") or []
        return str(names[best]) if best < len(names) else str(best)


@dataclass
class MethodSummary:
    """Means over the clips of one method in one group."""

    group: str
    method: str
    n: int
    means: Dict[str, float]
    stds: Dict[str, float]
    source: str  # the results.json it comes from, or "" when averaged from explanations


@dataclass
class AMExample:
    """A rendered setting of a search: ``<direction>_<selected|most_extreme>``."""

    tag: str
    picture: Optional[str]
    audio: List[str]
    row: Dict  # its ranking row (with the summary's extra scores when found)


@dataclass
class AMSearch:
    """One activation-maximisation search folder."""

    folder: str
    rows: List[Dict]  # ranking.json: by direction, then Fréchet distance
    examples: List[AMExample]
    facts: Dict[str, object] = field(default_factory=dict)  # from summary.json, flattened


@dataclass
class ReportContent:
    """Everything found under ``root``."""

    root: str
    explanations: List[ClipExplanation]
    summaries: List[MethodSummary]
    searches: List[AMSearch]


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as err:
        logger.warning("Report: skipping %s (%s)", path, err)
        return None


def _is_explanation(data) -> bool:
    return (isinstance(data, dict) and all(k in data for k in _EXPLANATION_KEYS)
            and isinstance(data["metrics"], dict))


def _is_ranking(data) -> bool:
    return isinstance(data, list) and bool(data) and \
        all(isinstance(r, dict) and "setting" in r for r in data)


def _rel(path: str, root: str) -> str:
    rel = os.path.relpath(path, root)
    return "" if rel == "." else rel.replace(os.sep, "/")


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def _file_or_none(path: str) -> Optional[str]:
    return path if os.path.isfile(path) else None


def scan_folder(root: str) -> ReportContent:
    """Finds the explanations, harness results and searches under ``root``
    (see module docstring), sorted so that the report does not depend on the
    order files were written. Hidden files and folders (the temporaries of
    :mod:`speechbrain_xai.files`) are passed over."""
    root = os.path.abspath(root)
    runs: Dict[str, Dict] = {}  # folder -> results.json's "results"
    explanations, rankings, am_summaries = [], {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(n for n in filenames if n.endswith(".json") and not n.startswith(".")):
            path = os.path.join(dirpath, name)
            data = _read_json(path)
            if _is_explanation(data):
                explanations.append(_explanation(path, data, root, runs))
            elif name == "results.json" and isinstance(data, dict) and isinstance(data.get("results"), dict):
                runs[dirpath] = data["results"]
            elif name == "ranking.json" and _is_ranking(data):
                rankings[dirpath] = data
            elif name == "summary.json" and isinstance(data, dict) and isinstance(data.get("runs"), dict):
                am_summaries[dirpath] = data
    explanations.sort(key=lambda e: (e.clip_id, e.group, e.method))
    summaries = _run_summaries(runs, root)
    covered = {(s.group, s.method) for s in summaries}
    summaries += _averaged_summaries([e for e in explanations if (e.group, e.method) not in covered])
    searches = [_search(folder, rows, am_summaries, root) for folder, rows in sorted(rankings.items())]
    return ReportContent(root, explanations, summaries, searches)


def _explanation(path: str, data: Dict, root: str, runs: Dict[str, Dict]) -> ClipExplanation:
    folder = os.path.dirname(path)
    clip_id = os.path.basename(path)[: -len(".json")]
    row = data.get("harness_row")
    if isinstance(row, dict) and "method" in row:
        # the run folder: the nearest one above with a results.json (os.walk saw it first)
        run = next((d for d in _ancestors(folder, root) if d in runs), None)
        if run is None:  # no results.json: the explanations folder (<folder>/<condition>/<method>)
            run = max(os.path.dirname(os.path.dirname(folder)), root, key=len)
        group, method = _join(_rel(run, root), str(row.get("condition", ""))), str(row["method"])
    elif folder == root:
        group, method = "", str(data["method"] or "explanation")
    else:
        group, method = _rel(os.path.dirname(folder), root), os.path.basename(folder)
    files = {role: _file_or_none(os.path.join(folder, clip_id + suffix))
             for role, suffix in EXPLANATION_FILES.items()}
    return ClipExplanation(clip_id, group, method, data, files)


def _ancestors(folder: str, root: str):
    while True:
        yield folder
        if folder == root or os.path.dirname(folder) == folder:
            return
        folder = os.path.dirname(folder)


def _run_summaries(runs: Dict[str, Dict], root: str) -> List[MethodSummary]:
    out = []
    for folder, results in sorted(runs.items()):
        source = _rel(os.path.join(folder, "results.json"), root)
        for condition, methods in results.items():
            for method, entry in methods.items():
                keys = [k for k in entry if not k.endswith("_std") and k not in _TABLE_SKIP
                        and _is_number(entry[k])]
                out.append(MethodSummary(
                    _join(_rel(folder, root), str(condition)), str(method), int(entry.get("n", 0)),
                    {k: entry[k] for k in keys},
                    {k: entry[f"{k}_std"] for k in keys if _is_number(entry.get(f"{k}_std"))},
                    source))
    return out


def _averaged_summaries(explanations: List[ClipExplanation]) -> List[MethodSummary]:
    groups: Dict[Tuple[str, str], List[Dict[str, float]]] = {}
    for e in explanations:
        groups.setdefault((e.group, e.method), []).append(e.metrics)
    out = []
    for (group, method), rows in sorted(groups.items()):
        keys = list(dict.fromkeys(k for r in rows for k in r))
        means, stds = {}, {}
        for key in keys:
            values = [r[key] for r in rows if key in r and not math.isnan(r[key])]
            means[key] = sum(values) / len(values) if values else float("nan")
            if len(values) > 1:  # sample standard deviation, as the harness's table
                stds[key] = math.sqrt(sum((v - means[key]) ** 2 for v in values) / (len(values) - 1))
        out.append(MethodSummary(group, method, len(rows), means, stds, ""))
    return out


def _search(folder: str, rows: List[Dict], am_summaries: Dict[str, Dict], root: str) -> AMSearch:
    run_name, run, summary = _matching_run(folder, rows, am_summaries, root)
    examples = []
    for direction in sorted({str(r.get("direction", "max")) for r in rows}):
        mine = [r for r in rows if r.get("direction", "max") == direction]
        extreme = (max if direction == "max" else min)(mine, key=lambda r: r.get("act_mean", 0.0))
        chosen = {"selected": next((r for r in mine if r.get("selected")), mine[0]),
                  "most_extreme": extreme}
        for kind, row in chosen.items():
            tag = f"{direction}_{kind}"
            audio = sorted((n for n in os.listdir(folder) if re.fullmatch(re.escape(tag) + r"_\d+\.wav", n)),
                           key=lambda n: int(n[len(tag) + 1: -len(".wav")]))
            picture = _file_or_none(os.path.join(folder, tag + ".png"))
            if picture is None and not audio:
                continue  # this setting was not rendered
            examples.append(AMExample(tag, picture, [os.path.join(folder, n) for n in audio],
                                      dict(run.get(tag) or row)))
    facts: Dict[str, object] = {}
    if summary is not None:
        facts = _flatten({k: v for k, v in summary.items() if k != "runs"})
        facts["run"] = run_name
        facts.update(_flatten({k: v for k, v in run.items() if not isinstance(v, dict)}))
    return AMSearch(folder, rows, examples, facts)


def _matching_run(folder: str, rows: List[Dict], am_summaries: Dict[str, Dict], root: str):
    """The run of a ``summary.json`` at or above ``folder`` whose reported
    rows are rows of this ranking (summary.json does not name folders)."""
    ranked = {(r.get("setting"), r.get("act_mean")) for r in rows}
    for above in _ancestors(folder, root):
        summary = am_summaries.get(above)
        for name, run in sorted((summary or {}).get("runs", {}).items()):
            reported = [v for v in run.values() if isinstance(v, dict) and "setting" in v] \
                if isinstance(run, dict) else []
            if reported and all((v["setting"], v.get("act_mean")) in ranked for v in reported):
                return name, run, summary
    return "", {}, None


def _flatten(data: Dict, prefix: str = "") -> Dict[str, object]:
    out: Dict[str, object] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out
