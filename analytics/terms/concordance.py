"""Keyword in context: the lines behind a term's counts, with transcript ids."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from cotwatch.analytics.errors import InputError
from cotwatch.analytics.kinds import kinds_of_stored_scope
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms.rates import _check_scope, _specs, resolve_terms
from cotwatch.analytics.terms.specs import TermSpec, Watchlist
from cotwatch.analytics.terms.tokens import TOKEN_RE, normalize

# --------------------------------------------------------------------------------------------
# KWIC
# --------------------------------------------------------------------------------------------
KWIC_COLUMNS = ["transcript_id", "run", "step", "environment", "left", "match", "right"]


def kwic(store: Store, term: str | TermSpec, run: str | None = None, step: int | None = None,
         width: int = 60, limit: int = 20, scope: str = "reasoning", environment: str | None = None,
         watchlist: Watchlist | str | Path | None = None):
    """Keyword-in-context lines for ``term`` (any spec): transcript_id, run, step, environment,
    left, match, right — the original text around each occurrence, whitespace folded.

    The transcripts are found through the materialized counts, then only their text is read.
    """
    import polars as pl

    if width < 1 or limit < 1:
        raise InputError("--width and --limit must be at least 1")
    stored = _check_scope(scope)
    spec = _specs([term], watchlist)[0]
    if run is not None:
        store.require_run(run)
    matches = resolve_terms(store, [spec])
    rows: list[tuple] = []
    if matches.height:
        wanted = set(matches["term"].to_list())
        docs = store.rows(load_sql("term_kwic_docs"), {
            "ids": matches["term_id"].to_list(), "scopes": list(stored), "run": run, "step": step,
            "environment": environment, "limit": limit})
        kinds = [k for s in stored for k in _kinds_of(s)]
        for start in range(0, len(docs), 64):
            chunk = docs[start:start + 64]
            texts: dict[int, list[str]] = {}
            for pk, _, text in store.rows(load_sql("term_kwic_text"), {"pks": [d[0] for d in chunk], "kinds": kinds}):
                texts.setdefault(pk, []).append(text)
            for pk, tid, r, st, env in chunk:
                for text in texts.get(pk, []):
                    for left, match, right in _kwic_lines(text, wanted, width):
                        rows.append((tid, r, st, env, left, match, right))
                        if len(rows) >= limit:
                            break
                    if len(rows) >= limit:
                        break
                if len(rows) >= limit:
                    break
            if len(rows) >= limit:
                break
    schema = {"transcript_id": pl.String, "run": pl.String, "step": pl.Int64, "environment": pl.String,
              "left": pl.String, "match": pl.String, "right": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _kinds_of(stored_scope: str) -> tuple[str, ...]:
    return kinds_of_stored_scope(stored_scope)


_WS = re.compile(r"\s+")


def _kwic_lines(text: str, wanted: set[str], width: int):
    """(left, match, right) for each token of ``text`` in ``wanted`` (tokens per the contract),
    cut from the original text (normalization can change lengths: positions are mapped back)."""
    norm = normalize(text)
    if len(norm) == len(text):
        back = None
    else:  # map normalized offsets to original ones (e.g. 'İ'.lower() is two characters)
        lengths = np.fromiter((len(normalize(c)) for c in text), np.int64, len(text))
        ends = np.cumsum(lengths)
        back = lambda i: int(np.searchsorted(ends, i, side="right"))  # noqa: E731
    for m in TOKEN_RE.finditer(norm):
        if m.group() not in wanted:
            continue
        a, b = m.span()
        if back is not None:
            a, b = back(a), back(b - 1) + 1
        left = _WS.sub(" ", text[max(0, a - width):a])
        right = _WS.sub(" ", text[b:b + width])
        yield left.rjust(width) if len(left) < width else left[-width:], text[a:b], right[:width]
