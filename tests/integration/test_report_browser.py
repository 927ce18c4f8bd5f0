"""The HTML report in a real headless browser (Debian's chromium through chromedriver).

The page is served by ``http.server`` on localhost (as a user would share a
results folder) and opened once through ``file://``. It passes when the
browser logs no error, every ``<audio>`` has its metadata (``readyState >=
HAVE_METADATA`` and a duration) and every ``<img>`` is decoded, and a
screenshot is not blank. Deferred loads (collapsed clips: ``preload="none"``,
``loading="lazy"``) are started first, so every file of the page is checked.
The same checks must fail when a wav or a picture goes missing after the
report was written.

``.ci/run`` installs chromium and chromium-driver; without them this test
fails, unless ``SBXAI_NO_BROWSER=1`` (developers without a browser) skips it.
"""

import functools
import http.server
import io
import os
import shutil
import tempfile
import threading
import time

import pytest

from speechbrain_xai.report import write_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--autoplay-policy=no-user-gesture-required", "--window-size=1280,1600")

# Starts the deferred loads, then reports the state of every audio and picture.
START_LOADS = """
document.querySelectorAll('details').forEach(d => d.open = true);
document.querySelectorAll('img[loading="lazy"]').forEach(i => i.loading = 'eager');
document.querySelectorAll('audio[preload="none"]').forEach(a => {a.preload = 'metadata'; a.load();});
"""
MEDIA_STATE = """
return {
  audio: Array.from(document.querySelectorAll('audio')).map(a => ({
    src: a.currentSrc || a.src, ready: a.readyState, duration: a.duration,
    error: a.error ? a.error.code : null})),
  img: Array.from(document.querySelectorAll('img')).map(i => ({
    src: i.currentSrc || i.src, complete: i.complete, width: i.naturalWidth}))
};
"""


def start_browser():
    """A headless Chromium session, or a test failure that says how to get one."""
    if os.environ.get("SBXAI_NO_BROWSER") == "1":
        pytest.skip("SBXAI_NO_BROWSER=1: the report's browser test is skipped.")
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.path.isfile(p)]
    if missing:
        pytest.fail(f"The report's browser test needs {' and '.join(missing)}: .ci/run installs "
                    "chromium and chromium-driver (apt-get install -y chromium chromium-driver); "
                    "set SBXAI_NO_BROWSER=1 to skip it on a machine without a browser.")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("The report's browser test needs selenium: pip install -e '.[test]'.")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='sbxai-chromium-')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture(scope="module")
def browser():
    driver = start_browser()
    yield driver
    driver.quit()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve():
    """``serve(folder)`` -> the URL of ``folder`` served on localhost in a thread."""
    servers = []

    def start(folder):
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def page_problems(driver, url, timeout=30.0):
    """Opens ``url``, loads every audio and picture, and lists what went
    wrong: browser errors, audio without metadata, pictures not decoded."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(url)
    driver.execute_script(START_LOADS)
    deadline = time.time() + timeout
    while True:
        state = driver.execute_script(MEDIA_STATE)
        pending = [a for a in state["audio"] if a["ready"] < 1 and a["error"] is None] + \
                  [i for i in state["img"] if not i["complete"]]
        if not pending or time.time() > deadline:
            break
        time.sleep(0.2)
    problems = [f"browser: {e['message']}" for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    problems += [f"audio without metadata: {a['src']} (readyState {a['ready']}, error {a['error']})"
                 for a in state["audio"] if a["ready"] < 1 or not a["duration"] or a["duration"] <= 0]
    problems += [f"picture not decoded: {i['src']}" for i in state["img"]
                 if not i["complete"] or i["width"] <= 0]
    return problems, state


def screenshot_spread(driver) -> float:
    """Standard deviation of the screenshot's grey levels (0 for a blank page)."""
    import numpy as np
    from PIL import Image

    image = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("L")
    return float(np.asarray(image, dtype=np.float64).std())


@pytest.fixture
def report_folder(report_outputs, tmp_path):
    """A copy of the package's outputs with its report written."""
    root = tmp_path / "outputs"
    shutil.copytree(report_outputs["root"], root)
    write_report(str(root))
    return root


def test_every_player_and_picture_loads_over_http_and_from_file(browser, serve, report_folder):
    problems, state = page_problems(browser, serve(report_folder) + "report.html")
    assert problems == []
    # explain: 2 methods x 2 clips; harness: 2 methods x 2 conditions x 2 clips; search: 4 x 2
    assert len(state["audio"]) == 3 * (4 + 8) + 8
    assert len(state["img"]) == 4 + 4  # explanation pictures (the harness saved none) + grids
    assert all(a["duration"] > 0 for a in state["audio"])
    assert screenshot_spread(browser) > 10.0
    problems, state = page_problems(browser, (report_folder / "report.html").as_uri())
    assert problems == [] and len(state["audio"]) == 44


@pytest.mark.parametrize("lost", ["masked_out_wav", "closed_clip_wav", "search_wav", "picture"])
def test_a_missing_audio_file_or_picture_is_caught(browser, serve, report_folder, lost):
    explain = report_folder / "explain" / "saliency"
    path = {"masked_out_wav": explain / "clip_1_masked_out.wav",
            # the last clip is collapsed: its players load only when played
            "closed_clip_wav": report_folder / "compare" / "explanations" / "white" / "saliency"
            / "test_00001_input.wav",
            "search_wav": report_folder / "am" / "search" / "min_selected_1.wav",
            "picture": explain / "clip_1.png"}[lost]
    path.unlink()  # after the report was written: its link is now broken
    problems, _ = page_problems(browser, serve(report_folder) + "report.html")
    name = path.name
    assert any(name in p and ("audio without metadata" in p or "picture not decoded" in p)
               for p in problems), problems
    assert any(name in p and p.startswith("browser:") for p in problems), problems
