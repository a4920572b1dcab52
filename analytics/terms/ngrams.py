"""Every n-gram (n = 2..5) of a run, counted per step from stored text, for phrase discovery.

There are no materialized n-gram counts (docs/terms.md, "Phrases: text vs materialized
n-grams"), so discovery tokenizes the run's text once: DuckDB extracts the contract's tokens
with RE2 (``[\\pL\\pN]+(?:'[\\pL\\pN]+)*`` on ``lower()``ed text, in parallel) and counts the
n-grams of each segment per step — occurrences and transcripts using them; the n-gram positions
of a step (the denominator of keyness) are the sum of its occurrences. DuckDB's ``lower()`` and RE2's classes equal the contract except on
a few characters (:data:`~cotwatch.analytics.terms.phrases.RE2_DISAGREES` and the capital sigma,
whose Python lowercase depends on context); transcripts holding one are tokenized in Python with
the contract itself instead, so the counts are exact. An n-gram lies within one segment.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from cotwatch.analytics.store.database import Store, registered
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms.phrases import RE2_DISAGREES
from cotwatch.analytics.terms.tokens import tokenize

#: Characters on which DuckDB tokenizing differs from the contract (see the module docstring).
DUCKDB_TOKENIZE_DISAGREES = f"[{RE2_DISAGREES}\u03a3]"


def ngram_step_counts(store: Store, run: str, n: int, kinds: Sequence[str], environment: str | None = None):
    """Per (step, term) — ``term`` is the n-gram's tokens joined by one space — the occurrences
    and docs_with_term of every n-gram in ``run``; and per step the n-gram positions
    (``grams``). Returns (counts, totals) polars frames."""
    import polars as pl
    import pyarrow as pa

    params = {"run": run, "kinds": list(kinds), "environment": environment}
    odd = store.rows(load_sql("term_ngram_odd_transcripts"), {**params, "disagrees": DUCKDB_TOKENIZE_DISAGREES})
    odd_pks = [r[0] for r in odd]
    with registered(store.con, _odd=pa.table({"transcript_pk": pa.array(odd_pks, pa.int64())})):
        counts = store.frame(load_sql("term_ngram_counts"), {**params, "n": n})
    if odd_pks:  # the contract itself, in Python, for the few transcripts DuckDB cannot tokenize exactly
        step_of = {pk: step for pk, step in odd}
        occ: Counter = Counter()
        docs: Counter = Counter()
        seen: dict[int, set[str]] = {}
        for pk, text in store.rows(load_sql("term_kwic_text_only"), {"pks": odd_pks, "kinds": list(kinds)}):
            toks = tokenize(text)
            step = step_of[pk]
            mine = seen.setdefault(pk, set())
            for i in range(len(toks) - n + 1):
                gram = " ".join(toks[i:i + n])
                occ[(step, gram)] += 1
                mine.add(gram)
        for pk, mine in seen.items():
            for gram in mine:
                docs[(step_of[pk], gram)] += 1
        extra = pl.DataFrame({"step": [k[0] for k in occ], "term": [k[1] for k in occ],
                              "occurrences": list(occ.values()), "docs_with_term": [docs[k] for k in occ]},
                             schema={"step": pl.Int64, "term": pl.String, "occurrences": pl.Int64,
                                     "docs_with_term": pl.Int64})
        counts = pl.concat([counts.cast(extra.schema), extra]).group_by("step", "term").agg(
            pl.col("occurrences", "docs_with_term").sum())
    # every n-gram position is one occurrence of one n-gram: the positions per step are the sum
    totals = counts.group_by("step").agg(pl.col("occurrences").sum().alias("grams"))
    return counts, totals.sort("step")
