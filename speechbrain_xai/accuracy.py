"""Accuracy of a classifier on a labelled manifest, overall and per group.

:func:`classify_manifest` runs a :class:`~speechbrain_xai.adapter.ClassifierAdapter`
over every clip of a SpeechBrain CSV manifest (``ID``, ``wav``, ``label`` and
any other columns) and returns one row per clip; :func:`accuracy_report`
counts what it got right overall and per value of chosen columns (the class,
a clip's kind, its condition...); :func:`report_markdown` writes that as
Markdown tables with the errors listed.

Example
-------
>>> rows = [{"ID": "a", "label": "voice", "kind": "x", "predicted": "voice", "p_label": 0.9},
...         {"ID": "b", "label": "no_voice", "kind": "x", "predicted": "voice", "p_label": 0.2},
...         {"ID": "c", "label": "no_voice", "kind": "y", "predicted": "no_voice", "p_label": 0.7}]
>>> report = accuracy_report(rows, ("label", "kind"))
>>> report["overall"]
{'n': 3, 'correct': 2, 'accuracy': 0.6667}
>>> report["by"]["kind"]["x"]
{'n': 2, 'correct': 1, 'accuracy': 0.5}
>>> [e["ID"] for e in report["errors"]]
['b']
>>> print(report_markdown(report, ("label",)).splitlines()[0])
Overall: **66.7%** (2 of 3 clips right).
"""

from __future__ import annotations

import csv
import os
from typing import Dict, List, Mapping, Optional, Sequence

import torch

from speechbrain_xai.data.inputs import read_clip


def classify_manifest(adapter, manifest: str, data_root: Optional[str] = None,
                      batch_size: int = 32) -> List[Dict]:
    """Classifies every clip of a manifest.

    Arguments
    ---------
    adapter : speechbrain_xai.adapter.ClassifierAdapter
        The classifier; its ``class_names`` must hold every ``label`` of the
        manifest.
    manifest : str
        A CSV with ``ID``, ``wav`` and ``label`` columns (``$data_root`` in
        paths is replaced by ``data_root``, default the manifest's folder).
    data_root : str, optional
        What ``$data_root`` stands for.
    batch_size : int
        Clips per forward pass (clips of a batch are zero-padded to the
        longest, with their relative lengths passed on).

    Returns
    -------
    list of dict
        The manifest's rows, each with ``predicted`` (class name),
        ``p_label`` (the probability of the true class), ``p_predicted`` and
        ``correct`` (bool) added.
    """
    root = os.path.dirname(os.path.abspath(manifest)) if data_root is None else data_root
    with open(manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    names = list(adapter.class_names or [])
    unknown = sorted({r["label"] for r in rows} - set(names))
    if unknown:
        raise ValueError(f"{manifest} has labels {unknown} the classifier does not know "
                         f"(its classes: {names}); evaluate it on a set with its classes.")
    out = []
    for first in range(0, len(rows), batch_size):
        batch = rows[first:first + batch_size]
        wavs = [read_clip(r["wav"].replace("$data_root", root), adapter.sample_rate) for r in batch]
        longest = max(len(w) for w in wavs)
        padded = torch.zeros(len(wavs), longest)
        for i, wav in enumerate(wavs):
            padded[i, :len(wav)] = wav
        lens = torch.tensor([len(w) / longest for w in wavs])
        with torch.no_grad():
            probs, predicted = adapter.predict(*adapter.prepare(padded, lens))
        for row, p, k in zip(batch, probs.cpu(), predicted.cpu().tolist()):
            out.append({**row, "predicted": names[k],
                        "p_label": round(float(p[names.index(row["label"])]), 4),
                        "p_predicted": round(float(p[k]), 4), "correct": names[k] == row["label"]})
    return out


def _count(rows: Sequence[Mapping]) -> Dict:
    correct = sum(1 for r in rows if r["predicted"] == r["label"])
    return {"n": len(rows), "correct": correct,
            "accuracy": round(correct / len(rows), 4) if rows else float("nan")}


def accuracy_report(rows: Sequence[Mapping], group_by: Sequence[str] = ("label",)) -> Dict:
    """Accuracy overall and per value of each ``group_by`` column.

    Arguments
    ---------
    rows : list of dict
        Clips with ``label`` and ``predicted`` (e.g. from :func:`classify_manifest`).
    group_by : list of str
        Columns to break the accuracy down by (values in order of appearance).

    Returns
    -------
    dict
        ``overall`` and ``by[column][value]`` as ``{"n", "correct",
        "accuracy"}`` (accuracy rounded to 4 decimals), and ``errors``: the
        wrong rows.
    """
    by = {}
    for column in group_by:
        groups: Dict[str, List[Mapping]] = {}
        for row in rows:
            groups.setdefault(str(row[column]), []).append(row)
        by[column] = {value: _count(members) for value, members in groups.items()}
    return {"overall": _count(rows), "by": by,
            "errors": [dict(r) for r in rows if r["predicted"] != r["label"]]}


def _pct(entry: Mapping) -> str:
    return f"{100 * entry['accuracy']:.1f}%"


def report_markdown(report: Mapping, group_by: Sequence[str],
                    error_columns: Sequence[str] = ("ID", "label", "predicted", "p_label"),
                    annotations: Optional[Mapping[str, Mapping[str, Mapping[str, str]]]] = None
                    ) -> str:
    """The report as Markdown: the overall accuracy, one table per column of
    ``group_by``, and the errors with ``error_columns``.

    ``annotations`` adds cells to a column's table: ``{column: {value:
    {heading: text}}}`` (e.g. the class and the packages of each kind).

    Example
    -------
    >>> rows = [{"ID": "a", "label": "voice", "kind": "x", "predicted": "no_voice"}]
    >>> text = report_markdown(accuracy_report(rows, ["kind"]), ["kind"], ["ID"],
    ...                        {"kind": {"x": {"label": "voice"}}})
    >>> print(text.splitlines()[4])
    | x | voice | 1 | 0 | 0.0% |
    """
    annotations = annotations or {}
    total = report["overall"]
    lines = [f"Overall: **{_pct(total)}** ({total['correct']} of {total['n']} clips right)."]
    for column in group_by:
        notes = annotations.get(column, {})
        extra = list(dict.fromkeys(h for cells in notes.values() for h in cells))
        head = [column] + extra + ["n", "correct", "accuracy"]
        lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for value, entry in report["by"][column].items():
            cells = [value] + [notes.get(value, {}).get(h, "") for h in extra]
            cells += [str(entry["n"]), str(entry["correct"]), _pct(entry)]
            lines.append("| " + " | ".join(cells) + " |")
    errors = report["errors"]
    lines += ["", f"Errors ({len(errors)}):"]
    if errors:
        lines += ["", "| " + " | ".join(error_columns) + " |", "|" + "---|" * len(error_columns)]
        lines += ["| " + " | ".join(str(e.get(c, "")) for c in error_columns) + " |"
                  for e in errors]
    return "\n".join(lines)
