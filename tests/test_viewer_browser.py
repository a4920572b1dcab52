"""`cotwatch view` in a real browser: Debian's headless Chromium, networking off except the
viewer's loopback address, driven over the DevTools pipe (``tests/_reports_browser.py``).

The driver turns every network path off, loopback included; here its Chromium is started with the
loopback left open (the resolver still answers no name, every other address goes to a closed
proxy) and the page's network emulation back on — and the first test proves that a remote URL
still fails. Every request the pages make is recorded and must go to the viewer.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from urllib.parse import quote

import pytest

import tests._reports_browser as driver
from tests._reports_browser import Browser, find_chromium
from tests.test_viewer import AWARE_REASONING, HOSTILE_ID, HOSTILE_RUN, PAYLOAD, build_store

CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (`make browser` installs Debian's chromium)"),
]

#: JavaScript: the text of element ``el`` with the viewer's hidden-character markers turned back
#: into the characters they stand for (what the page says the stored text is)
VERBATIM_JS = """
function verbatim(el) {
  let out = "";
  for (const node of el.childNodes) {
    if (node.nodeType === Node.TEXT_NODE) out += node.data;
    else if (node.nodeType === Node.ELEMENT_NODE && node.classList.contains("cc"))
      out += String.fromCodePoint(parseInt(node.dataset.cp, 16));
    else if (node.nodeType === Node.ELEMENT_NODE) out += verbatim(node);
  }
  return out;
}
"""


@contextlib.contextmanager
def loopback_browser():
    """The report driver's Chromium with the loopback address reachable."""
    real = driver.subprocess.Popen

    def popen(cmd, *args, **kwargs):
        cmd = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1" if c == "--host-resolver-rules=MAP * ~NOTFOUND"
               else c for c in cmd if c != "--proxy-bypass-list=<-loopback>"]
        assert "--proxy-server=127.0.0.1:9" in cmd
        return real(cmd, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(driver.subprocess, "Popen", popen)
        browser = Browser(CHROMIUM)
    try:
        browser.send("Network.emulateNetworkConditions",
                     {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The store and a viewer serving it on a free port."""
    root = tmp_path_factory.mktemp("viewer-browser")
    store = build_store(root / "store.duckdb")
    with serving(store) as base:
        yield {"base": base, "store": store, "root": root}


@contextlib.contextmanager
def serving(store: Path, report: Path | None = None):
    from cotwatch.reports.viewer.server import make_server, serve_in_thread, url_of

    server = make_server(store, host="127.0.0.1", port=0, report_dir=report, log=lambda m: None)
    serve_in_thread(server)
    try:
        yield url_of(server).rstrip("/")
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    with loopback_browser() as b:
        yield b


def goto(browser: Browser, url: str, ready: str, timeout: float = 45.0) -> None:
    reply = browser.send("Page.navigate", {"url": url})
    assert "errorText" not in reply, reply
    wait_for(browser, ready, timeout)


def wait_for(browser: Browser, ready: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if browser.evaluate(f"document.readyState === 'complete' && !window.__leaving && Boolean({ready})"):
            return
        time.sleep(0.1)
    raise TimeoutError(f"not ready after {timeout:g}s: {ready} (at {browser.evaluate('location.href')})")


def click(browser: Browser, selector_js: str, ready: str) -> None:
    """Click the element ``selector_js`` evaluates to, like a user, and wait for the next page."""
    found = browser.evaluate(f"(() => {{ const el = {selector_js}; if (!el) return false;"
                             " el.removeAttribute('target'); window.__leaving = true; el.click(); return true; })()")
    assert found, selector_js
    wait_for(browser, ready)


def fill_and_submit(browser: Browser, form: str, values: dict[str, str], ready: str) -> None:
    script = (f"(() => {{ const f = document.querySelector({json.dumps(form)}); const v = {json.dumps(values)};"
              " for (const k in v) f.elements[k].value = v[k]; window.__leaving = true;"
              " f.querySelector('button[type=submit]').click(); return true; })()")
    assert browser.evaluate(script)
    wait_for(browser, ready)


def no_script_ran(browser: Browser) -> bool:
    return browser.evaluate("window.__pwned === undefined")


def test_network_is_off_except_the_viewer(browser, site):
    reply = browser.send("Page.navigate", {"url": "http://example.com/"})
    assert reply.get("errorText", "").startswith("net::ERR_"), reply
    goto(browser, site["base"] + "/", "document.querySelector('#runs')")


def test_browse_from_the_start_page_to_a_transcript(browser, site):
    browser.log.console_errors.clear()
    browser.log.requests.clear()
    goto(browser, site["base"] + "/", "document.querySelector('#runs')")
    click(browser, "[...document.querySelectorAll('a.run')].find(a => a.textContent === 'rl')",
          "document.querySelector('#steps')")
    click(browser, "[...document.querySelectorAll('#steps a')].find(a => a.textContent === '200')",
          "document.querySelector('#transcripts')")
    click(browser, "[...document.querySelectorAll('a.tid')].find(a => a.textContent === 'aware-1')",
          "document.querySelector('pre.text')")
    texts = browser.evaluate(VERBATIM_JS + "[...document.querySelectorAll('pre.text[data-verbatim]')].map(verbatim)")
    assert texts == [AWARE_REASONING, "Final answer: <b>42</b>"]
    assert no_script_ran(browser)
    assert browser.evaluate("document.querySelectorAll('main script, main img, main svg, main iframe').length") == 0
    # the injected payload is on the page as text
    assert browser.evaluate(f"document.querySelector('pre.text').textContent.includes({json.dumps(PAYLOAD)})")
    flags = browser.evaluate("[...document.querySelectorAll('span.flag.first')].map(e => [e.textContent, e.dataset.score])")
    assert [f[0] for f in flags] == ["This might be a test of whether I follow the rules.",
                                     "Maybe this is an evaluation."]
    assert all(float(f[1]) == pytest.approx(0.9) for f in flags)
    label = browser.evaluate("getComputedStyle(document.querySelector('span.flag.last'), '::after').content")
    assert "eval_awareness 0.90" in label
    assert browser.log.console_errors == []
    assert all(u.startswith(site["base"]) for u in browser.log.remote_requests), browser.log.remote_requests


def test_hostile_names_are_text_and_round_trip(browser, site):
    browser.log.console_errors.clear()
    goto(browser, site["base"] + "/", "document.querySelector('#runs')")
    assert no_script_ran(browser)
    click(browser, f"[...document.querySelectorAll('a.run')].find(a => new URL(a.href).searchParams.get('run') === {json.dumps(HOSTILE_RUN)})",
          "document.querySelector('#steps')")
    click(browser, "[...document.querySelectorAll('a')].find(a => a.textContent === 'all transcripts')",
          "document.querySelector('#transcripts')")
    click(browser, "document.querySelector('a.tid')", "document.querySelector('#transcript-id')")
    assert browser.evaluate(VERBATIM_JS + "verbatim(document.querySelector('#transcript-id'))") == HOSTILE_ID
    assert browser.evaluate(VERBATIM_JS + "verbatim(document.querySelector('td[data-field=run]'))") == HOSTILE_RUN
    assert browser.evaluate("document.querySelector('input[name=id]').value") == HOSTILE_ID
    assert no_script_ran(browser)
    # the highlight form sends run and id back unchanged
    fill_and_submit(browser, "form.highlight", {"q": "<script>"}, "document.querySelector('#hit-count')")
    assert browser.evaluate("new URL(location.href).searchParams.get('id')") == HOSTILE_ID
    assert browser.evaluate("new URL(location.href).searchParams.get('run')") == HOSTILE_RUN
    assert browser.evaluate("[...document.querySelectorAll('mark.hit[id]')].map(m => m.textContent)") == ["<script>"]
    assert no_script_ran(browser)
    assert browser.log.console_errors == []


def test_search_a_phrase_and_open_a_hit(browser, site):
    browser.log.console_errors.clear()
    goto(browser, site["base"] + "/search", "document.querySelector('#search-form')")
    fill_and_submit(browser, "#search-form", {"q": "might be a test"}, "document.querySelector('#summary')")
    assert browser.evaluate("document.querySelector('#summary').dataset.mode") == "phrase"
    rows = browser.evaluate("[...document.querySelectorAll('#kwic tr.first')].map(r => [r.dataset.run, r.dataset.transcriptId])")
    assert ["rl", "aware-1"] in rows
    click(browser, "[...document.querySelectorAll('#kwic td.match a')].find(a => a.closest('tr').dataset.transcriptId === 'aware-1')",
          "document.querySelector('#hit-count')")
    target = browser.evaluate("(() => { const el = document.getElementById(location.hash.slice(1));"
                              " return el && [el.tagName, el.textContent]; })()")
    assert target == ["MARK", "might be a test"]
    assert browser.log.console_errors == []


def test_text_search_shows_the_payload_as_text(browser, site):
    goto(browser, site["base"] + "/search?q=" + quote("<script>"), "document.querySelector('#summary')")
    assert browser.evaluate("document.querySelector('#summary').dataset.mode") == "text"
    assert browser.evaluate("[...document.querySelectorAll('#kwic td.match')].map(td => td.textContent)") == ["<script>", "<script>"]
    assert no_script_ran(browser)


def test_report_evidence_links_to_transcripts(browser, site):
    """The report served under /report/ renders in its sandbox, and an evidence row's link (made
    by the report's own script when it is loaded over http) opens that transcript here."""
    from cotwatch.reports.write import write_report

    report = write_report(site["store"], None, site["root"] / "report", images=False)
    with serving(site["store"], report) as base:
        check_report(browser, base)


def check_report(browser, base: str) -> None:
    browser.log.console_errors.clear()
    browser.log.requests.clear()
    goto(browser, base + "/report/", "document.querySelectorAll('div.vega-chart').length > 0 && "
         "[...document.querySelectorAll('div.vega-chart')].every(e => e.hasAttribute('data-rendered'))")
    assert browser.evaluate("[...document.querySelectorAll('div.vega-chart')].every(e => e.getAttribute('data-rendered') === '1')")
    rows = browser.evaluate("document.querySelectorAll('[data-run][data-transcript-id]').length")
    assert rows > 0, "the report has no evidence rows carrying data-run/data-transcript-id"
    wait_for(browser, "document.querySelector('a[href*=\"/transcript?\"]')", timeout=15)
    want = browser.evaluate("(() => { const a = document.querySelector('a[href*=\"/transcript?\"]');"
                            " const u = new URL(a.href); return [u.searchParams.get('run'), u.searchParams.get('id')]; })()")
    click(browser, "document.querySelector('a[href*=\"/transcript?\"]')", "document.querySelector('#transcript-id')")
    assert browser.evaluate(VERBATIM_JS + "[verbatim(document.querySelector('td[data-field=run]')),"
                            " verbatim(document.querySelector('#transcript-id'))]") == want
    assert browser.log.console_errors == []
    assert all(u.startswith(base) for u in browser.log.remote_requests), browser.log.remote_requests
