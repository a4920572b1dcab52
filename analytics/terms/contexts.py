"""A term's contexts: token windows around its occurrences, sampled per step (for usage drift).

Keyword in context cuts characters; usage analysis wants comparable units, so a context here is
the occurrence with ``window`` tokens of the contract on each side (within its segment), cut
from the original text, whitespace folded. Per step at most ``cap`` contexts are kept, from
transcripts taken in a seeded random order, at most ``per_transcript`` from each (a long
transcript that repeats the term cannot fill a step alone) — so a step's contexts are a sample
of the step's transcripts using the term, reproducible for a given ``seed``.
"""

from __future__ import annotations

import random
from pathlib import Path

from cotwatch.analytics.errors import InputError
from cotwatch.analytics.kinds import kinds_of_stored_scope
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.terms.concordance import candidate_texts, counted_steps
from cotwatch.analytics.terms.phrases import original_offsets, sequence_of, sequences_filter
from cotwatch.analytics.terms.rates import RunArg, _check_scope, _specs, resolve_terms, runs_or_only
from cotwatch.analytics.terms.specs import TermSpec, Watchlist
from cotwatch.analytics.terms.tokens import TOKEN_RE, normalize

CONTEXT_COLUMNS = ["run", "step", "transcript_id", "context", "match"]


def term_contexts(store: Store, term: str | TermSpec, run: RunArg = None, window: int = 12, cap: int = 200,
                  per_transcript: int = 3, seed: int = 0, scope: str = "reasoning", environment: str | None = None,
                  watchlist: Watchlist | str | Path | None = None, *, case_sensitive: bool = False):
    """Sampled contexts of ``term`` (any spec) per (run, step): run, step, transcript_id, context
    (the occurrence and ``window`` tokens either side), match (the occurrence as written).

    ``run``: one, several or None (the only run). Every counted step of the selection is
    sampled; steps where the term never occurs have no rows.
    """
    import polars as pl

    if window < 1 or cap < 1 or per_transcript < 1:
        raise InputError("--window, --cap and per-transcript must be at least 1")
    stored = _check_scope(scope)
    spec = _specs([term], watchlist, case_sensitive)[0]
    runs = runs_or_only(store, run)
    kinds = [k for s in stored for k in kinds_of_stored_scope(s)]
    matches = resolve_terms(store, [spec])
    wanted = set(matches["term"].to_list())
    live, rare, prefilter = sequences_filter(store, [sequence_of(leaf) for leaf in spec.leaves() if leaf.needs_text])
    rows: list[tuple] = []
    if wanted or live:
        for name in runs:
            for step in counted_steps(store, [name], stored, environment):
                params = {"any_ids": matches["term_id"].to_list(), "rare_ids": rare, "prefilter": prefilter,
                          "scopes": list(stored), "kinds": kinds, "runs": [name], "step": step,
                          "environment": environment, "seed": seed}
                rows += _step_contexts(store, params, wanted, live, kinds, window, cap, per_transcript, seed)
    return pl.DataFrame(rows, schema={"run": pl.String, "step": pl.Int64, "transcript_id": pl.String,
                                      "context": pl.String, "match": pl.String}, orient="row")


def _step_contexts(store: Store, params: dict, wanted: set[str], live, kinds, window: int, cap: int,
                   per_transcript: int, seed: int) -> list[tuple]:
    out: list[tuple] = []
    candidates = candidate_texts(store, params, kinds)
    try:
        for d, texts in candidates:
            found = [c for text in texts for c in token_windows(text, wanted, live, window)]
            if len(found) > per_transcript:  # a seeded choice, in text order
                keep = sorted(random.Random(f"{seed}:{d['pk']}").sample(range(len(found)), per_transcript))
                found = [found[i] for i in keep]
            for context, match in found:
                out.append((d["run"], d["step"], d["transcript_id"], context, match))
                if len(out) >= cap:
                    return out
    finally:
        candidates.close()  # releases the candidate cursor at once
    return out


def token_windows(text: str, wanted: set[str], sequences, window: int) -> list[tuple[str, str]]:
    """(context, match) for every occurrence of a token in ``wanted`` or of a sequence, in text
    order: the occurrence and ``window`` contract tokens on either side, from the original text."""
    norm = normalize(text)
    back = original_offsets(text, norm)
    spans = [(back(a), back(b - 1) + 1) for a, b in (m.span() for m in TOKEN_RE.finditer(norm))]
    if not spans:
        return []
    hits: list[tuple[int, int]] = []
    if wanted:
        hits += [(i, i) for i, m in enumerate(TOKEN_RE.finditer(norm)) if m.group() in wanted]
    if sequences:
        starts = {a: i for i, (a, _) in enumerate(spans)}
        ends = {b: i for i, (_, b) in enumerate(spans)}
        for seq in sequences:
            for a, b in seq.spans(text):
                if a in starts and b in ends:
                    hits.append((starts[a], ends[b]))
    out = []
    for i, j in sorted(set(hits)):
        lo, hi = max(0, i - window), min(len(spans) - 1, j + window)
        context = " ".join(text[spans[lo][0]:spans[hi][1]].split())
        out.append((context, text[spans[i][0]:spans[j][1]]))
    return out
