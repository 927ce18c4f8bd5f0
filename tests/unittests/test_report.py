"""The HTML report's structure, on the package's own outputs (no browser: see
tests/integration/test_report_browser.py for the page in Chromium)."""

import json
import os
import shutil
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest

from speechbrain_xai.report import scan_folder, write_report
from speechbrain_xai.report.__main__ import main
from speechbrain_xai.report.html import PRELOADED_PLAYERS
from tests.helpers import ODD_ID


class Page(HTMLParser):
    """The tags (with their attributes) and the text of a page."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.tags, self.chunks = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.chunks.append(data)

    def all(self, tag):
        return [attrs for t, attrs in self.tags if t == tag]

    @property
    def text(self):
        return " ".join(self.chunks)


@pytest.fixture
def outputs(report_outputs, tmp_path):
    """A copy of the package's outputs (explain, harness, search layouts)."""
    root = tmp_path / "outputs"
    shutil.copytree(report_outputs["root"], root)
    return root


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_one_page_with_every_layout_and_only_relative_links(outputs):
    path = write_report(str(outputs), title="Run <1>")
    assert path == str(outputs / "report.html")
    text = read(path)
    page = Page(text)
    assert "<script" not in text and "Run &lt;1&gt;" in text
    links = [a["src"] for a in page.all("audio") + page.all("img")] + \
        [a["href"] for a in page.all("a")] + [a["href"] for a in page.all("link")]
    assert all("://" not in link and not link.startswith("/") for link in links)
    for attrs in page.all("audio") + page.all("img"):  # every link names a file of the folder
        assert os.path.isfile(outputs / unquote(attrs["src"]))
    # the summary: the harness's results.json, then the explanations' own averages
    results = json.loads(read(outputs / "compare" / "results.json"))["results"]
    ag = results["in_domain"]["saliency"]["AG"]
    assert f"{ag:.3g}" in text and "compare/results.json" in text
    cells = page.text
    for group, method in [("compare/in_domain", "saliency"), ("compare/white", "noise"),
                          ("explain", "random"), ("explain", "saliency")]:
        assert f"{group} {method}" in " ".join(cells.split())
    # the clips: one <details> each, sorted, the first three open, every method inside
    clips = [a for a in page.all("details") if a.get("class") == "clip"]
    assert len(clips) == 4 and ["open" in a for a in clips] == [True, True, True, False]
    ids = ["clip_1", ODD_ID, "test_00000", "test_00001"]
    assert [c.strip() for c in page.chunks if c.strip() in ids] == sorted(ids)
    audio = page.all("audio")
    assert len(audio) == 3 * (2 * 2 + 2 * 2 * 2) + 2 * 4  # explain + harness players, search renders
    assert all("controls" in a for a in audio)
    # the harness saved no pictures: said, not linked; the others have a size and a description
    assert text.count("picture missing") == 8
    images = page.all("img")
    assert len(images) == 4 + 4 and all(a["width"] and a["height"] and a["alt"] for a in images)
    # the search: four rendered settings, every setting ranked, the two selected marked
    assert text.count("<figure>") == 4 and "score_mean" in text
    assert len([a for a in page.all("tr") if a.get("class") == "selected"]) == 2
    ranking = json.loads(read(outputs / "am" / "search" / "ranking.json"))
    assert all(row["setting"] in text for row in ranking)


def test_strings_from_files_are_escaped_and_paths_quoted(outputs):
    text = read(write_report(str(outputs / "explain")))
    assert ODD_ID not in text and 'odd &lt;b&gt;&amp;&quot;clip&quot; #2% é' in text
    page = Page(text)
    srcs = [a["src"] for a in page.all("audio") if "odd" in a["src"]]
    assert srcs and all(" " not in s and "#" not in s and "<" not in s for s in srcs)
    assert unquote(srcs[0]) == f"random/{ODD_ID}_input.wav"  # methods sorted by name
    # the report of one layout alone: no search section, method names from the folders
    assert 'id="am"' not in text and "2 clips · 2 methods · 0 searches" in text


def test_missing_pieces_are_named_not_linked(outputs):
    explain = outputs / "explain" / "saliency"
    (explain / "clip_1.png").unlink()
    (explain / "clip_1_masked_out.wav").unlink()
    (outputs / "am" / "search" / "max_selected.png").unlink()
    page = Page(read(write_report(str(outputs))))
    sources = [unquote(a["src"]) for a in page.all("audio") + page.all("img")]
    assert "explain/saliency/clip_1.png" not in sources
    assert "explain/saliency/clip_1_masked_out.wav" not in sources
    assert "am/search/max_selected.png" not in sources
    assert "explain/saliency/clip_1_masked_in.wav" in sources
    assert page.text.count("audio missing") == 1 and page.text.count("picture missing") == 8 + 1
    assert page.text.count("picture grid missing") == 1


def test_rerun_replaces_the_report_and_ignores_write_order(outputs, tmp_path):
    first = read(write_report(str(outputs)))
    # the same outputs written in another order (files copied in reverse) give the same page
    other = tmp_path / "elsewhere" / "outputs"
    for dirpath, _, names in sorted(os.walk(outputs), reverse=True):
        target = other / os.path.relpath(dirpath, outputs)
        target.mkdir(parents=True, exist_ok=True)
        for name in sorted(names, reverse=True):
            if name != "report.html":
                shutil.copy(os.path.join(dirpath, name), target / name)
    assert read(write_report(str(other))) == first
    # a rerun replaces the page (atomically: nothing else is left beside it)
    shutil.rmtree(outputs / "explain" / "random")
    before = set(os.listdir(outputs))
    again = read(write_report(str(outputs)))
    assert set(os.listdir(outputs)) == before and again != first and "explain/random" not in again
    # temporaries of an interrupted save (hidden) are not reported
    hidden = outputs / "explain" / "saliency" / ".tmp_abc"
    hidden.mkdir()
    shutil.copy(outputs / "explain" / "saliency" / "clip_1.json", hidden / "ghost.json")
    assert "ghost" not in read(write_report(str(outputs)))


def test_summary_json_adds_the_search_facts_and_scores(outputs):
    search = scan_folder(str(outputs / "am")).searches[0]
    assert search.facts["run"] == "gan" and search.facts["unit"] == "logit[0](log-odds)"
    assert [e.tag for e in search.examples] == ["max_selected", "max_most_extreme",
                                                "min_selected", "min_most_extreme"]
    assert all(len(e.audio) == 2 and "score_mean" in e.row for e in search.examples)
    # without summary.json the ranking alone still gives the examples (without the checks' scores)
    (outputs / "am" / "summary.json").unlink()
    alone = scan_folder(str(outputs / "am")).searches[0]
    assert alone.facts == {} and [e.row["setting"] for e in alone.examples] == \
        [e.row["setting"] for e in search.examples]
    assert not any("score_mean" in e.row for e in alone.examples)


def test_many_clips_stay_under_the_browsers_player_limit(report_outputs, tmp_path):
    """200 clips x 10 methods: 6000 players, collapsed ones load when played
    (Chromium refuses more than 1000 media players on a page)."""
    source = os.path.join(report_outputs["explain"], "saliency")
    files = [n for n in os.listdir(source) if n.startswith("clip_1")]
    for m in range(10):
        folder = tmp_path / "big" / f"method_{m}"
        folder.mkdir(parents=True)
        for c in range(200):
            for name in files:  # hard links: the same bytes under 2000 names
                os.link(os.path.join(source, name), folder / name.replace("clip_1", f"clip_{c:03d}"))
    page = Page(read(write_report(str(tmp_path / "big"))))
    audio = page.all("audio")
    assert len(audio) == 6000
    preloaded = [a for a in audio if a["preload"] == "metadata"]
    assert len(preloaded) == 3 * 10 * 3 <= PRELOADED_PLAYERS
    assert all(a["preload"] == "none" for a in audio[90:])
    assert sum("open" in a for a in page.all("details")) == 3
    assert all(a.get("loading") == "lazy" for a in page.all("img")[30:])


def test_bad_folders_are_refused_with_the_fix(tmp_path):
    with pytest.raises(ValueError, match="No folder"):
        write_report(str(tmp_path / "nowhere"))
    (tmp_path / "notes.json").write_text('{"a": 1}')
    with pytest.raises(ValueError, match="Nothing to report.*Explanation.save"):
        write_report(str(tmp_path))
    assert not (tmp_path / "report.html").exists()


def test_command_line_writes_the_report(outputs, capsys):
    path = main([str(outputs / "compare"), "--title", "compare"])
    assert capsys.readouterr().out.strip() == path and os.path.isfile(path)
