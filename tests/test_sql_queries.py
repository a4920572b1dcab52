"""Named queries: checked-in expected results on the fixture store, and a synthetic demo-like run
cross-checked against counts computed in Python from the generated records."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import duckdb
import polars as pl
import pytest
from cotwatch.analytics.sqlapi import get_query, list_queries, parse_query, run_query

from tests._sql_helpers import (
    EXPECTED,
    RuleScorer,
    add_classifier_results,
    build_fixture_store,
)
from tests.test_sql_views import CONTRACT

QUERY_NAMES = [q.name for q in list_queries()]


@pytest.fixture(scope="module")
def fixture_store(tmp_path_factory):
    from cotwatch.analytics.sqlapi import open_sql

    path = build_fixture_store(tmp_path_factory.mktemp("sqlqueries") / "store.duckdb")
    with open_sql(path) as store:
        yield store


def test_at_least_ten_named_queries_each_with_expected_results():
    assert len(QUERY_NAMES) >= 10
    expected = sorted(p.stem for p in EXPECTED.glob("*.json"))
    assert expected == sorted(QUERY_NAMES)


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_named_query_matches_expected_results(fixture_store, name):
    case = json.loads((EXPECTED / f"{name}.json").read_text(encoding="utf-8"))
    frame, truncated = run_query(fixture_store, name, case["params"])
    assert truncated is False
    assert frame.columns == case["columns"]
    kept = [c for c in frame.columns if c not in case["ignore_columns"]]
    assert [list(r) for r in frame.select(kept).iter_rows()] == case["rows"]


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_named_query_reads_only_public_views(name):
    """Every table a named query reads is a public view (or one of its own CTEs)."""
    query = get_query(name)
    con = duckdb.connect()
    try:
        tree = json.loads(con.execute("select json_serialize_sql($q)", {"q": query.sql}).fetchall()[0][0])
    finally:
        con.close()
    assert tree["error"] is False
    tables, ctes = [], set()

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE":
                tables.append((node["schema_name"], node["table_name"]))
            for entry in (node.get("cte_map") or {}).get("map", []):
                ctes.add(entry["key"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    outside = [(s, t) for s, t in tables if t not in ctes and not (s in ("", "api") and t in CONTRACT)]
    assert tables and outside == []


def test_header_documents_exactly_the_sql_parameters():
    query = get_query("top_rising_terms")
    assert [(p.name, p.required, p.default) for p in query.parameters] == [
        ("from_step", True, None), ("to_step", True, None), ("run", False, None),
        ("min_docs", False, 3), ("limit", False, 20)]
    assert query.description.startswith("Terms whose rate in reasoning rose most")
    with pytest.raises(Exception, match=r"queries/bad\.sql: bad header: parameters not in the header: b"):
        parse_query("bad", "-- something\n-- $a: doc\nselect $a, $b")
    with pytest.raises(Exception, match=r"header parameters not in the SQL: c"):
        parse_query("bad", "-- something\n-- $a: doc\n-- $c = 1: unused\nselect $a")


def test_curly_apostrophe_and_case_in_term_parameters(fixture_store):
    frame, _ = run_query(fixture_store, "transcripts_with_term", {"term": "IT’S"})
    assert frame.select("transcript_id", "occurrences", "snippet").rows() == [
        ("a-200-2", 1, "Café naïve résumé: unicode words count too. It’s fine.")]


# --------------------------------------------------------------------------------------------
# A demo-like store from cotwatch.analytics.synth.generator, cross-checked against Python counts of the records
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.sqlapi import open_sql
    from cotwatch.analytics.store.database import Store
    from cotwatch.analytics.synth import generator as synth

    folder = tmp_path_factory.mktemp("sqldemo")
    records = []
    for run, seed in (("demo-rl", 11), ("demo-rl-b", 12)):
        records += list(synth.generate_run(run=run, checkpoints=4, transcripts_per_checkpoint=10, seed=seed))
    path = folder / "run.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with Store.open(folder / "demo.duckdb", read_only=False) as store:
        ingest_paths(store, [path])
    add_classifier_results(folder / "demo.duckdb", runs=("demo-rl", "demo-rl-b"))
    with open_sql(folder / "demo.duckdb") as store:
        yield store, records, synth


def _python_counts(records, run):
    """Per step: token counts, and how many transcripts use each token (Python's tokenizer)."""
    from cotwatch.analytics.terms.tokens import tokenize

    tokens: dict[int, Counter] = defaultdict(Counter)
    docs: dict[int, Counter] = defaultdict(Counter)
    for rec in records:
        if rec["run"] == run:
            counts = Counter(tokenize(rec["reasoning"]))
            tokens[rec["step"]].update(counts)
            docs[rec["step"]].update(counts.keys())
    return tokens, docs


def test_every_named_query_runs_on_the_demo_store(demo):
    store, records, synth = demo
    params = {
        "term_rate_by_step": {"term": synth.RISING_TERMS[0]},
        "phrase_rate_by_step": {"phrase": synth.RISING_TERMS[0]},
        "top_rising_terms": {"from_step": 0, "to_step": 300},
        "top_falling_terms": {"from_step": 0, "to_step": 300},
        "transcripts_with_term": {"term": synth.LOOP_TERM},
        "compare_runs": {"run_a": "demo-rl", "run_b": "demo-rl-b"},
        "top_terms_at_step": {"step": 100},
    }
    for name in QUERY_NAMES:
        frame, truncated = run_query(store, name, params.get(name, {}))
        assert truncated is False
        if name != "rejected_records":
            assert frame.height > 0, name


def test_demo_totals_and_term_rates_match_python_counts(demo):
    store, records, synth = demo
    per_step, docs = _python_counts(records, "demo-rl")
    overview, _ = run_query(store, "step_overview", {"run": "demo-rl"})
    assert overview.select("step", "transcripts", "reasoning_tokens").rows() == [
        (step, 40, sum(per_step[step].values())) for step in (0, 100, 200, 300)]
    term = synth.RISING_TERMS[0]
    rates, _ = run_query(store, "term_rate_by_step", {"term": term, "run": "demo-rl"})
    assert rates.select("step", "occurrences", "docs_with_term").rows() == [
        (step, per_step[step][term], docs[step][term]) for step in (0, 100, 200, 300)]
    assert rates["occurrences"][-1] > rates["occurrences"][0]
    vocab, _ = run_query(store, "vocabulary_by_step", {"run": "demo-rl"})
    assert vocab.select("step", "vocabulary", "tokens").rows() == [
        (step, len(per_step[step]), sum(per_step[step].values())) for step in (0, 100, 200, 300)]
    top, _ = run_query(store, "top_terms_at_step", {"step": 200, "run": "demo-rl", "limit": 10})
    assert [(t, n) for t, n in top.select("term", "occurrences").rows()] == sorted(
        ((t, n) for t, n in per_step[200].items() if len(t) >= 4), key=lambda tn: (-tn[1], tn[0]))[:10]


def test_demo_drift_loop_and_covert_labels(demo):
    store, records, synth = demo
    rising, _ = run_query(store, "top_rising_terms", {"from_step": 0, "to_step": 300, "run": "demo-rl", "limit": 15})
    falling, _ = run_query(store, "top_falling_terms", {"from_step": 0, "to_step": 300, "run": "demo-rl", "limit": 15})
    # 40 transcripts per step: sampling noise competes with the drift, so ask for the planted
    # terms among the top 15, never on the wrong list
    assert set(rising["term"]) & set(synth.RISING_TERMS)
    assert set(falling["term"]) & set(synth.FALLING_TERMS)
    assert not set(rising["term"]) & set(synth.FALLING_TERMS)
    assert not set(falling["term"]) & set(synth.RISING_TERMS)
    assert (rising["log2_ratio"] > 0).all() and (falling["log2_ratio"] < 0).all()

    loop_id = next(r["id"] for r in records if r["run"] == "demo-rl" and r["metadata"]["synthetic"]["loop"])
    from cotwatch.analytics.terms.tokens import count_tokens

    longest, _ = run_query(store, "longest_reasoning", {"run": "demo-rl", "per_step": 1})
    by_python = {}
    for rec in records:
        if rec["run"] == "demo-rl":
            key = (-count_tokens(rec["reasoning"]), rec["id"])
            by_python[rec["step"]] = min(by_python.get(rec["step"], key), key)
    assert longest.select("step", "transcript_id", "tokens").rows() == [
        (step, tid, -neg) for step, (neg, tid) in sorted(by_python.items())]
    hits, _ = run_query(store, "transcripts_with_term", {"term": synth.LOOP_TERM, "run": "demo-rl", "limit": 1})
    planted = next(r for r in records if r["id"] == loop_id)["metadata"]["synthetic"]["planted_terms"][synth.LOOP_TERM]
    assert hits.select("transcript_id", "occurrences").rows() == [(loop_id, planted)]
    assert synth.LOOP_TERM in hits["snippet"][0].lower()

    covert, _ = run_query(store, "covert_action_rate_by_step", {"run": "demo-rl"})
    expected = Counter((r["step"], r["environment"]) for r in records if r["run"] == "demo-rl" and r["covert_action"])
    assert {(s, e): n for s, e, n in covert.select("step", "environment", "covert").rows() if n} == dict(expected)
    # the rule scorer through the real `classify apply` path: flags match a Python re-count
    from cotwatch.classifiers.sentences import split_sentences

    flagged = Counter(r["step"] for r in records if r["run"] == "demo-rl"
                      and any(RuleScorer.AWARE.search(s) for _, _, s in split_sentences(r["reasoning"])))
    aware, _ = run_query(store, "awareness_rate_by_step", {"run": "demo-rl"})
    per_step = aware.group_by("step").agg(pl.col("flagged").sum()).sort("step")
    assert dict(per_step.rows()) == {step: flagged.get(step, 0) for step in (0, 100, 200, 300)}
    assert sum(flagged.values()) > 0
    both, _ = run_query(store, "compare_runs", {"run_a": "demo-rl", "run_b": "demo-rl-b"})
    assert both.select("step", "transcripts_a", "transcripts_b").rows() == [(s, 40, 40) for s in (0, 100, 200, 300)]
