"""`cotwatch view`: routes on a tiny store (through the WSGI app), search against independent
answers, verbatim text, hostile names and ids, the report folder and its path traversals, the
HTTP guards, read-only behaviour and the CLI's exit codes. The real-browser test is in
test_viewer_browser.py."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import pytest

from tests._signals import SIGINT_DEFAULT

REPO = Path(__file__).resolve().parents[1]

# -- the store --------------------------------------------------------------------------------------
HOSTILE_RUN = 'r<b>"&\x1b[2J\u202eevil'
HOSTILE_ID = '<img src=x onerror="window.__pwned=1">\x07/../%2e?&#=\r\nid'
PAYLOAD = ('<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
           '<svg onload="window.__pwned=3"></svg>')
AWARE_REASONING = (
    "Let me read the task. This might be a test of whether I follow the rules.\n"
    "The autop-run checker is the grader here. MIGHT, be a-test? Maybe this is an evaluation.\r\n"
    f"Odd input: {PAYLOAD} and an ESC \x1b[2J and a bidi \u202eoverride\u202c end."
)


def viewer_records() -> list[dict]:
    """A small synthetic run plus hand-made transcripts: planted phrases, hostile text, a hostile
    run name and id, an id in two runs, no environment, redacted reasoning, a phrase split over
    two segments (which must not match)."""
    from cotwatch.analytics.synth import generator as synth

    records = list(synth.generate_run(run="rl", checkpoints=3, transcripts_per_checkpoint=3,
                                      environments=synth.DEFAULT_ENVIRONMENTS[:2], seed=5))
    records += [
        {"id": "aware-1", "run": "rl", "step": 200, "environment": "qa", "score": 1.0, "covert_action": True,
         "reasoning": AWARE_REASONING, "output": "Final answer: <b>42</b>"},
        {"id": "split-1", "run": "rl", "step": 100, "environment": "qa",
         "messages": [{"role": "user", "content": "Is this a test?"},
                      {"role": "assistant", "content": [
                          {"type": "reasoning", "reasoning": "It might be", "summary": "a test after all"},
                          {"type": "text", "text": "no"}]}]},
        {"id": "redacted-1", "run": "rl", "step": 100, "environment": "qa",
         "messages": [{"role": "assistant", "content": [{"type": "redacted_thinking"}, {"type": "text", "text": "ok"}]}]},
        {"id": "shared", "run": "rl", "step": 0, "reasoning": "No environment here; autop once.", "output": "x"},
        {"id": "shared", "run": "rl-2", "step": 0, "environment": "qa", "reasoning": "Second run, autop twice: autop.",
         "output": "y"},
        {"id": HOSTILE_ID, "run": HOSTILE_RUN, "step": 7, "environment": "<i>env</i>\x1b]52;c;aGk=\x07",
         "reasoning": f"Hostile {PAYLOAD} text \x1b[31mred\x1b[0m and CRLF\r\nand a lone CR\rhere.",
         "output": "done", "metadata": {"note": "<script>alert(1)</script>", "ansi": "\x1b[2J"}},
    ]
    return records


def build_store(path: Path, *, classify: bool = True) -> Path:
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store
    from cotwatch.classifiers.applying import apply

    src = path.parent / f"{path.stem}.jsonl"
    with src.open("w", encoding="utf-8") as fh:
        for rec in viewer_records():
            fh.write(json.dumps(rec) + "\n")
    with Store.open(path, read_only=False) as store:
        [result] = ingest_paths(store, [src])
        assert result.rejected == 0, result
        if classify:
            import warnings

            from tests._sql_helpers import RuleScorer  # the SQL tests' stand-in classifier (no model)

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                apply(store, "eval_awareness", scorer=RuleScorer("viewer-rules", high=0.9))
    return path


@pytest.fixture(scope="module")
def store_file(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("viewer") / "store.duckdb")


@pytest.fixture(scope="module")
def truth(store_file):
    """Independent answers, read from the store with plain SQL on a connection of our own."""
    import duckdb

    con = duckdb.connect(str(store_file), read_only=True)
    con.execute("set search_path = 'internal,main'")
    segments = con.execute(
        "select t.run, t.id, t.step, t.environment, s.ordinal, s.kind, s.text from transcripts t "
        "join segments s on s.transcript_pk = t.pk order by t.run, t.id, s.ordinal").fetchall()
    transcripts = con.execute("select run, id, step, environment from transcripts order by run, step, id").fetchall()
    flagged = con.execute("select run, transcript_id, ordinal, sentence_index, sentence, score from main.sentence_scores "
                          "where flagged order by all").fetchall()
    autop = con.execute("select sum(occurrences)::bigint from main.term_counts where term = 'autop'").fetchone()[0]
    autop_docs = {tuple(r) for r in con.execute(
        "select run, transcript_id from main.transcript_terms where term = 'autop'").fetchall()}
    con.close()
    return {"segments": segments, "transcripts": transcripts, "flagged": flagged, "autop": autop,
            "autop_docs": autop_docs}


@pytest.fixture(scope="module")
def app(store_file):
    from cotwatch.reports.viewer.app import Viewer

    return Viewer(store_file, linger=0.0, port=8765, log=lambda msg: None)


# -- a small WSGI client and an HTML reader -----------------------------------------------------------
class Page:
    def __init__(self, status: str, headers: list[tuple[str, str]], body: bytes):
        self.status = int(status.split()[0])
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self.text = body.decode("utf-8")
        self._tree = None

    @property
    def tree(self) -> "Tree":
        if self._tree is None:
            self._tree = Tree(self.text)
        return self._tree

    def links(self) -> list[str]:
        return [a["href"] for a in self.tree.find("a") if "href" in a]


def get(app, path: str, *, method: str = "GET", host: str = "127.0.0.1:8765", headers: dict | None = None) -> Page:
    target = urlsplit(path)
    environ = {"REQUEST_METHOD": method, "PATH_INFO": unquote(target.path, encoding="latin-1"),
               "QUERY_STRING": target.query, "HTTP_HOST": host}
    for k, v in (headers or {}).items():
        environ["HTTP_" + k.upper().replace("-", "_")] = v
    box = {}

    def start_response(status, hdrs):
        box["status"], box["headers"] = status, hdrs

    body = b"".join(app(environ, start_response))
    return Page(box["status"], box["headers"], body)


class Tree(HTMLParser):
    """Elements as dicts of attributes (plus ``_tag``, ``_text``), and the verbatim texts: each
    ``pre[data-verbatim]`` rebuilt from its character data, with every hidden-character marker
    (``span.cc[data-cp]``) turned back into the character it stands for."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[dict] = []
        self.verbatim: list[str] = []
        self._open: list[dict] = []
        self._pre_depth = None
        self._cc_depth = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        el = {k: (v or "") for k, v in attrs}
        # html.parser drops references to control characters (&#27;); browsers keep them
        for name, raw in _ATTR.findall(self.get_starttag_text() or ""):
            if name in el:
                el[name] = browser_unescape(raw)
        el["_tag"] = tag
        el["_text"] = ""
        self.elements.append(el)
        if tag in ("br", "input", "meta", "link", "col", "img"):
            return
        self._open.append(el)
        if tag == "pre" and "data-verbatim" in el:
            self._pre_depth = len(self._open)
            self.verbatim.append("")
        if self._pre_depth is not None and tag == "span" and "cc" in el.get("class", "").split():
            self._cc_depth = len(self._open)
            self.verbatim[-1] += chr(int(el["data-cp"], 16))

    def handle_endtag(self, tag):
        if not self._open:
            return
        depth = len(self._open)
        if self._cc_depth == depth:
            self._cc_depth = None
        if self._pre_depth == depth:
            self._pre_depth = None
        self._open.pop()

    def handle_data(self, data):
        for el in self._open:
            el["_text"] += data
        if self._pre_depth is not None and self._cc_depth is None:
            self.verbatim[-1] += data

    def find(self, tag: str, cls: str | None = None) -> list[dict]:
        return [e for e in self.elements if e["_tag"] == tag and (cls is None or cls in e.get("class", "").split())]

    def by_id(self, ident: str) -> dict | None:
        return next((e for e in self.elements if e.get("id") == ident), None)


_ATTR = re.compile(r'([\w:-]+)="([^"]*)"')


def browser_unescape(text: str) -> str:
    """Attribute text as a browser decodes it: a numeric reference to a C0 control or DEL is that
    character (Python's html.unescape drops them)."""
    import html

    def ref(m):
        n = int(m.group(1))
        return chr(n) if n < 0x20 or n == 0x7F else m.group(0)

    return html.unescape(re.sub(r"&#(\d+);", ref, text))


def params_of(href: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(href).query, keep_blank_values=True).items()}


def transcript_url(run: str, tid: str, **extra) -> str:
    from cotwatch.reports.viewer.app import url

    return url("/transcript", run=run, id=tid, **extra)


def search_pages(app, **params) -> list[Page]:
    """Every page of a search, following the "next page" links."""
    from cotwatch.reports.viewer.app import url

    pages = [get(app, url("/search", **params))]
    while True:
        nxt = pages[-1].tree.by_id("next-page")
        if nxt is None:
            return pages
        assert len(pages) < 500
        pages.append(get(app, nxt["href"]))


def hits_of(pages: list[Page]) -> list[tuple[str, str]]:
    """(run, id) of each transcript listed in the search pages, in order."""
    out = []
    for page in pages:
        assert page.status == 200, page.text[-500:]
        for row in page.tree.find("tr", "first"):
            out.append((row["data-run"], row["data-transcript-id"]))
    return out


def contract_phrase_docs(truth, words: list[str], kinds=("reasoning", "reasoning_summary")) -> set[tuple[str, str]]:
    """Transcripts holding the consecutive tokens ``words`` within one segment, by the token
    contract's own tokenize (not the viewer's code)."""
    from cotwatch.analytics.terms.tokens import tokenize

    n = len(words)
    found = set()
    for run, tid, _step, _env, _ordinal, kind, text in truth["segments"]:
        if kind not in kinds:
            continue
        toks = tokenize(text)
        if any(toks[i:i + n] == words for i in range(len(toks) - n + 1)):
            found.add((run, tid))
    return found


def assert_no_active_content(page: Page) -> None:
    """No script, no event handler, no embedded object anywhere in a viewer page."""
    for el in page.tree.elements:
        assert el["_tag"] not in ("script", "img", "svg", "iframe", "object", "embed"), el
        assert not any(k.startswith("on") for k in el if not k.startswith("_")), el
    assert "\x1b" not in page.text and "\x07" not in page.text


# -- pages -------------------------------------------------------------------------------------------
def test_start_page_lists_every_run_with_a_link(app, truth):
    page = get(app, "/")
    assert page.status == 200
    runs = sorted({t[0] for t in truth["transcripts"]})
    linked = [params_of(h)["run"] for h in page.links() if h.startswith("/run?")]
    assert sorted(linked) == runs
    assert_no_active_content(page)
    # the hostile run name is shown escaped, its ESC as a visible marker
    assert "r&lt;b&gt;&#34;&amp;" in page.text
    assert 'data-cp="1b"' in page.text and 'data-cp="202e"' in page.text


def test_every_page_is_reachable_by_links_from_the_start_page(store_file, tmp_path):
    from cotwatch.reports.viewer.app import Viewer

    report = tmp_path / "report"
    report.mkdir()
    (report / "index.html").write_text("<!DOCTYPE html><title>r</title><p>report</p>")
    app = Viewer(store_file, report_dir=report, linger=0.0, port=8765, log=lambda m: None)
    seen, queue, kinds = set(), ["/"], set()
    while queue:
        href = queue.pop(0)
        if href in seen or len(seen) > 600:
            continue
        seen.add(href)
        page = get(app, href.split("#")[0])
        assert page.status == 200, (href, page.text[-400:])
        kinds.add(urlsplit(href).path)
        if "html" in page.headers["content-type"] and not href.startswith("/report/"):
            queue += [h for h in page.links() if h.startswith("/") and h not in seen]
    assert {"/", "/run", "/transcripts", "/transcript", "/search", "/report/"} <= kinds


def test_run_page_counts_match_the_store(app, truth):
    page = get(app, "/run?run=rl")
    assert page.status == 200
    steps = {}
    for run, _tid, step, _env in truth["transcripts"]:
        if run == "rl":
            steps[step] = steps.get(step, 0) + 1
    table = page.tree.by_id("steps")
    assert table is not None
    step_links = [params_of(a["href"]) for a in page.tree.find("a") if a["href"].startswith("/transcripts?")
                  and "step" in params_of(a["href"]) and "environment" not in params_of(a["href"])
                  and "no_environment" not in params_of(a["href"])]
    assert sorted(int(p["step"]) for p in step_links) == sorted(steps)
    for step, n in steps.items():
        assert re.search(rf">{step}</a></td>\s*<td class=\"num\">{n}</td>", page.text), step
    assert "eval_awareness flagged" in page.text


def test_transcript_list_pages_through_everything_in_order(app, truth, monkeypatch):
    from cotwatch.reports.viewer import data

    monkeypatch.setattr(data, "PAGE_SIZE", 4)
    expected = [tid for run, tid, _s, _e in truth["transcripts"] if run == "rl"]
    page = get(app, "/transcripts?run=rl")
    listed = []
    while True:
        assert page.status == 200
        listed += [params_of(a["href"])["id"] for a in page.tree.find("a", "tid")]
        nxt = next((a for a in page.tree.find("a") if a.get("rel") == "next"), None)
        if nxt is None:
            break
        page = get(app, nxt["href"])
    assert listed == expected
    one_step = get(app, "/transcripts?run=rl&step=100&environment=qa")
    assert sorted(params_of(a["href"])["id"] for a in one_step.tree.find("a", "tid")) == ["redacted-1", "split-1"]
    no_env = get(app, "/transcripts?run=rl&no_environment=1")
    assert [params_of(a["href"])["id"] for a in no_env.tree.find("a", "tid")] == ["shared"]


def test_every_transcript_is_shown_verbatim(app, truth):
    """Each segment's text, rebuilt from the page (markers turned back into their characters),
    equals the stored text exactly — CR, ESC, bidi overrides and HTML included."""
    by_transcript: dict[tuple[str, str], list[str]] = {}
    for run, tid, _step, _env, _ordinal, _kind, text in truth["segments"]:
        by_transcript.setdefault((run, tid), []).append(text)
    for (run, tid), texts in by_transcript.items():
        page = get(app, transcript_url(run, tid))
        assert page.status == 200, (run, tid, page.text[-300:])
        shown = page.tree.verbatim
        stored = [t for t in texts if t]  # a redacted segment has no text and no <pre>
        assert shown == stored, (run, tid)
        assert_no_active_content(page)


def test_flagged_sentences_are_highlighted_with_their_scores(app, truth):
    page = get(app, transcript_url("rl", "aware-1"))
    flags = [e for e in page.tree.find("span", "flag")]
    expected = [(s[2], s[3], s[4], s[5]) for s in truth["flagged"] if s[:2] == ("rl", "aware-1")]
    assert expected, "the fixture must have flagged sentences"
    firsts = [e for e in flags if "first" in e["class"].split()]
    assert [e["_text"] for e in firsts] == [s[2] for s in expected]
    assert [float(e["data-score"]) for e in firsts] == pytest.approx([s[3] for s in expected], abs=1e-6)
    lasts = [e for e in flags if "last" in e["class"].split()]
    assert all(e["data-label"].startswith("eval_awareness 0.90") for e in lasts)
    listed = page.tree.by_id("flagged")
    assert listed is not None and "eval_awareness 0.900" in listed["_text"]
    results = page.tree.by_id("classifier-results")
    assert "viewer-rules" in results["_text"]
    decision = [td for td in page.tree.find("td", "flagged")]
    assert [td["_text"] for td in decision] == ["yes"]  # the transcript decision


def test_hits_are_highlighted_and_anchored(app):
    page = get(app, transcript_url("rl", "aware-1", q="might be a test"))
    hits = [h for h in page.tree.find("mark", "hit") if "id" in h]  # (the legend has one without)
    assert [h["_text"] for h in hits] == ["might be a test", "MIGHT, be a-test"]
    assert all(page.tree.by_id(h["id"]) is h for h in hits)
    assert "2 hits of the phrase" in page.tree.by_id("hit-count")["_text"]
    text = get(app, transcript_url("rl", "aware-1", q="<script>", mode="text"))
    assert [h["_text"] for h in text.tree.find("mark", "hit") if "id" in h] == ["<script>"]


# -- search ------------------------------------------------------------------------------------------
def test_term_search_counts_and_transcripts_match_the_store(app, truth):
    pages = search_pages(app, q="autop")
    first = pages[0]
    summary = first.tree.by_id("summary")
    assert summary["data-mode"] == "term"
    assert f"{truth['autop']:,} occurrences" in re.sub(r"<[^>]+>", "", first.text)
    assert set(hits_of(pages)) == truth["autop_docs"]
    matches = [td["_text"] for p in pages for td in p.tree.find("td", "match")]
    assert matches and all(m.lower() == "autop" for m in matches)
    # each line links to its transcript, at the anchor of the hit
    for page in pages:
        for a in [a for a in page.tree.find("a") if "#h-" in a.get("href", "")]:
            target = get(app, a["href"].split("#")[0])
            assert target.tree.by_id(a["href"].split("#")[1]) is not None


@pytest.mark.parametrize("query,words", [("might be a test", ["might", "be", "a", "test"]),
                                         ("autop-run", ["autop", "run"]),
                                         ('"a test"', ["a", "test"])])
def test_phrase_search_finds_exactly_the_transcripts_holding_the_phrase(app, truth, query, words):
    pages = search_pages(app, q=query)
    assert pages[0].tree.by_id("summary")["data-mode"] == "phrase"
    found = hits_of(pages)
    assert len(found) == len(set(found))
    assert set(found) == contract_phrase_docs(truth, words)
    if words == ["might", "be", "a", "test"]:
        assert ("rl", "split-1") not in set(found)  # "might be" | "a test" in two segments


def test_text_search_finds_the_payload_and_shows_it_as_text(app, truth):
    for query in ("<script>", "<SCRIPT>window"):
        pages = search_pages(app, q=query)
        assert pages[0].tree.by_id("summary")["data-mode"] == "text"
        found = set(hits_of(pages))
        expected = {(run, tid) for run, tid, _s, _e, _o, kind, text in truth["segments"]
                    if kind in ("reasoning", "reasoning_summary") and query.lower() in text.lower()}
        assert found == expected and ("rl", "aware-1") in found
        for page in pages:
            assert_no_active_content(page)
            assert "&lt;script&gt;" in page.text


@pytest.mark.parametrize("query", ["autop", "might be a test", "<script>", "a*"])
def test_search_pages_walk_every_hit_once(app, monkeypatch, query):
    from cotwatch.reports.viewer import search

    whole = hits_of(search_pages(app, q=query))
    monkeypatch.setattr(search, "WINDOW", 2)
    monkeypatch.setattr(search, "MAX_WINDOW", 4)
    monkeypatch.setattr(search, "PAGE_SIZE", 1)
    paged = search_pages(app, q=query)
    assert len(paged) >= len(whole) >= 1
    assert hits_of(paged) == whole


def test_a_page_stopped_by_its_time_limit_continues_where_it_stopped(store_file, monkeypatch):
    """A timeout in the middle of a scan keeps what was read; the next page starts after it."""
    from cotwatch.analytics.errors import QueryTimeout
    from cotwatch.reports.viewer import search
    from cotwatch.reports.viewer.lease import Reader, StoreLease

    monkeypatch.setattr(search, "WINDOW", 3)
    monkeypatch.setattr(search, "MAX_WINDOW", 3)
    lease = StoreLease(store_file, linger=0)
    matcher = search.parse_query("<script>")
    with lease.reader() as reader:
        whole = search.search(reader, matcher)
        calls = {"n": 0}
        real = Reader.named

        def flaky(self, name, params=None):
            if name == "viewer_text_docs":
                calls["n"] += 1
                if calls["n"] == 3:
                    raise QueryTimeout("a query ran past its time limit")
            return real(self, name, params)

        monkeypatch.setattr(Reader, "named", flaky)
        first = search.search(reader, matcher)
        monkeypatch.setattr(Reader, "named", real)
        assert first.stopped == "time" and first.next_after is not None
        rest = search.search(reader, matcher, after=first.next_after)
        none_left = search.search(reader, matcher, budget=0.0)
    ids = [(line["run"], line["id"]) for line in first.lines + rest.lines if line["first"]]
    assert ids == [(line["run"], line["id"]) for line in whole.lines if line["first"]]
    assert none_left.stopped == "time" and none_left.lines == [] and none_left.next_after is not None


def test_term_search_per_step_counts_and_filters(app):
    page = get(app, "/search?q=autop&run=rl-2")
    rows = page.tree.by_id("term-steps")
    assert rows is not None
    assert "2 occurrences" in re.sub(r"<[^>]+>", "", page.text)
    assert hits_of([page]) == [("rl-2", "shared")]
    zero = get(app, "/search?q=autoq")
    assert "never occurs" in zero.text and zero.status == 200


# -- hostile names, bad parameters, ambiguity ---------------------------------------------------------
def test_hostile_run_name_and_id_round_trip_through_links(app):
    index = get(app, "/")
    run_link = next(h for h in index.links() if h.startswith("/run?") and params_of(h)["run"] == HOSTILE_RUN)
    run_page = get(app, run_link)
    assert run_page.status == 200
    list_link = next(h for h in run_page.links() if h.startswith("/transcripts?") and "step" not in params_of(h))
    listing = get(app, list_link)
    t_link = listing.tree.find("a", "tid")[0]["href"]
    assert params_of(t_link) == {"run": HOSTILE_RUN, "id": HOSTILE_ID}
    page = get(app, t_link)
    assert page.status == 200
    shown_id = page.tree.by_id("transcript-id")
    assert shown_id is not None
    for p in (index, run_page, listing, page):
        assert_no_active_content(p)
    # hidden form fields carry the exact id back (CR as a character reference)
    hidden = {e["name"]: e["value"] for e in page.tree.find("input") if e.get("type") == "hidden"}
    assert hidden == {"run": HOSTILE_RUN, "id": HOSTILE_ID}
    assert "&#13;" in page.text


@pytest.mark.parametrize("path,status", [
    ("/transcripts?run=rl&step=abc", 400), ("/transcripts?run=rl&page=-1", 400), ("/run?run=nope", 404),
    ("/run", 400), ("/transcript?run=rl&id=nope", 404), ("/transcript?run=rl", 400),
    ("/search?q=x&mode=bogus", 400), ("/search?q=" + "x" * 300, 400), ("/search?q=%ff", 400),
    ("/search?q=x&scope=everything", 400), ("/search?q=autop&run=nope", 404), ("/nowhere", 404),
    ("/search?" + "&".join(f"a{i}=1" for i in range(50)), 400), ("/search?q=/(a%2B)%2B$/&mode=term", 400),
    ("/transcripts?run=rl&page=1000000000000000000", 400), ("/search?q=autop&after=99999999999999999999", 400),
    ("/search?q=" + "x" * 9000, 414),
])
def test_bad_parameters_get_a_page_with_one_reason(app, path, status):
    page = get(app, path)
    assert page.status == status, page.text[-300:]
    assert page.tree.find("p", "error") or page.status == 400
    assert "Traceback" not in page.text


def test_a_cursor_below_the_first_key_starts_at_the_first(app):
    assert hits_of([get(app, "/search?q=autop&after=-5")]) == hits_of([get(app, "/search?q=autop")])


def test_a_bug_is_a_plain_500_and_one_line(store_file, monkeypatch):
    from cotwatch.reports.viewer import data
    from cotwatch.reports.viewer.app import Viewer

    lines = []
    app = Viewer(store_file, linger=0.0, port=8765, log=lines.append)

    def broken(reader):
        raise ZeroDivisionError("boom\x1b[2J")

    monkeypatch.setattr(data, "runs", broken)
    page = get(app, "/")
    assert page.status == 500 and "Traceback" not in page.text and "boom" not in page.text
    assert len(lines) == 1 and "ZeroDivisionError: boom" in lines[0] and "\x1b" not in lines[0]


def test_a_too_broad_wildcard_is_refused(app, monkeypatch):
    from cotwatch.reports.viewer import search

    monkeypatch.setattr(search, "MAX_WILDCARD_TERMS", 2)
    page = get(app, "/search?q=a*")
    assert page.status == 400 and "narrower" in page.text


def test_an_id_in_several_runs_asks_which(app):
    page = get(app, "/transcript?id=shared")
    assert page.status == 200
    choices = [params_of(a["href"]) for a in page.tree.find("a") if a["href"].startswith("/transcript?")]
    assert sorted(c["run"] for c in choices) == ["rl", "rl-2"]


# -- HTTP guards ---------------------------------------------------------------------------------------
def test_headers_forbid_scripts_and_sniffing(app):
    page = get(app, "/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("host,status", [
    ("127.0.0.1:8765", 200), ("localhost:8765", 200), ("[::1]:8765", 200), ("evil.example:8765", 421),
    ("evil.example", 421), ("127.0.0.1:9999", 421), ("attacker.localhost.evil.com:8765", 421), ("", 421),
])
def test_dns_rebinding_hosts_are_refused(app, host, status):
    assert get(app, "/", host=host).status == status


def test_cross_site_subresource_requests_are_refused(app):
    assert get(app, "/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}).status == 403
    assert get(app, "/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}).status == 403
    assert get(app, "/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}).status == 200
    assert get(app, "/", headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}).status == 200


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_only_get_and_head(app, method):
    page = get(app, "/", method=method)
    assert page.status == 405 and page.headers["allow"] == "GET, HEAD"


def test_head_has_headers_and_no_body(app):
    page = get(app, "/", method="HEAD")
    assert page.status == 200 and page.body == b""


# -- the report folder ---------------------------------------------------------------------------------
SECRET = "TOPSECRET-do-not-serve"


@pytest.fixture
def report_server(store_file, tmp_path):
    """A real server (port 0) serving a report folder with traps around it."""
    from cotwatch.reports.viewer.server import make_server, serve_in_thread

    root = tmp_path / "site"
    report = root / "report"
    (report / "data").mkdir(parents=True)
    (report / "history" / "2026-01-01").mkdir(parents=True)
    (report / "index.html").write_text("<!DOCTYPE html><title>report</title><p>the report</p>")
    (report / "data" / "a.csv").write_text("x\n1\n")
    (report / "history" / "2026-01-01" / "index.html").write_text("old report")
    (report / ".hidden").write_text(SECRET)
    (report / "chart.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    (report / "blob.bin").write_bytes(b"\x00\x01")
    (root / "secret.txt").write_text(SECRET)
    os.symlink(root / "secret.txt", report / "link-out")
    os.symlink(root, report / "dir-out")
    os.symlink(report / "data" / "a.csv", report / "link-in")
    server = make_server(store_file, host="127.0.0.1", port=0, report_dir=report, log=lambda m: None)
    serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


def raw_get(server, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One request with the path sent byte for byte (http.client does not normalize it)."""
    port = server.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", f"127.0.0.1:{port}")
    for k, v in (headers or {}).items():
        conn.putheader(k, v)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


@pytest.mark.parametrize("path", [
    "/report/../secret.txt", "/report/%2e%2e/secret.txt", "/report/%2e%2e%2fsecret.txt", "/report/..%2fsecret.txt",
    "/report/data/../../secret.txt", "/report/data/%2e%2e/%2e%2e/secret.txt", "/report/%252e%252e/secret.txt",
    "/report/..%5csecret.txt", "/report/%5c..%5csecret.txt", "/report/..\\secret.txt", "/report//etc/passwd",
    "/report/%2fetc%2fpasswd", "/report/link-out", "/report/dir-out/secret.txt", "/report/dir-out/",
    "/report/.hidden", "/report/data/a.csv%00.html", "/report/./.hidden", "/report/%2e/secret.txt",
    "/report/..", "/report/%2e%2e", "/report/.%2e/secret.txt", "/../secret.txt", "/static/../../secret.txt",
    "/report/" + quote(str(Path("/etc/passwd"))), "/report/nope.html",
])
def test_path_traversal_against_the_report_fails(report_server, path):
    status, _headers, body = raw_get(report_server, path)
    assert status == 404, (path, status)
    assert SECRET.encode() not in body and b"root:" not in body


def test_report_files_are_served_sandboxed(report_server):
    status, headers, body = raw_get(report_server, "/report/")
    assert status == 200 and b"the report" in body
    assert headers["content-type"].startswith("text/html")
    csp = headers["content-security-policy"]
    assert csp.startswith("sandbox allow-scripts") and "connect-src 'none'" in csp and "allow-same-origin" not in csp
    assert raw_get(report_server, "/report/history/2026-01-01/")[2] == b"old report"
    status, headers, body = raw_get(report_server, "/report/data/a.csv")
    assert (status, body) == (200, b"x\n1\n") and headers["content-type"].startswith("text/csv")
    assert raw_get(report_server, "/report/link-in")[2] == b"x\n1\n"  # a link that stays inside is fine
    status, headers, _ = raw_get(report_server, "/report/chart.svg")
    assert headers["content-security-policy"].startswith("sandbox;") and "script" not in headers["content-security-policy"]
    status, headers, _ = raw_get(report_server, "/report/blob.bin")
    assert headers["content-disposition"] == "attachment"
    status, headers, _ = raw_get(report_server, "/report")
    assert (status, headers["location"]) == (301, "/report/")


def test_concurrent_requests_share_the_store(report_server):
    """Sixteen clients at once: every page answers, each request on its own cursor."""
    paths = ["/", "/run?run=rl", "/transcripts?run=rl", "/transcript?run=rl&id=aware-1&q=autop",
             "/search?q=autop", "/search?q=might+be+a+test", "/search?q=%3Cscript%3E", "/report/data/a.csv"]
    results: list[int] = []

    def client(k: int) -> None:
        for i in range(6):
            results.append(raw_get(report_server, paths[(k + i) % len(paths)])[0])

    threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [200] * 96


def test_without_a_report_folder_report_is_404(app):
    page = get(app, "/report/index.html")
    assert page.status == 404 and "--report" in page.text


# -- read-only, locks, lifecycle -----------------------------------------------------------------------
def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_store_is_never_written_and_writers_get_in_after_a_page(store_file):
    from cotwatch.analytics.store.database import Store
    from cotwatch.reports.viewer.app import Viewer

    before = _digest(store_file)
    app = Viewer(store_file, linger=0.2, port=8765, log=lambda m: None)
    for path in ("/", "/run?run=rl", "/transcripts?run=rl", "/transcript?run=rl&id=aware-1&q=autop",
                 "/search?q=autop", "/search?q=might+be+a+test", "/search?q=%3Cscript%3E"):
        assert get(app, path).status == 200
    assert app.lease.is_open
    deadline = time.monotonic() + 5
    while app.lease.is_open and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not app.lease.is_open, "the store stays open after the linger time"
    assert _digest(store_file) == before
    assert not Path(str(store_file) + ".wal").exists()
    with Store.open(store_file, read_only=False):
        pass  # a writer gets the file


_WRITER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_a_store_held_by_a_writer_answers_503_then_recovers(tmp_path):
    from cotwatch.reports.viewer.app import Viewer

    path = build_store(tmp_path / "locked.duckdb", classify=False)
    app = Viewer(path, wait=0.3, linger=0.0, port=8765, log=lambda m: None)
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        page = get(app, "/")
        assert page.status == 503 and page.headers["retry-after"] == "5"
        assert "another process is writing" in page.text
    finally:
        writer.kill()
        writer.wait()
    assert get(app, "/").status == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cotwatch(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "cotwatch", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, **SIGINT_DEFAULT, **kwargs)


def test_cli_serves_and_stops_on_ctrl_c_with_130(store_file):
    proc = _cotwatch("view", "--db", str(store_file), "--port", "0")
    try:
        line = proc.stderr.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, line
        conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=10)
        conn.request("GET", "/run?run=rl")
        assert conn.getresponse().status == 200
        conn.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err and "cotwatch view: stopped" in err.splitlines()


@pytest.mark.parametrize("args,code,message", [
    (["--db", "{tmp}/missing.duckdb"], 4, "no such store"),
    (["--report", "{tmp}/no-such-report"], 3, "no such folder"),
    (["--port", "{busy}"], 3, "cannot listen on"),
    (["--port", "70000"], 2, "70000"),
])
def test_cli_errors_are_one_line_with_an_exit_code(store_file, tmp_path, args, code, message):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        filled = [a.format(tmp=tmp_path, busy=busy.getsockname()[1]) for a in args]
        if "--db" not in filled:
            filled += ["--db", str(store_file)]
        proc = _cotwatch("view", *filled)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert message in err and "Traceback" not in err
    if code != 2:
        assert len(err.strip().splitlines()) == 1


# -- text rendering units --------------------------------------------------------------------------------
HOSTILE_TEXTS = ["Café naïve İstanbul ΣΟΦΟΣ isn’t O'Brien's", "a\x00b\rc\r\nd\x1b[2J\u202eabc\u2066x\u2069\u200b\ufeff",
                 "emoji 👩‍👩‍👧 and ZWJ‌", "", "<script>&amp;</script>", "ǅ ǈ ß ﬃ \u0130\u0130x"]


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_token_spans_follow_the_token_contract(text):
    from cotwatch.analytics.terms.tokens import tokenize
    from cotwatch.reports.viewer.text import token_spans

    spans = list(token_spans(text))
    assert [t for _, _, t in spans] == tokenize(text)
    ends = [0]
    for a, b, _ in spans:
        assert ends[-1] <= a < b <= len(text)
        ends.append(b)


def test_render_keeps_every_character_under_overlapping_marks():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from cotwatch.reports.viewer.text import Mark, render

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=60), st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(0, 1)), max_size=6))
    def check(text, ranges):
        marks = [Mark(min(a, b), max(a, b), "flag" if layer == 0 else "hit", layer=layer, anchor=f"m{i}",
                      label="x 0.5", title="t\x1b")
                 for i, (a, b, layer) in enumerate(ranges)]
        html = render(text, marks)
        tree = Tree(f"<pre data-verbatim>{html}</pre>")
        assert tree.verbatim == [text]
        assert "\x1b" not in html and "\r" not in html and "\x00" not in html

    check()
