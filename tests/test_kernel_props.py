"""Property tests: any split of a corpus into shards and batches merges to exactly the
single-node result, hostile Unicode included (the token contract of analytics/terms/tokens.py)."""

from __future__ import annotations

from collections import Counter

from cotwatch.analytics.scale.shards import conform, export_parquet, shard_schema
from cotwatch.analytics.scale.terms_job import TermPartials, materialize_shards
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.terms.materialize import SCOPE_OF_KIND
from cotwatch.analytics.terms.tokens import tokenize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests._scale_helpers import ingest_store, jsonl, term_tables

# Characters where engines disagree: Turkish dotted/dotless i, Greek final sigma, German sharp s,
# combining marks (Devanagari virama, U+0301), zero-width joiner/non-joiner, curly and straight
# apostrophes, full-width and Arabic-Indic digits, ligatures, RTL marks, NUL, emoji with ZWJ.
HOSTILE = ["İstanbul", "ıi", "ΣΊΣΥΦΟΣ", "ς", "straße", "STRASSE", "हिन्दी", "é", "e\u0301",
           "a\u200db", "a\u200cb", "isn\u2019t", "isn't", "'quoted'", "１２３", "٣٤", "ﬁne", "\u202eabc",
           "a\x00b", "👩\u200d💻", "snake_case_id", "co-op", "Ǆemal", "ǅ", "K", "Å", "ŉ", "ﬀ", "\ufeffbom"]

word = st.one_of(st.sampled_from(HOSTILE), st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8))
text = st.lists(word, min_size=1, max_size=12).map(" ".join).filter(str.strip)  # ingest rejects blank text
kinds = st.sampled_from(list(SCOPE_OF_KIND))


@st.composite
def corpora(draw, max_transcripts=12):
    n = draw(st.integers(1, max_transcripts))
    rows = []
    for i in range(n):
        segs = draw(st.lists(st.tuples(kinds, text), min_size=1, max_size=4))
        rows.append({
            "transcript_id": f"t{i}", "run": draw(st.sampled_from(["r1", "r/2 é"])), "step": draw(st.sampled_from([0, 100])),
            "environment": draw(st.sampled_from([None, "env"])), "epoch": None, "covert_action": None, "score": None,
            "metadata": None,
            "segments": [{"ordinal": j, "role": None, "kind": k, "text": t, "redacted": False} for j, (k, t) in enumerate(segs)],
        })
    return rows


def contract_counts(rows):
    """The token contract applied directly: (run, id, scope) -> Counter, and token totals."""
    terms, tokens = {}, {}
    for row in rows:
        for scope in ("reasoning", "output", "other"):
            tokens[(row["run"], row["transcript_id"], scope)] = 0
        for seg in row["segments"]:
            key = (row["run"], row["transcript_id"], SCOPE_OF_KIND[seg["kind"]])
            found = tokenize(seg["text"])
            terms.setdefault(key, Counter()).update(found)
            tokens[key] += len(found)
    flat = {(k[0], k[1], k[2], term): n for k, counter in terms.items() for term, n in counter.items()}
    return flat, tokens


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=corpora(), cuts=st.lists(st.integers(0, 12), max_size=6))
def test_any_batch_split_gives_the_contract_counts(rows, cuts):
    import pyarrow as pa

    table = pa.Table.from_pylist(rows, schema=shard_schema())
    bounds = sorted({0, len(rows), *[c for c in cuts if c <= len(rows)]})
    kernel = TermPartials()
    got_terms, got_tokens = {}, {}
    for lo, hi in zip(bounds, bounds[1:]):
        out = kernel(conform(table.slice(lo, hi - lo), "mem"), "mem")
        for r in out["terms"].to_pylist():
            key = (r["run"], r["transcript_id"], r["scope"], r["term"])
            assert key not in got_terms  # a transcript lives in exactly one batch
            got_terms[key] = r["n"]
        for r in out["tokens"].to_pylist():
            got_tokens[(r["run"], r["transcript_id"], r["scope"])] = r["tokens"]
        assert out["rows"].num_rows == hi - lo
    want_terms, want_tokens = contract_counts(rows)
    assert got_terms == want_terms
    assert got_tokens == want_tokens


def records_for_ingest(rows):
    """The same transcripts as generic JSONL (messages form keeps every segment verbatim)."""
    role_of = {"reasoning": "assistant", "reasoning_summary": "assistant", "output": "assistant",
               "user": "user", "system": "system", "tool": "tool"}
    out = []
    for row in rows:
        out.append({"id": row["transcript_id"], "run": row["run"], "step": row["step"],
                    "environment": row["environment"],
                    "messages": [{"role": role_of[s["kind"]], "content": s["text"]} for s in row["segments"]]})
    return out


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=corpora(max_transcripts=10), rows_per_file=st.integers(1, 6), batch_size=st.integers(1, 5))
def test_any_shard_and_batch_split_merges_to_the_single_node_store(tmp_path_factory, rows, rows_per_file, batch_size):
    tmp = tmp_path_factory.mktemp("split")
    # single node: ingest + materialize at ingest (the store path every user starts with)
    single = ingest_store(tmp / "single.duckdb", jsonl(tmp / "c.jsonl", records_for_ingest(rows)))
    with Store.open(single) as store:
        export_parquet(store, tmp / "shards", rows_per_file=rows_per_file)
    result = materialize_shards(tmp / "sharded.duckdb", tmp / "shards", batch_size=batch_size,
                                partials=tmp / "jobs")
    assert result.merge.transcripts == result.merge.added == result.merge.merged == len(
        {(r["run"], r["transcript_id"]) for r in rows})
    assert term_tables(tmp / "sharded.duckdb") == term_tables(single)
