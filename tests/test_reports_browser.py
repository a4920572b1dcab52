"""The report in a real browser: Debian's headless Chromium opens index.html from disk with
networking disabled. How errors and requests are detected: see ``tests/_reports_browser.py``
(DevTools protocol over ``--remote-debugging-pipe``; the first test proves the detector works).

What is checked: every chart of every report draws marks (none blank, none in error, no console
error, no request), including a corpus whose words are JavaScript property names; injected HTML
stays text; clicking a heatmap cell shows that cell's KWIC lines, clicking an awareness point that
step's flagged sentences; served over http, transcript ids link to the viewer."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import threading
import time
from pathlib import Path

import polars as pl
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
    from cotwatch.reports.write import write_report

    from tests.test_reports import write_store

    root = tmp_path_factory.mktemp("browser-full")
    store = write_store(root / "store.duckdb", checkpoints=3, per_checkpoint=4)
    with pytest.MonkeyPatch.context() as mp:
        H.patch_analyses(mp, H.documented_analyses())
        return write_report(store, None, root / "report", images=False, strict=True)


@pytest.fixture(scope="module")
def two_run_report_dir(tmp_path_factory) -> Path:
    """Two runs: run-faceted charts and one emergent / word-shift chart per run."""
    from cotwatch.reports.write import write_report

    from tests.test_reports import write_two_run_store

    root = tmp_path_factory.mktemp("browser-two")
    return write_report(write_two_run_store(root / "store.duckdb"), None, root / "report", images=False, strict=True)


@pytest.fixture(scope="module")
def js_words_report_dir(tmp_path_factory) -> Path:
    """A corpus talking about ``constructor``, ``toString``…, an environment named ``constructor``
    and a run named ``toString``: the old report drew its word-shift charts blank."""
    from cotwatch.reports.write import write_report

    from tests.test_reports_hostile import JS_SPEC, write_js_words_store

    root = tmp_path_factory.mktemp("browser-js")
    spec = root / "spec.toml"
    spec.write_text(JS_SPEC)
    return write_report(write_js_words_store(root / "store.duckdb"), spec, root / "report", images=False, strict=True)


@pytest.fixture(scope="module")
def aware_report_dir(tmp_path_factory) -> Path:
    """Real flagged sentences (the real ``classifiers.apply`` with a rule scorer) behind an
    awareness chart; the prevalence itself is a stand-in with the documented columns, one row per
    step of the store."""
    import warnings

    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.applying import apply
    from cotwatch.reports.write import write_report

    from tests.test_reports import write_store

    root = tmp_path_factory.mktemp("browser-aware")
    store = write_store(root / "store.duckdb", checkpoints=3, per_checkpoint=4)
    with Store.open(store, read_only=False) as opened, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        apply(opened, "eval_awareness", scorer=H.RuleScorer())

    def awareness_prevalence(store, *, run, classifier, by_environment=False):
        flags = store.frame("select step, count(*) as n, count(*) filter (where flagged) as flagged "
                            "from main.transcript_flags where run = $run group by step order by step", {"run": run})
        rate = pl.col("flagged") / pl.col("n")
        return flags.with_columns(pl.lit(run).alias("run"), rate.alias("raw_rate"), rate.alias("corrected_rate"),
                                  (rate * 0.5).alias("ci_lo"), (rate * 1.5).clip(upper_bound=1.0).alias("ci_hi"),
                                  pl.lit("validation-only").alias("estimator"), pl.lit(0).alias("n_labelled"),
                                  pl.lit(H.TRANSFER_WARNING).alias("transfer_warning"))

    spec = root / "spec.toml"
    spec.write_text("[sections.awareness]\n[sections.evidence]\nkwic_terms = 0\nsentences = 5\n")
    with pytest.MonkeyPatch.context() as mp:
        H.patch_analyses(mp, {"awareness_prevalence": awareness_prevalence})
        return write_report(store, spec, root / "report", images=False, strict=True)


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


CHART_STATES = ("[...document.querySelectorAll('div.vega-chart')].map(e => ({id: e.id, state: e.getAttribute('data-rendered'),"
                " error: e.getAttribute('data-error'), svg: e.querySelectorAll('svg.marks').length,"
                " canvas: e.querySelectorAll('canvas').length,"
                " marks: e.querySelectorAll('svg.marks path, svg.marks rect').length,"
                " texts: [...e.querySelectorAll('svg.marks text')].map(t => t.textContent)}))")


@pytest.mark.parametrize("which", ["report_dir", "full_report_dir", "two_run_report_dir", "js_words_report_dir",
                                   "aware_report_dir"])
def test_report_renders_offline_without_errors(browser, which, request):
    report_dir = request.getfixturevalue(which)
    meta = json.loads((report_dir / "report.json").read_text())
    charts = [c for s in meta["sections"] for c in s["charts"]]
    assert charts, "the report has no charts to render"
    browser.log.console_errors.clear()
    browser.log.requests.clear()
    browser.open(report_dir / "index.html", ALL_DRAWN)
    views = browser.evaluate(CHART_STATES)
    assert [v["id"] for v in views] == [f"chart-{c}" for c in charts]
    for view in views:
        assert view["state"] == "1", view
        assert view["svg"] + view["canvas"] == 1, view
        assert view["marks"] > 5, view  # axes, marks: nothing is blank
    assert browser.log.console_errors == []
    assert browser.log.remote_requests == []
    assert browser.log.requests == [(report_dir / "index.html").resolve().as_uri()]
    if which == "js_words_report_dir":
        texts = {t for v in views for t in v["texts"]}
        assert {"constructor", "toString"} <= texts  # drawn as labels, not keys
        assert not any(t.startswith("\u2063") for t in texts)


def test_a_broken_chart_says_so_instead_of_staying_blank(browser, report_dir, tmp_path):
    """A chart whose data breaks Vega while it runs (the failure mode of the old
    ``constructor`` bug) is marked as an error on the page, with the reason, not left blank."""
    page = (report_dir / "index.html").read_text()
    # a stack transform grouped by a raw (unkeyed) value "constructor": Vega's known failure
    broken = {"data": {"values": [{"t": "constructor", "v": 1}, {"t": "autop", "v": 2}]}, "mark": "bar",
              "encoding": {"y": {"field": "t", "type": "nominal"}, "x": {"field": "v", "type": "quantitative"}}}
    from cotwatch.reports.render import json_for_script

    start = page.index('<script type="application/json" id="spec-overview">') + len('<script type="application/json" id="spec-overview">')
    end = page.index("</script>", start)
    (tmp_path / "index.html").write_text(page[:start] + json_for_script(broken) + page[end:])
    browser.log.console_errors.clear()
    browser.open(tmp_path / "index.html", ALL_DRAWN)
    state = browser.evaluate("(() => { const e = document.getElementById('chart-overview');"
                             " return {state: e.getAttribute('data-rendered'), error: e.getAttribute('data-error'),"
                             " note: (e.nextElementSibling || {}).textContent}; })()")
    assert state["state"] == "error" and "push is not a function" in state["error"], state
    assert state["note"].startswith("This chart could not be drawn: ")


def test_injected_payload_did_not_run_and_shows_as_text(browser, report_dir, full_report_dir):
    browser.open(full_report_dir / "index.html", ALL_DRAWN)
    browser.evaluate("document.getElementById('evidence-all').click()")
    cells = browser.evaluate("[...document.querySelectorAll('#table-evidence_kwic td')].map(td => td.textContent)")
    assert any(H.PAYLOAD_IMG[-20:] in c for c in cells) and f" {H.PAYLOAD_SCRIPT}" in cells and H.PAYLOAD in cells
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


def _center_of(browser, chart_id: str, mark_selector: str, predicate_js: str):
    """Viewport centre of the first mark in ``chart_id`` whose datum satisfies ``predicate_js``
    (a JS expression over ``d``), scrolled into view; None if there is none."""
    return browser.evaluate(f"""(() => {{
      const view = document.getElementById({json.dumps(chart_id)});
      const hit = [...view.querySelectorAll({json.dumps(mark_selector)})].find(p => {{
        const d = p.__data__ && p.__data__.datum; return d && ({predicate_js}); }});
      if (!hit) return null;
      hit.scrollIntoView({{block: 'center'}});
      const r = hit.getBoundingClientRect();
      const d = hit.__data__.datum;
      return {{x: r.left + r.width / 2, y: r.top + r.height / 2, datum: JSON.parse(JSON.stringify(d))}};
    }})()""")


VISIBLE_ROWS = """(() => {{
  const table = document.getElementById({table});
  if (!table) return null;
  const rows = [...table.tBodies[0].rows];
  return {{hidden: table.hidden, visible: rows.filter(r => !r.hidden).map(r => Object.assign({{}}, r.dataset)),
          total: rows.length, status: document.getElementById('evidence-status').textContent}};
}})()"""


def test_clicking_a_heatmap_cell_shows_that_cells_kwic_lines(browser, report_dir):
    from cotwatch.analytics.store.database import Store

    kwic = pl.read_csv(report_dir / "data" / "evidence_kwic.csv")
    drawn = pl.read_csv(report_dir / "data" / "term_heatmap.csv").select("term").unique()
    busiest = kwic.join(drawn, on="term").group_by("term", "step").len().sort(["len", "step", "term"], descending=True).row(0, named=True)
    term, step = busiest["term"], busiest["step"]
    browser.open(report_dir / "index.html", ALL_DRAWN)
    at = _center_of(browser, "chart-term_heatmap", "g.mark-rect path",
                    f"d.term === {json.dumps(term)} && d.step === {step}")
    assert at is not None, (term, step)
    browser.click(at["x"], at["y"])
    time.sleep(0.3)
    shown = browser.evaluate(VISIBLE_ROWS.format(table=json.dumps("table-evidence_kwic")))
    expected = kwic.filter((pl.col("term") == term) & (pl.col("step") == step))
    assert len(shown["visible"]) == expected.height > 0, shown["status"]
    assert {(r["term"], r["step"], r["run"]) for r in shown["visible"]} == {(term, str(step), "rl")}
    assert sorted(r["transcriptId"] for r in shown["visible"]) == sorted(expected["transcript_id"].to_list())
    assert shown["status"] == f"Showing {expected.height} KWIC lines for run rl, step {step}, term {term}."
    # the lines really hold the term: the evidence is the cell's, not a sample of the run
    with Store.open(report_dir.parent / "store.duckdb") as store:
        ids = {r[0] for r in store.rows("select transcript_id from main.transcript_terms where run = 'rl' and step = $s "
                                        "and term = $t", {"s": step, "t": term})}
    assert {r["transcriptId"] for r in shown["visible"]} <= ids
    # the page scrolled to the evidence (into view), and "Show all" brings every row back
    assert browser.evaluate("(() => { const r = document.getElementById('table-evidence_kwic').getBoundingClientRect();"
                            " return r.top >= 0 && r.top < window.innerHeight; })()")
    browser.evaluate("document.getElementById('evidence-all').click()")
    every = browser.evaluate(VISIBLE_ROWS.format(table=json.dumps("table-evidence_kwic")))
    assert len(every["visible"]) == every["total"] == kwic.height


def test_awareness_banner_is_shown(browser, aware_report_dir):
    browser.open(aware_report_dir / "index.html", ALL_DRAWN)
    banner = browser.evaluate("(() => { const b = document.querySelector('#awareness p.banner');"
                              " return b ? {text: b.textContent, role: b.getAttribute('role')} : null; })()")
    assert banner == {"text": H.TRANSFER_WARNING, "role": "alert"}


def test_clicking_an_awareness_point_shows_that_steps_flagged_sentences(browser, aware_report_dir):
    sentences = pl.read_csv(aware_report_dir / "data" / "evidence_sentences.csv")
    steps = sentences.group_by("step").len().sort("step")
    assert steps.height >= 2
    step = steps.sort(["len", "step"], descending=True)["step"][0]
    browser.open(aware_report_dir / "index.html", ALL_DRAWN)
    before = browser.evaluate(VISIBLE_ROWS.format(table=json.dumps("table-evidence_sentences")))
    at = _center_of(browser, "chart-awareness", "g.mark-symbol path",
                    f"d.step === {step} && d.measure === 'raw (classify and count)'")
    assert at is not None
    browser.click(at["x"], at["y"])
    time.sleep(0.3)
    shown = browser.evaluate(VISIBLE_ROWS.format(table=json.dumps("table-evidence_sentences")))
    expected = sentences.filter(pl.col("step") == step)
    assert len(before["visible"]) == sentences.filter(pl.col("step") == sentences["step"].max()).height  # the default view
    assert len(shown["visible"]) == expected.height > 0, shown["status"]
    assert {r["step"] for r in shown["visible"]} == {str(step)}
    assert sorted(r["transcriptId"] for r in shown["visible"]) == sorted(expected["transcript_id"].to_list())
    assert shown["status"].startswith(f"Showing {expected.height} flagged sentences for run rl, step {step}")
    texts = browser.evaluate("[...document.querySelectorAll('#table-evidence_sentences tbody tr')]"
                             ".filter(r => !r.hidden).map(r => r.querySelector('td.text').textContent)")
    assert sorted(texts) == sorted(expected["text"].to_list())


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _http_server(root: Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_served_over_http_transcript_ids_link_to_the_viewer(report_dir):
    """The report ↔ viewer contract: over http(s) each evidence row's transcript id becomes a link
    to /transcript?run=…&id=… (URL-encoded); from file:// nothing links anywhere."""
    with _http_server(report_dir.parent) as base, Browser(CHROMIUM, loopback=True) as b:
        b.open(f"{base}/report/index.html", ALL_DRAWN)
        links = b.evaluate("[...document.querySelectorAll('tr[data-transcript-id] td.tid a')]"
                           ".map(a => ({href: a.getAttribute('href'), text: a.textContent,"
                           " run: a.closest('tr').dataset.run, id: a.closest('tr').dataset.transcriptId}))")
        rows = b.evaluate("document.querySelectorAll('tr[data-transcript-id]').length")
    assert links and len(links) == rows
    from urllib.parse import parse_qs, urlsplit

    for link in links:
        parts = urlsplit(link["href"])
        assert parts.path == "/transcript" and parse_qs(parts.query) == {"run": [link["run"]], "id": [link["id"]]}
        assert link["text"] == link["id"]
    assert any(link["id"] == "hostile-1" for link in links)


def test_opened_from_disk_nothing_links(browser, report_dir):
    browser.open(report_dir / "index.html", ALL_DRAWN)
    assert browser.evaluate("document.querySelectorAll('td.tid a').length") == 0


def test_tooltip_shows_payload_as_text(browser, report_dir):
    """Hover the hostile environment's point in the per-environment chart: vega-tooltip must show
    the environment name escaped, as text, and create no element from it."""
    browser.open(report_dir / "index.html", ALL_DRAWN)
    at = _center_of(browser, "chart-environments", "g.mark-symbol path",
                    "String(d.environment).startsWith('grader <script>')")
    assert at is not None, "no point for the hostile environment in the environments chart"
    point = {"x": at["x"], "y": at["y"]}
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
