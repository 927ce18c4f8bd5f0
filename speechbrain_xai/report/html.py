"""The HTML listening report: one self-contained page per output folder.

:func:`write_report` scans a folder (:func:`~speechbrain_xai.report.scan.scan_folder`)
and writes ``<folder>/report.html``, in this order:

1. a summary table per source: clips and mean metrics per method (and run /
   condition), from the harness's ``results.json`` when there is one, else
   averaged over the saved explanations (the standard deviation under each mean);
2. the clips, one collapsible ``<details>`` each (the first ``open_clips``
   open), holding one card per method: the spectrogram / mask / masked-in
   picture beside players for the original, masked-in and masked-out audio,
   the explained class and its probability on each, and the clip's metrics;
3. the activation-maximisation searches: the selected and the most extreme
   setting of each direction (picture grid, rendered audio, scores), then
   every setting ranked by Fréchet distance.

The page has inline CSS, no script and no external resource; links are
relative and URL-quoted, so the folder can be moved or served as it is
(``python -m http.server``). Every string read from files is HTML-escaped.
Pieces that are missing when the report is written (no PNG without
matplotlib) are named as missing instead of linked.

Players of closed clips use ``preload="none"`` and their pictures
``loading="lazy"``: Chromium creates at most 1000 media players per page
and refuses the rest with an error, and 200 clips x 10 methods x 3 players
would pass it. Open clips preload their metadata (durations show at once)
up to :data:`PRELOADED_PLAYERS` players.
"""

from __future__ import annotations

import html
import itertools
import math
import os
from typing import Dict, Iterable, List, Optional, Sequence
from urllib.parse import quote

from speechbrain_xai.files import write_text
from speechbrain_xai.report.scan import AMSearch, ClipExplanation, MethodSummary, ReportContent, scan_folder

REPORT_NAME = "report.html"
#: Most players of open clips that preload metadata (Chromium allows 1000 per page).
PRELOADED_PLAYERS = 300
#: One line per known column of the tables.
GLOSSARY = {
    "AI": "average increase: 100 if the class is more probable on the masked-in audio",
    "AD": "average drop (%) of the class's probability on the masked-in audio",
    "AG": "average gain (%) of the class's probability on the masked-in audio",
    "FF": "faithfulness: probability on the input minus on the masked-out audio",
    "Fid-In": "1 if the masked-in audio keeps the decision",
    "SPS": "sparseness of the mask (Gini index)",
    "COMP": "complexity of the mask (entropy)",
    "p_masked_in": "probability of the explained class on the masked-in audio",
    "p_masked_out": "probability of the explained class on the masked-out audio",
    "mask_mean": "mean of the mask",
    "deletion_auc": "area under the deletion curve (lower: the first bins removed matter more)",
    "insertion_auc": "area under the insertion curve (higher: the first bins inserted suffice)",
    "oracle_auc": "ROC AUC of the mask against the true source's bins",
    "oracle_iou": "IoU of the mask with the true source's bins",
    "energy_precision": "share of the masked-in energy that belongs to the true source",
    "time_share": "share of the mask's mass in the frames where the true source sounds",
    "energy_recall": "share of the true source's energy that is masked in",
    "seconds_per_clip": "seconds to explain one clip",
    "evaluations": "classifier evaluations per clip",
}
#: Ranking-row fields that the setting's name already says (left out of an example's scores).
_SETTING_FIELDS = ("setting", "direction", "selected", "steps", "lr", "penalty")
_AUDIO_ROLES = (("input", "original"), ("masked_in", "masked-in"), ("masked_out", "masked-out"))

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1280px;padding:0 16px 48px;
color:#1d2330;background:#fff}
h1{font-size:22px;margin:20px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d8dce6}
h3{font-size:15px;margin:16px 0 6px}h4{font-size:14px;margin:0 0 6px}
nav a{margin-right:14px}.muted{color:#667085}.missing{color:#b42318;font-style:italic}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}
th,td{border-bottom:1px solid #e4e7ee;padding:3px 8px;text-align:right;white-space:nowrap;
vertical-align:top}th{background:#f3f5f9;position:sticky;top:0}
td.text,th.text{text-align:left}td small{display:block;color:#667085;font-size:11px}
tr.selected td{background:#ecfdf3;font-weight:600}
details.clip{border:1px solid #d8dce6;border-radius:6px;margin:6px 0;background:#fafbfd}
details.clip>summary{cursor:pointer;padding:6px 10px;font-weight:600}
.cards{display:grid;gap:10px;padding:0 10px 10px}
.card{border:1px solid #e4e7ee;border-radius:6px;background:#fff;padding:8px 10px;
display:grid;grid-template-columns:minmax(0,1fr) 300px;gap:8px 14px}
.card.nopic{grid-template-columns:minmax(0,420px)}.card h4,.card .metrics{grid-column:1/-1}
img{max-width:100%;height:auto;display:block}
.player{font-size:12px;color:#475467;margin-bottom:4px}
audio{width:100%;height:32px;display:block}
.metrics,.facts{display:flex;flex-wrap:wrap;gap:2px 16px;margin:0;font-size:12px}
.metrics div,.facts div{display:flex;gap:5px}
dt{color:#667085}dd{margin:0;font-variant-numeric:tabular-nums}
.examples{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:12px}
.glossary{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;font-size:12px}
figure{margin:0;border:1px solid #e4e7ee;border-radius:6px;padding:8px}figcaption{font-weight:600}
"""


def write_report(folder: str, title: Optional[str] = None, open_clips: int = 3) -> str:
    """Writes ``<folder>/report.html`` for the outputs found under ``folder``
    (see module docstring), replacing any previous report atomically.

    Arguments
    ---------
    folder : str
        An output folder: of ``speechbrain-xai explain`` (``<method>/<id>.*``),
        of the evaluation harness (``results.json``, ``explanations/``), of
        an activation-maximisation search (``ranking.json``), or any folder
        above them.
    title : str, optional
        The page's title (default: the folder's name).
    open_clips : int
        Clips shown open (their players preload metadata); the others are
        collapsed and load when played.

    Returns
    -------
    str
        The path of the report.

    Example
    -------
    A folder with one explanation's json (no audio, no picture):

    >>> import json, os, tempfile
    >>> root = tempfile.mkdtemp()
    >>> os.mkdir(os.path.join(root, "saliency"))
    >>> summary = dict(method="saliency", target=0, target_name="<yes>", prob_input=0.9,
    ...                prob_masked_in=0.8, prob_masked_out=0.1, metrics=dict(AI=0.0))
    >>> with open(os.path.join(root, "saliency", "a&b.json"), "w") as f:
    ...     json.dump(summary, f)
    >>> page = open(write_report(root)).read()
    >>> "a&amp;b" in page and "&lt;yes&gt;" in page and "<yes>" not in page
    True
    """
    if not os.path.isdir(folder):
        raise ValueError(f"No folder {folder!r}: give the output folder of an explanation run, "
                         "the evaluation harness or an activation-maximisation search.")
    content = scan_folder(folder)
    if not (content.explanations or content.summaries or content.searches):
        raise ValueError(
            f"Nothing to report in {folder!r}: no saved explanation (<id>.json from "
            "Explanation.save), harness results (results.json) or activation-maximisation "
            "search (ranking.json) below it. Give the folder those were written to.")
    path = os.path.join(folder, REPORT_NAME)
    write_text(path, render_report(content, title or os.path.basename(os.path.abspath(folder)),
                                   open_clips))
    return path


def render_report(content: ReportContent, title: str, open_clips: int = 3) -> str:
    """The page for ``content`` (:func:`~speechbrain_xai.report.scan.scan_folder`)."""
    page = _Page(content.root)
    clips = [(cid, list(group)) for cid, group in
             itertools.groupby(content.explanations, key=lambda e: e.clip_id)]
    methods = {(e.group, e.method) for e in content.explanations} | \
        {(s.group, s.method) for s in content.summaries}
    counts = [f"{len(clips)} clips", f"{len(methods)} methods", f"{len(content.searches)} searches"]
    nav = [("summary", "Summary"), ("clips", "Clips"), ("am", "Activation maximisation")]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>", '<link rel="icon" href="data:,">',
        f"<style>{CSS}</style></head><body>",
        f"<header><h1>{_e(title)}</h1><p class=\"muted\">{' · '.join(counts)}</p>",
        "<nav>" + "".join(f'<a href="#{a}">{t}</a>' for a, t in nav) + "</nav></header>",
        _summary_section(content.summaries),
        page.clips_section(clips, open_clips),
        page.searches_section(content.searches),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------
# Small pieces
# --------------------------------------------------------------------------
def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _num(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _e(value)
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "n/a"
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def png_size(path: str) -> Optional[tuple]:
    """``(width, height)`` from a PNG's header, None when it is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def _facts(items: Dict[str, object], css: str = "facts") -> str:
    cells = "".join(f"<div><dt>{_e(k)}</dt><dd>{_num(v)}</dd></div>" for k, v in items.items())
    return f'<dl class="{css}">{cells}</dl>'


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], text_columns: Sequence[int],
           row_classes: Optional[Sequence[str]] = None) -> str:
    """A table from escaped cells; the columns ``text_columns`` are left-aligned."""
    cls = lambda i: ' class="text"' if i in text_columns else ""  # noqa: E731
    lines = ["<div class=\"scroll\"><table><thead><tr>"
             + "".join(f"<th{cls(i)}>{h}</th>" for i, h in enumerate(head)) + "</tr></thead><tbody>"]
    for r, row in enumerate(rows):
        attr = f' class="{row_classes[r]}"' if row_classes and row_classes[r] else ""
        lines.append(f"<tr{attr}>" + "".join(f"<td{cls(i)}>{c}</td>" for i, c in enumerate(row))
                     + "</tr>")
    return "\n".join(lines) + "</tbody></table></div>"


def _columns(dicts: Iterable[Dict]) -> List[str]:
    """Keys in order of first appearance."""
    return list(dict.fromkeys(k for d in dicts for k in d))


def _summary_section(summaries: List[MethodSummary]) -> str:
    out = ['<section id="summary"><h2>Summary</h2>']
    if not summaries:
        out.append('<p class="muted">No explanation or harness results.</p>')
    for source, group in itertools.groupby(summaries, key=lambda s: s.source):
        group = list(group)
        where = f"from <code>{_e(source)}</code>" if source else "averaged over the saved explanations"
        out.append(f'<h3>Mean metrics per method, {where}</h3>')
        metrics = _columns(s.means for s in group)
        with_group = any(s.group for s in group)
        head = (["run / condition"] if with_group else []) + ["method", "clips"] + [_e(m) for m in metrics]
        rows = []
        for s in group:
            cells = ([_e(s.group)] if with_group else []) + [_e(s.method), str(s.n)]
            for m in metrics:
                std = f"<small>± {_num(s.stds[m])}</small>" if m in s.stds else ""
                cells.append(_num(s.means[m]) + std if m in s.means else "–")
            rows.append(cells)
        out.append(_table(head, rows, range(2 if with_group else 1)))
    known = {m: GLOSSARY[m] for m in _columns(s.means for s in summaries) if m in GLOSSARY}
    if known:
        out.append('<details><summary class="muted">What the columns mean</summary><dl class="glossary">'
                   + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in known.items())
                   + "</dl></details>")
    out.append("</section>")
    return "\n".join(out)


class _Page:
    """Links relative to the report's folder, and the players' preload budget."""

    def __init__(self, root: str):
        self.root = root
        self.preloaded = 0

    def href(self, path: str) -> str:
        return _e(quote(os.path.relpath(path, self.root).replace(os.sep, "/"), safe="/"))

    def picture(self, path: Optional[str], alt: str, eager: bool, what: str = "picture") -> str:
        size = png_size(path) if path else None
        if size is None:
            why = "missing" if path is None else "not a PNG"
            return f'<span class="missing">{what} {why}</span>'
        lazy = "" if eager else ' loading="lazy"'
        return (f'<img src="{self.href(path)}" width="{size[0]}" height="{size[1]}" '
                f'alt="{_e(alt)}"{lazy}>')

    def player(self, path: Optional[str], label: str, eager: bool, aria: str = "") -> str:
        if path is None:
            return f'<div class="player">{_e(label)}<span class="missing"> audio missing</span></div>'
        preload = "metadata" if eager else "none"
        return (f'<div class="player">{_e(label)}<audio controls preload="{preload}" '
                f'src="{self.href(path)}" aria-label="{_e(aria or label)}"></audio></div>')

    # ---------------------------------------------------------------- clips
    def clips_section(self, clips, open_clips: int) -> str:
        out = ['<section id="clips"><h2>Clips</h2>']
        if not clips:
            out.append('<p class="muted">No saved explanations.</p>')
        else:
            out.append('<p class="muted">One card per method: the input spectrogram, the mask '
                       'and the masked-in spectrogram, with the audio of each. Closed clips '
                       'load their audio when played.</p>')
        for i, (clip_id, explanations) in enumerate(clips):
            players = 3 * len(explanations)
            is_open = i < open_clips and self.preloaded + players <= PRELOADED_PLAYERS
            self.preloaded += players if is_open else 0
            names = sorted({str(e.summary.get("target_name", e.summary["target"])) for e in explanations})
            note = f"{len(explanations)} explanations · explained: {', '.join(names)}"
            out.append(f'<details class="clip" id="clip-{i}"{" open" if is_open else ""}>'
                       f'<summary>{_e(clip_id)} <span class="muted">· {_e(note)}</span></summary>'
                       '<div class="cards">')
            out += [self.card(e, is_open) for e in explanations]
            out.append("</div></details>")
        out.append("</section>")
        return "\n".join(out)

    def card(self, e: ClipExplanation, eager: bool) -> str:
        s = e.summary
        label = f"{e.method} ({e.group})" if e.group else e.method
        target = s.get("target_name", s["target"])
        probs = [f"explained: <b>{_e(target)}</b>"]
        if e.predicted is not None and e.predicted != str(target):
            probs.append(f"predicted: {_e(e.predicted)}")
        probs += [f"p(input) {_num(s['prob_input'])}",
                  f"p(masked-in) {_num(s.get('prob_masked_in'))}",
                  f"p(masked-out) {_num(s.get('prob_masked_out'))}"]
        alt = (f"{e.clip_id}, {label}: input spectrogram, mask and masked-in spectrogram "
               f"for class {target}")
        metrics = {k: v for k, v in e.metrics.items() if k not in ("p_masked_in", "p_masked_out")}
        picture = self.picture(e.files["picture"], alt, eager)
        has_picture = picture.startswith("<img")
        return "".join([
            f'<article class="card{"" if has_picture else " nopic"}"><h4>{_e(e.method)}'
            + (f' <span class="muted">{_e(e.group)}</span>' if e.group else "") + "</h4>",
            f"<div>{picture}</div>" if has_picture else "",
            '<div class="players"><p>' + "<br>".join(probs) + ("" if has_picture else "<br>" + picture)
            + "</p>",
            "".join(self.player(e.files[role], name, eager, f"{e.clip_id}, {label}: {name}")
                    for role, name in _AUDIO_ROLES),
            "</div>", _facts(metrics, "metrics"), "</article>"])

    # ------------------------------------------------------------- searches
    def searches_section(self, searches: List[AMSearch]) -> str:
        if not searches:
            return ""
        out = ['<section id="am"><h2>Activation maximisation</h2>',
               '<p class="muted">Per direction, the setting selected by the lowest Fréchet '
               'distance to the real examples that most (max) or least (min) activate the unit, '
               'and the setting with the most extreme mean activation; the numbers above the '
               'excerpts are their activations.</p>']
        for search in searches:
            out.append(f"<h3>{_e(os.path.relpath(search.folder, self.root))}</h3>")
            if search.facts:
                out.append(_facts(search.facts))
            out.append('<div class="examples">')
            for ex in search.examples:
                setting = ex.row.get("setting", "")
                scores = {k: v for k, v in ex.row.items() if k not in _SETTING_FIELDS}
                caption = f"{ex.tag.replace('_', ' ')}: {setting}"
                if ex.tag.endswith("most_extreme") and ex.row.get("selected"):
                    caption += " (the selected setting)"
                alt = f"Excerpts of setting {setting} ({ex.tag}), activation above each"
                out.append(f"<figure><figcaption>{_e(caption)}</figcaption>"
                           + self.picture(ex.picture, alt, True, "picture grid")
                           + '<div class="players">'
                           + "".join(self.player(a, f"example {j + 1}", True, f"{caption}, example {j + 1}")
                                     for j, a in enumerate(ex.audio))
                           + "</div>" + _facts(scores, "metrics") + "</figure>")
            out.append("</div>")
            out.append(_ranking_table(search.rows))
        out.append("</section>")
        return "\n".join(out)


def _ranking_table(rows: List[Dict]) -> str:
    rows = sorted(rows, key=lambda r: (str(r.get("direction", "")), r.get("rank", 0)))
    columns = ["rank", "setting", "direction"]
    columns += [c for c in _columns(rows) if c not in columns and c != "selected"]
    body = [[_num(r.get(c, "–")) if c not in ("setting", "direction") else _e(r.get(c, ""))
             for c in columns] + ["✓" if r.get("selected") else ""] for r in rows]
    return ("<h4>Settings ranked by Fréchet distance (fd_unit: the unit; fd_layer: the layer)</h4>"
            + _table([_e(c) for c in columns] + ["selected"], body, (1, 2),
                     ["selected" if r.get("selected") else "" for r in rows]))
