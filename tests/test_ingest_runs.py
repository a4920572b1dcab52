"""`runs delete`, and counts that are never silently stale (notes, resumption)."""

from __future__ import annotations

import json

from cotwatch.analytics.ingest.loading import ingest_paths
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms import materialize as termcounts

from tests.test_ingest import write_jsonl


def _two_runs(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [{"id": f"a{i}", "run": "A", "step": i % 3, "reasoning": f"wait, maybe {i}"}
                                            for i in range(30)])
    b = write_jsonl(tmp_path / "b.jsonl", [{"id": f"b{i}", "run": "B", "step": i % 2, "reasoning": f"wait, no {i}",
                                            "messages": None} for i in range(20)])
    return a, b


def _rows_of(store, run: str, pks: list[int]) -> dict[str, int]:
    """Rows that belong to ``run`` in every base table with a run or transcript_pk column."""
    found = {}
    for schema, table, column in store.rows(load_sql("runs_delete_tables")):
        if column == "run":
            n = store.rows(f'select count(*) from "{schema}"."{table}" where run = $run', {"run": run})[0][0]
        else:
            n = store.rows(f'select count(*) from "{schema}"."{table}" where list_contains($pks, transcript_pk)',
                           {"pks": pks})[0][0]
        found[f"{table}.{column}"] = found.get(f"{table}.{column}", 0) + n
    return found


def test_runs_delete_leaves_no_row_of_the_run_anywhere(tmp_path, cli):
    a, b = _two_runs(tmp_path)
    db = tmp_path / "store.duckdb"
    assert cli("ingest", "--db", db, a, b).code == 0
    with Store.open(db, read_only=False) as store:
        pks = [r[0] for r in store.rows("select pk from transcripts where run = 'A'")]
        # classifier results and flags for both runs, as classify apply would write them
        store.con.execute("insert into classifier_registry (classifier_id, name, version, artifact_sha256, "
                          "embedding_model, threshold) values (1, 'c', '1', 'x', 'm', 0.5)")
        store.con.execute("insert into classifier_sentences select 1, pk, 0, 0, 0, 3, 2, 0.9, true from transcripts")
        store.con.execute("insert into classifier_transcripts (classifier_id, transcript_pk, n_sentences, "
                          "n_candidates, max_score, flagged, n_flagged) select 1, pk, 1, 1, 0.9, true, 1 from transcripts")
        before_b = _rows_of(store, "B", [r[0] for r in store.rows("select pk from transcripts where run = 'B'")])
        held = _rows_of(store, "A", pks)
        assert held["transcripts.run"] == 30 and held["segments.transcript_pk"] == 30
        assert held["doc_tokens.transcript_pk"] == 90 and held["step_term_counts.run"] > 0
        assert held["classifier_sentences.transcript_pk"] == 30 and held["checkpoints.run"] == 3
    assert cli("runs", "delete", "A", "--db", db).code == 2  # no --yes, not a terminal
    res = cli("runs", "delete", "A", "--yes", "--db", db, "--format", "json")
    assert res.code == 0, res
    assert {r["table"]: r["rows"] for r in json.loads(res.out)}["transcripts"] == 30
    with Store.open(db) as store:
        assert all(v == 0 for v in _rows_of(store, "A", pks).values()), _rows_of(store, "A", pks)
        assert _rows_of(store, "B", [r[0] for r in store.rows("select pk from transcripts where run = 'B'")]) == before_b
        # the documented views too
        for view in store.rows("select table_name from information_schema.tables where table_schema = 'main' "
                               "and table_type = 'VIEW'"):
            columns = [c[0] for c in store.rows("select column_name from information_schema.columns where "
                                                "table_schema = 'main' and table_name = $t", {"t": view[0]})]
            if "run" in columns:
                n = store.rows(f'select count(*) from main."{view[0]}" where run = \'A\'')[0][0]
                assert n == 0, view
    assert cli("runs", "delete", "A", "--yes", "--db", db).code == 3  # gone
    # ingesting it again gives the store a clean ingest gives
    assert cli("ingest", "--db", db, a).code == 0
    with Store.open(tmp_path / "fresh.duckdb", read_only=False) as fresh:
        ingest_paths(fresh, [a, b])
        expected = fresh.rows("select run, step, scope, term, occurrences, docs_with_term from step_term_counts order by all")
    with Store.open(db) as store:
        assert store.rows("select run, step, scope, term, occurrences, docs_with_term from step_term_counts "
                          "order by all") == expected


def test_reading_commands_say_when_counts_are_incomplete_and_writers_finish_them(tmp_path, cli):
    a, b = _two_runs(tmp_path)
    db = tmp_path / "store.duckdb"
    assert cli("ingest", "--db", db, "--defer-terms", a).code == 0
    res = cli("runs", "--db", db, "--format", "json")
    assert res.code == 0 and "term counts are incomplete: 30 transcript(s) not counted" in res.err
    assert json.loads(res.out)[0]["reasoning_tokens"] == 0
    # the next ingest counts what an earlier one left, even when it adds nothing itself
    assert cli("ingest", "--db", db, a).code == 0
    res = cli("runs", "--db", db, "--format", "json")
    assert "incomplete" not in res.err and json.loads(res.out)[0]["reasoning_tokens"] > 0
    # so does `migrate`
    assert cli("ingest", "--db", db, "--defer-terms", b).code == 0
    res = cli("migrate", "--db", db)
    assert res.code == 0 and "counted the terms of 20 transcript(s)" in res.err
    with Store.open(db) as store:
        assert termcounts.pending_transcripts(store) == 0
