"""Keyword in context: the lines behind a term's counts, with transcript ids."""

from __future__ import annotations

import contextlib
import itertools
import re
from pathlib import Path

from cotwatch.analytics.errors import InputError
from cotwatch.analytics.kinds import kinds_of_stored_scope
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms.phrases import TokenSequence, original_offsets, sequence_of, sequences_filter
from cotwatch.analytics.terms.rates import RunArg, _check_scope, _specs, resolve_terms, run_list
from cotwatch.analytics.terms.specs import TermSpec, Watchlist
from cotwatch.analytics.terms.tokens import TOKEN_RE, normalize

# --------------------------------------------------------------------------------------------
# KWIC
# --------------------------------------------------------------------------------------------
KWIC_COLUMNS = ["transcript_id", "run", "step", "environment", "left", "match", "right"]


def kwic(store: Store, term: str | TermSpec, run: RunArg = None, step: int | None = None,
         width: int = 60, limit: int = 20, scope: str = "reasoning", environment: str | None = None,
         watchlist: Watchlist | str | Path | None = None, *, case_sensitive: bool = False):
    """Keyword-in-context lines for ``term`` (any spec, phrases included): transcript_id, run,
    step, environment, left, match, right — the original text around each occurrence,
    whitespace folded; transcripts in (run, step, id) order.

    The transcripts are found through the materialized counts (and, for phrases, RE2's
    prefilter), then only their text is read. ``step`` must be a counted step of the selection
    (InputError listing the steps otherwise).
    """
    import polars as pl

    if width < 1 or limit < 1:
        raise InputError("--width and --limit must be at least 1")
    stored = _check_scope(scope)
    spec = _specs([term], watchlist, case_sensitive)[0]
    runs = run_list(store, run)
    if step is not None:
        check_step(store, step, runs, stored, environment)
    kinds = [k for s in stored for k in kinds_of_stored_scope(s)]
    matches = resolve_terms(store, [spec])
    wanted = set(matches["term"].to_list())
    live, rare, prefilter = sequences_filter(store, [sequence_of(leaf) for leaf in spec.leaves() if leaf.needs_text])
    rows: list[tuple] = []
    if wanted or live:
        params = {"any_ids": matches["term_id"].to_list(), "rare_ids": rare, "prefilter": prefilter,
                  "scopes": list(stored), "kinds": kinds, "runs": runs, "step": step, "environment": environment}
        with contextlib.closing(candidate_texts(store, params, kinds)) as candidates:  # the cursor goes at the limit
            lines = ((d["transcript_id"], d["run"], d["step"], d["environment"], left, match, right)
                     for d, texts in candidates for text in texts for left, match, right in _lines(text, wanted, live, width))
            rows = list(itertools.islice(lines, limit))
    schema = {"transcript_id": pl.String, "run": pl.String, "step": pl.Int64, "environment": pl.String,
              "left": pl.String, "match": pl.String, "right": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def candidate_texts(store: Store, params: dict, kinds: list[str]):
    """``(transcript, texts)`` for every candidate transcript of ``sql/term_candidate_docs.sql``
    (``params``; ``seed`` None: (run, step, id) order, else a random order fixed by it), with the
    texts of its segments of ``kinds``. Candidates stream 64 at a time, so a caller that stops
    early (a limit, a cap) reads no more text than it uses."""
    cursor = store.con.cursor()  # the candidate stream stays open while texts are read
    try:
        reader = cursor.sql(load_sql("term_candidate_docs"), params={"seed": None, **params}).to_arrow_reader(64)
        for batch in reader:
            chunk = batch.to_pylist()
            texts: dict[int, list[str]] = {}
            for pk, _, text in store.rows(load_sql("term_kwic_text"), {"pks": [d["pk"] for d in chunk], "kinds": kinds}):
                texts.setdefault(pk, []).append(text)
            for d in chunk:
                yield d, texts.get(d["pk"], [])
    finally:
        cursor.close()


def check_step(store: Store, step: int, runs, stored_scopes, environment: str | None = None) -> None:
    """InputError listing the counted steps when ``step`` is not one of them."""
    steps = counted_steps(store, runs, stored_scopes, environment)
    if step not in steps:
        where = f" of run(s) {', '.join(runs)}" if runs else ""
        shown = ", ".join(map(str, steps[:50])) + (f", ... ({len(steps)} steps)" if len(steps) > 50 else "")
        raise InputError(f"--step {step}: no counted transcripts at that step{where} (steps: {shown or 'none'})")


def counted_steps(store: Store, runs, stored_scopes, environment: str | None = None) -> list[int]:
    rows = store.rows(load_sql("term_counted_steps"), {"runs": list(runs) if runs else None,
                                                       "scopes": list(stored_scopes), "environment": environment})
    return [r[0] for r in rows]


def _kinds_of(stored_scope: str) -> tuple[str, ...]:
    return kinds_of_stored_scope(stored_scope)


_WS = re.compile(r"\s+")


def _cut(text: str, a: int, b: int, width: int) -> tuple[str, str, str]:
    left = _WS.sub(" ", text[max(0, a - width):a])
    right = _WS.sub(" ", text[b:b + width])
    return left.rjust(width) if len(left) < width else left[-width:], text[a:b], right[:width]


def _lines(text: str, wanted: set[str], sequences: list[TokenSequence], width: int):
    """(left, match, right) for every token in ``wanted`` and every occurrence of a sequence,
    in text order."""
    spans = [(a, b) for a, b in _token_spans(text, wanted)]
    for seq in sequences:
        spans += seq.spans(text)
    for a, b in sorted(set(spans)):
        yield _cut(text, a, b, width)


def _token_spans(text: str, wanted: set[str]):
    if not wanted:
        return
    norm = normalize(text)
    back = original_offsets(text, norm)
    for m in TOKEN_RE.finditer(norm):
        if m.group() in wanted:
            a, b = m.span()
            yield back(a), back(b - 1) + 1


def _kwic_lines(text: str, wanted: set[str], width: int):
    """(left, match, right) for each token of ``text`` in ``wanted`` (tokens per the contract),
    cut from the original text (normalization can change lengths: positions are mapped back)."""
    for a, b in _token_spans(text, wanted):
        yield _cut(text, a, b, width)
