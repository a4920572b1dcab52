"""Materialized term counts: every transcript's token counts, computed once and kept current.

``materialize(store)`` counts the transcripts that have not been counted yet (incremental), in
batches of whole transcripts, with one kernel (:func:`count_kernel`) that every engine uses, so
results are identical by construction. Counts land in ``doc_terms`` / ``doc_tokens`` /
``term_vocab`` (see ``analytics/migrations/0002_terms.sql``).
"""

from __future__ import annotations

from collections import Counter

from analytics.store import Store, load_sql
from analytics.tokens import TOKEN_RE, normalize

SCOPE_OF_KIND = {
    "reasoning": "reasoning",
    "reasoning_summary": "reasoning",
    "output": "output",
    "user": "other",
    "system": "other",
    "tool": "other",
}
SCOPE_NAMES = ("reasoning", "output", "other")
BATCH_TRANSCRIPTS = 4000


def count_kernel(batch):
    """Arrow table (transcript_pk, kind, text) → (doc_terms, doc_tokens) Arrow tables.

    doc_terms: (transcript_pk, scope, term, n); doc_tokens: (transcript_pk, scope, tokens), with a
    row for every scope of every transcript in the batch (0 when it has no such text). Every
    stored transcript has at least one segment, so every transcript of the batch is covered.
    """
    import pyarrow as pa

    pks = batch.column("transcript_pk").to_pylist()
    kinds = batch.column("kind").to_pylist()
    texts = batch.column("text").to_pylist()
    counters: dict[tuple[int, str], Counter] = {}
    for pk, kind, text in zip(pks, kinds, texts):
        key = (pk, SCOPE_OF_KIND.get(kind, "other"))
        counter = counters.get(key)
        if counter is None:
            counter = counters[key] = Counter()
        if text:
            counter.update(TOKEN_RE.findall(normalize(text)))
    t_pk, t_scope, t_term, t_n = [], [], [], []
    for (pk, scope), counter in counters.items():
        for term, n in counter.items():
            t_pk.append(pk)
            t_scope.append(scope)
            t_term.append(term)
            t_n.append(n)
    d_pk, d_scope, d_tokens = [], [], []
    for pk in dict.fromkeys(pks):
        for scope in SCOPE_NAMES:
            d_pk.append(pk)
            d_scope.append(scope)
            counter = counters.get((pk, scope))
            d_tokens.append(sum(counter.values()) if counter else 0)
    doc_terms = pa.table({
        "transcript_pk": pa.array(t_pk, pa.int64()),
        "scope": pa.array(t_scope, pa.string()),
        "term": pa.array(t_term, pa.string()),
        "n": pa.array(t_n, pa.int32()),
    })
    doc_tokens = pa.table({
        "transcript_pk": pa.array(d_pk, pa.int64()),
        "scope": pa.array(d_scope, pa.string()),
        "tokens": pa.array(d_tokens, pa.int64()),
    })
    return doc_terms, doc_tokens


def pending_transcripts(store: Store) -> int:
    """How many transcripts have no materialized counts yet."""
    return store.rows(
        "select count(*) from transcripts t where not exists "
        "(select 1 from doc_tokens d where d.transcript_pk = t.pk)"
    )[0][0]


def materialize(store: Store) -> int:
    """Count every transcript not yet counted; returns how many were counted. One transaction."""
    con = store.con
    with store.atomic():
        pending = con.execute(load_sql("termcounts_pending")).fetchall()
        if not pending:
            return 0
        pks = [row[0] for row in pending]
        for start in range(0, len(pks), BATCH_TRANSCRIPTS):
            lo, hi = pks[start], pks[min(start + BATCH_TRANSCRIPTS, len(pks)) - 1]
            batch = con.sql(load_sql("termcounts_batch"), params={"lo": lo, "hi": hi}).to_arrow_table()
            doc_terms, doc_tokens = count_kernel(batch)
            merge_partials(store, doc_terms, doc_tokens)
        return len(pks)


def merge_partials(store: Store, doc_terms, doc_tokens) -> None:
    """Append kernel output (Arrow tables) to the materialized tables, growing the vocabulary."""
    con = store.con
    con.register("_part_terms", doc_terms)
    con.register("_part_tokens", doc_tokens)
    try:
        con.execute(load_sql("termcounts_merge"))
    finally:
        con.unregister("_part_terms")
        con.unregister("_part_tokens")
