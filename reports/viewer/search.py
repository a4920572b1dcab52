"""Search in the store's text, with keyword-in-context lines that link to transcripts.

Three kinds of query (``mode="auto"`` picks one from what was typed):

* **term** — one token of the token contract (``autop``) or a wildcard (``disclaim*``). Totals come
  from the materialized counts (``step_term_counts``); the transcripts from the per-transcript
  term lists (``doc_term_lists``); only their text is read, to cut the lines.
* **phrase** — two to five tokens (``might be a test``, ``autop-run``, or anything in double
  quotes): consecutive tokens under the token contract, whatever separates them. The candidate
  transcripts are those whose term lists hold *every* word (materialized counts), and only their
  text is scanned for the sequence: a bounded scan, page by page.
* **text** — a literal, case-insensitive substring (anything else: ``<script>``, ``x == 1``):
  a scan of the segments' text in DuckDB, window by window of transcript keys.

Every mode walks transcripts in key (ingest) order from a cursor (``after``), fills one page, and
stops at the page's time budget; the next page continues where the last one stopped, so a
search over a million transcripts answers in bounded time and says how far it got.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from cotwatch.analytics.errors import InputError, QueryTimeout
from cotwatch.analytics.kinds import KINDS_OF_SCOPE, QUERY_SCOPES
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms.tokens import tokenize
from cotwatch.reports.viewer.data import BadRequest
from cotwatch.reports.viewer.lease import Reader
from cotwatch.reports.viewer.text import kwic_line, token_spans

MODES = ("auto", "term", "phrase", "text")
SCOPES = tuple(QUERY_SCOPES)
MAX_QUERY_CHARS = 200
#: a wildcard matching more counted terms than this is refused (it would list most of the vocabulary)
MAX_WILDCARD_TERMS = 5000
#: transcripts with hits per result page, and lines shown per transcript
PAGE_SIZE = 25
LINES_PER_TRANSCRIPT = 3
#: seconds one result page may spend reading the store
PAGE_BUDGET = 6.0
#: transcript keys per query window at first (bounded work per query); it doubles up to MAX_WINDOW
#: while windows come back within FAST_WINDOW_SECONDS (measured on 1M transcripts: a 20k window of
#: term lists or text reads in 20-160 ms)
WINDOW = 20_000
MAX_WINDOW = 320_000
FAST_WINDOW_SECONDS = 0.15
#: what auto mode reads as words: token characters, apostrophes, hyphens, spaces, sentence
#: punctuation and the wildcard's * (anything else, like < = /, makes it a text search)
_WORDLIKE = re.compile(r"[\w'\u2019*\s,;:.!?-]+")
_QUOTES = {'"': '"', "\u201c": "\u201d"}


class Matcher:
    """A parsed query; :meth:`spans` finds its hits in a text.

    ``mode`` is ``term`` (a token or a wildcard), ``phrase`` (2-5 tokens) or ``text``; ``spec``
    is the :class:`~cotwatch.analytics.terms.specs.TermSpec` of a term or phrase. Tokens and
    phrases are matched by the terms package's own :class:`~cotwatch.analytics.terms.phrases.TokenSequence`
    (the token contract, overlapping occurrences included), wildcards by its glob matcher.
    """

    def __init__(self, mode: str, query: str, spec=None):
        from cotwatch.analytics.terms.phrases import TokenSequence

        self.mode = mode
        self.query = query
        self.spec = spec
        self.wildcard = spec is not None and spec.kind == "wildcard"
        self._glob = spec.regex() if self.wildcard else None
        self.sequence = TokenSequence(spec.tokens) if spec is not None and not self.wildcard else None

    @property
    def tokens(self) -> tuple[str, ...]:
        """The folded tokens (phrase, token) or the wildcard pattern."""
        if self.spec is None:
            return ()
        return (self.spec.pattern,) if self.wildcard else self.spec.tokens

    def spans(self, text: str) -> list[tuple[int, int]]:
        if self.mode == "text":
            return [m.span() for m in re.finditer(re.escape(self.query), text, re.IGNORECASE)]
        if self.wildcard:
            return [(a, b) for a, b, t in token_spans(text) if self._glob.fullmatch(t)]
        return self.sequence.spans(text)

    def describe(self) -> str:
        if self.mode == "term":
            return f"the {'wildcard' if self.wildcard else 'term'} {self.tokens[0]!r}"
        if self.mode == "phrase":
            return f"the phrase {' '.join(self.tokens)!r} (consecutive tokens)"
        return f"the text {self.query!r} (case-insensitive substring)"


def parse_query(q: str | None, mode: str = "auto") -> Matcher:
    """What the user typed → a :class:`Matcher`. Raises BadRequest with a one-line reason.

    ``auto``: words (with sentence punctuation, hyphens, apostrophes; ``*`` for a wildcard) are a
    term or a phrase as ``cotwatch terms`` parses them (``parse_term``: one token, a wildcard, or 2
    to 5 tokens); anything else, or more than 5 words, is text. ``term``/``phrase``: parsed by
    ``parse_term`` whatever it holds. ``text``: the literal text.
    """
    from cotwatch.analytics.terms.specs import MAX_PHRASE_TOKENS, parse_term

    if mode not in MODES:
        raise BadRequest(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    text = (q or "").strip()
    if not text:
        raise BadRequest("type something to search for")
    if len(text) > MAX_QUERY_CHARS:
        raise BadRequest(f"the query is longer than {MAX_QUERY_CHARS} characters")
    if mode == "text":
        return Matcher("text", text)
    inner = text[1:-1].strip() if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1] else text
    if mode == "auto":
        words = tokenize(inner.replace("*", " "))
        if not inner or not _WORDLIKE.fullmatch(inner) or not words or len(words) > MAX_PHRASE_TOKENS:
            return Matcher("text", inner or text)
    try:
        spec = parse_term(inner, where="search")
    except InputError as exc:
        raise BadRequest(str(exc)) from None
    if spec.kind not in ("token", "wildcard", "phrase"):
        raise BadRequest("the viewer searches words, wildcards (word*), phrases and text; "
                         "use `cotwatch terms kwic` for regular expressions and watchlist groups")
    return Matcher("phrase" if spec.kind == "phrase" else "term", inner, spec)


@dataclass
class Filters:
    run: str | None = None
    step: int | None = None
    environment: str | None = None

    def params(self) -> dict[str, Any]:
        return {"run": self.run, "step": self.step, "environment": self.environment}


def progress(result: "SearchResult") -> float | None:
    """Share of the key range the search has walked after this page (0..1), None when unknown."""
    if result.key_range is None or result.reached is None:
        return None
    low, high = result.key_range
    return 1.0 if high <= low else min(1.0, max(0.0, (result.reached - low + 1) / (high - low + 1)))


@dataclass
class SearchResult:
    matcher: Matcher
    scope: str
    filters: Filters
    after: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    transcripts: int = 0            # transcripts with hits on this page
    examined: int = 0               # candidate transcripts read on this page
    next_after: int | None = None   # cursor of the next page (None: the search is complete)
    stopped: str | None = None      # why the page stopped early (time budget), if it did
    key_range: tuple[int, int] | None = None  # transcript keys the search walks (filters applied)
    reached: int | None = None      # the key this page read up to
    steps: list[dict[str, Any]] = field(default_factory=list)  # term mode: counts per run and step
    top_terms: list[dict[str, Any]] = field(default_factory=list)  # wildcard: the terms it matched
    total_occurrences: int | None = None
    total_docs: int | None = None   # exact for a single term
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def search(reader: Reader, matcher: Matcher, *, scope: str = "reasoning", filters: Filters | None = None,
           after: int = -1, page_size: int | None = None, budget: float | None = None) -> SearchResult:
    """One page of hits of ``matcher`` in ``scope``, from transcript key ``after`` on: at most
    ``page_size`` transcripts with hits (default PAGE_SIZE), within ``budget`` seconds of reading
    (default PAGE_BUDGET)."""
    page_size = PAGE_SIZE if page_size is None else page_size
    budget = PAGE_BUDGET if budget is None else budget
    if scope not in QUERY_SCOPES:
        raise BadRequest(f"scope {scope!r}: expected one of {', '.join(SCOPES)}")
    filters = filters or Filters()
    result = SearchResult(matcher, scope, filters, after)
    started = time.monotonic()
    with reader.budget(budget):
        if matcher.mode == "text":
            params = {"needle": matcher.query.lower(), "kinds": list(KINDS_OF_SCOPE[scope])}
            _walk(reader, "viewer_text_docs", params, matcher, result, page_size)
        else:
            ids = _term_ids(reader, matcher, result)
            if ids:
                params = {"ids": ids, "scopes": list(QUERY_SCOPES[scope]), "all": matcher.mode == "phrase"}
                _walk(reader, "viewer_term_docs", params, matcher, result, page_size)
    result.seconds = time.monotonic() - started
    return result


# -- term and phrase -------------------------------------------------------------------------------
def _term_ids(reader: Reader, matcher: Matcher, result: SearchResult) -> list[int]:
    """Term ids to find the transcripts by: the tokens a term matches (any of them), or every
    word of a phrase (all of them). Fills the totals from the materialized counts for terms."""
    from cotwatch.analytics.terms.rates import resolve_terms

    scopes = list(QUERY_SCOPES[result.scope])
    where = result.filters.params()
    if matcher.mode == "term":
        word = matcher.tokens[0]
        found = resolve_terms(reader, [matcher.spec])
        if found.height > MAX_WILDCARD_TERMS:
            raise BadRequest(f"{word!r} matches {found.height:,} counted terms; make the wildcard narrower")
        if found.is_empty():
            result.notes.append(f"{word!r} never occurs in the counted text of this store "
                                "(transcripts ingested with --defer-terms are counted by `cotwatch terms materialize`)")
            result.total_occurrences = result.total_docs = 0
            return []
        terms = found["term"].to_list()
        result.steps = reader.dicts("viewer_term_steps", {"terms": terms, "scopes": scopes, **where})
        result.total_occurrences = sum(s["occurrences"] for s in result.steps)
        if not matcher.wildcard:
            result.total_docs = sum(s["docs"] for s in result.steps)
        else:
            result.top_terms = reader.dicts("viewer_term_top", {"terms": terms, "scopes": scopes, "limit": 20, **where})
        return sorted(set(found["term_id"].to_list()))
    words = matcher.sequence.candidate_tokens()
    found = dict(reader.rows(load_sql("term_vocab_exact", "cotwatch.analytics"), {"terms": words}))
    counted = set(found.values())
    missing = [w for w in words if w not in counted]
    if missing:
        result.notes.append(f"the word {missing[0]!r} never occurs in the counted text, so neither does the phrase")
        return []
    return sorted(found)


# -- walking transcripts window by window ----------------------------------------------------------
def _walk(reader: Reader, query: str, params: dict[str, Any], matcher: Matcher, result: SearchResult,
          page_size: int) -> None:
    """Fill the page from transcript keys above ``result.after``, one key window at a time (each
    query reads only its window of term lists or text); the window doubles while windows come back
    fast and short of hits. Stops when the page is full, the keys run out or the budget is spent."""
    where = result.filters.params()
    [(low, high)] = reader.named("viewer_pk_range", where)
    if high is None:
        return
    cursor = max(result.after, low - 1)
    result.key_range = (low, high)
    window = WINDOW
    phrase = matcher.mode == "phrase"
    try:
        while result.transcripts < page_size and cursor < high:
            if reader.remaining() <= 0:
                raise QueryTimeout("page budget spent")
            until = min(cursor + window, high)
            want = page_size - result.transcripts
            limit = max(want, 200) if phrase else want
            t0 = time.monotonic()
            docs = reader.named(query, {**params, **where, "after": cursor, "until": until, "limit": limit})
            last = _cut_lines(reader, matcher, docs, result, page_size)
            if result.transcripts >= page_size or result.stopped:
                cursor = max(cursor, last)
                break
            if len(docs) == limit:
                cursor = docs[-1][0]
            else:
                cursor = until  # the whole window was read
                if time.monotonic() - t0 < FAST_WINDOW_SECONDS:
                    window = min(window * 2, MAX_WINDOW)
    except QueryTimeout:
        result.stopped = "time"
    result.next_after = cursor if cursor < high else None
    result.reached = cursor
    if phrase and result.examined:
        result.notes.append(f"{result.examined:,} transcripts using every word of the phrase were read for this page")


def _cut_lines(reader: Reader, matcher: Matcher, docs: list[tuple], result: SearchResult, page_size: int) -> int:
    """KWIC lines of ``docs`` (pk, id, run, step, environment) in order, until the page is full;
    returns the key of the last transcript read (-1 when none)."""
    cursor = -1
    if not docs:
        return cursor
    kinds = list(KINDS_OF_SCOPE[result.scope])
    texts: dict[int, list[tuple[int, str]]] = {}
    for pk, ordinal, text in reader.named("viewer_doc_texts", {"pks": [d[0] for d in docs], "kinds": kinds}):
        texts.setdefault(pk, []).append((ordinal, text))
    for pk, tid, run, step, environment in docs:
        if reader.remaining() <= 0:
            result.stopped = "time"
            break
        cursor = pk
        result.examined += 1
        hits = [(ordinal, text, a, b) for ordinal, text in texts.get(pk, []) for a, b in matcher.spans(text)]
        if not hits:
            continue
        result.transcripts += 1
        for n, (ordinal, text, a, b) in enumerate(hits[:LINES_PER_TRANSCRIPT]):
            left, match, right = kwic_line(text, a, b)
            result.lines.append({"run": run, "id": tid, "step": step, "environment": environment,
                                 "ordinal": ordinal, "start": a, "left": left, "match": match, "right": right,
                                 "first": n == 0, "more": len(hits) - LINES_PER_TRANSCRIPT if n == 0 else 0,
                                 "hits": len(hits)})
        if result.transcripts >= page_size:
            break
    return cursor

