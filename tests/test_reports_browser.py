"""The report in a real browser: Debian's headless Chromium opens index.html from disk with
networking disabled. How errors and requests are detected: see ``tests/_reports_browser.py``
(DevTools protocol over ``--remote-debugging-pipe``; the first test proves the detector works)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests import _reports_helpers as H
from tests._reports_browser import Browser, find_chromium

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (`make browser` installs Debian's chromium)"),
]

ALL_DRAWN = ("document.querySelectorAll('div.vega-chart').length > 0 && "
             "[...document.querySelectorAll('div.vega-chart')].every(e => e.hasAttribute('data-rendered'))")


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory) -> Path:
    from cotwatch.reports.write import write_report

    from tests.test_reports import write_store

    root = tmp_path_factory.mktemp("browser")
    store = write_store(root / "store.duckdb", checkpoints=3, per_checkpoint=4)
    return write_report(store, None, root / "report", images=False)


@pytest.fixture(scope="module")
def full_report_dir(tmp_path_factory) -> Path:
    """Every section drawn: the analyses answer with their documented shapes (see
    ``_reports_helpers.documented_analyses``), so every chart type is rendered by a real browser."""
    from cotwatch.reports import build
    from cotwatch.reports.write import write_report

    from tests.test_reports import write_store

    root = tmp_path_factory.mktemp("browser-full")
    store = write_store(root / "store.duckdb", checkpoints=3, per_checkpoint=4)
    fakes = H.documented_analyses()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(build, "find_analysis", lambda name: fakes.get(name))
        return write_report(store, None, root / "report", images=False, strict=True)


@pytest.fixture(scope="module")
def two_run_report_dir(tmp_path_factory) -> Path:
    """Two runs: run-faceted charts and one emergent / word-shift chart per run."""
    from cotwatch.reports.write import write_report

    from tests.test_reports import write_two_run_store

    root = tmp_path_factory.mktemp("browser-two")
    return write_report(write_two_run_store(root / "store.duckdb"), None, root / "report", images=False, strict=True)


@pytest.fixture(scope="module")
def browser():
    with Browser(CHROMIUM) as b:
        yield b


def test_detector_sees_console_errors_and_remote_requests(browser, tmp_path):
    """Without this, a clean run of the real test could mean a blind detector."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><img src='https://example.com/beacon.png'>"
                    "<script>console.error('boom'); window.done = true;</script></body></html>")
    browser.log.console_errors.clear()
    browser.log.requests.clear()
    browser.open(page, "window.done")
    assert "https://example.com/beacon.png" in browser.log.remote_requests
    assert "console.error: boom" in browser.log.console_errors


@pytest.mark.parametrize("which", ["report_dir", "full_report_dir", "two_run_report_dir"])
def test_report_renders_offline_without_errors(browser, which, request):
    report_dir = request.getfixturevalue(which)
    meta = json.loads((report_dir / "report.json").read_text())
    charts = [c for s in meta["sections"] for c in s["charts"]]
    assert charts, "the report has no charts to render"
    browser.log.console_errors.clear()
    browser.log.requests.clear()
    browser.open(report_dir / "index.html", ALL_DRAWN)
    views = browser.evaluate(
        "[...document.querySelectorAll('div.vega-chart')].map(e => ({id: e.id, state: e.getAttribute('data-rendered'),"
        " svg: e.querySelectorAll('svg.marks').length, canvas: e.querySelectorAll('canvas').length,"
        " marks: e.querySelectorAll('svg.marks g.mark-group, svg.marks path, svg.marks rect').length}))")
    assert [v["id"] for v in views] == [f"chart-{c}" for c in charts]
    for view in views:
        assert view["state"] == "1", view
        assert view["svg"] + view["canvas"] == 1, view
        assert view["marks"] > 0, view
    assert browser.log.console_errors == []
    assert browser.log.remote_requests == []
    assert browser.log.requests == [(report_dir / "index.html").resolve().as_uri()]


def test_injected_payload_did_not_run_and_shows_as_text(browser, report_dir, full_report_dir):
    browser.open(full_report_dir / "index.html", ALL_DRAWN)
    cells = browser.evaluate("[...document.querySelectorAll('#table-evidence_kwic td, #table-evidence_awareness td')]"
                             ".map(td => td.textContent)")
    assert f"the {H.PAYLOAD_IMG} " in cells and f" {H.PAYLOAD_SCRIPT}" in cells and H.PAYLOAD in cells
    assert browser.evaluate("document.title") == "Reasoning drift report"
    assert browser.evaluate("document.body.hasAttribute('data-pwned') || document.querySelectorAll('img').length > 0") is False
    browser.open(report_dir / "index.html", ALL_DRAWN)
    state = browser.evaluate(
        "({title: document.title, pwned: document.body.hasAttribute('data-pwned'),"
        " imgs: document.querySelectorAll('img').length,"
        " scripts: document.querySelectorAll('script:not([type])').length,"
        " legend: [...document.querySelectorAll('svg.marks text')].map(t => t.textContent)})")
    assert state["title"] == "Reasoning drift report"
    assert state["pwned"] is False and state["imgs"] == 0 and state["scripts"] == 2
    # the hostile environment name is drawn as text (a legend label, possibly truncated by Vega)
    labels = [t for t in state["legend"] if t.startswith("grader <script>")]
    assert labels, state["legend"]


def test_tooltip_shows_payload_as_text(browser, report_dir):
    """Hover the hostile environment's point in the per-environment chart: vega-tooltip must show
    the environment name escaped, as text, and create no element from it."""
    browser.open(report_dir / "index.html", ALL_DRAWN)
    point = browser.evaluate("""(() => {
      const view = document.querySelector('#chart-environments');
      const paths = [...view.querySelectorAll('g.mark-symbol path')];
      const hit = paths.find(p => p.__data__ && p.__data__.datum && String(p.__data__.datum.environment).startsWith('grader <script>'));
      if (!hit) return null;
      hit.scrollIntoView({block: 'center'});
      const r = hit.getBoundingClientRect();
      return {x: r.left + r.width / 2, y: r.top + r.height / 2};
    })()""")
    assert point is not None, "no point for the hostile environment in the environments chart"
    tip = None
    for _ in range(25):  # vega-tooltip shows after a short delay; keep nudging the pointer
        browser.hover(point["x"], point["y"])
        time.sleep(0.2)
        tip = browser.evaluate("(() => { const t = document.getElementById('vg-tooltip-element');"
                               " return t ? {text: t.textContent, html: t.innerHTML, imgs: t.querySelectorAll('img').length,"
                               " scripts: t.querySelectorAll('script').length} : null })()")
        if tip and "grader" in tip["text"]:
            break
        point["x"] += 0.5
    assert tip and H.PAYLOAD_SCRIPT in tip["text"], tip
    assert tip["imgs"] == 0 and tip["scripts"] == 0
    assert "&lt;img src=x onerror=" in tip["html"]
    assert browser.evaluate("document.body.hasAttribute('data-pwned')") is False
