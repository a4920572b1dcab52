"""Named queries on real reasoning traces (../shared/data/thinking-traces), cross-checked against
the token contract applied in Python to the same files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TRACES = DATA / "thinking-traces"
pytestmark = pytest.mark.skipif(not TRACES.exists(), reason="../shared/data not present")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.sqlapi import open_sql
    from cotwatch.analytics.store.database import Store

    files = sorted(TRACES.glob("*.txt"))[:3]
    path = tmp_path_factory.mktemp("sqlreal") / "real.duckdb"
    with Store.open(path, read_only=False) as store:
        for step, file in enumerate(files):
            ingest_paths(store, [file], run="traces", step=step * 100, environment="public")
    with open_sql(path) as store:
        yield store, files


def test_real_traces_lengths_and_top_terms(real):
    from cotwatch.analytics.sqlapi import run_query
    from cotwatch.analytics.terms.tokens import tokenize

    store, files = real
    tokens = [tokenize(f.read_text(encoding="utf-8")) for f in files]
    longest, _ = run_query(store, "longest_reasoning", {"per_step": 1})
    assert longest.select("step", "transcript_id", "tokens").rows() == [
        (i * 100, f.name, len(t)) for i, (f, t) in enumerate(zip(files, tokens))]
    top, _ = run_query(store, "top_terms_at_step", {"step": 0, "limit": 5})
    counts = Counter(t for t in tokens[0] if len(t) >= 4)
    assert top.select("term", "occurrences").rows() == sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    word = top["term"][0]
    hits, _ = run_query(store, "transcripts_with_term", {"term": word, "limit": 5})
    assert hits.filter(hits["step"] == 0).select("transcript_id", "occurrences").rows() == [(files[0].name, counts[word])]
    assert word in hits.filter(hits["step"] == 0)["snippet"][0].lower()
