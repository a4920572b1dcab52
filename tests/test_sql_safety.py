"""Ad hoc SQL is read-only: every kind of write is refused before it runs and the store file is
byte-for-byte unchanged; parameters are bound; the time limit interrupts; a writer's lock is
waited for and explained."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb
import pytest
from cotwatch.analytics.errors import InputError, QueryTimeout, StoreLocked
from cotwatch.analytics.sqlapi import (
    check_read_only,
    open_sql,
    run_query,
    run_sql,
    sql_parameters,
)

from tests._sql_helpers import build_fixture_store, file_digest

WRITES = {
    "insert": "insert into internal.transcripts (pk, id, run, step, content_hash) values (99, 'x', 'rl-a', 0, 'h')",
    "insert_returning": "insert into internal.rejects (file, reason) values ('f', 'r') returning *",
    "update": "update internal.transcripts set score = 0",
    "delete": "delete from internal.rejects",
    "merge": "merge into internal.rejects r using (select 1 as x) s on false when not matched then insert (file, reason) values ('f', 'r')",
    "drop_table": "drop table internal.transcripts",
    "drop_view": "drop view transcripts",
    "create_table": "create table main.evil as select 1 as x",
    "create_temp": "create temp table scratch as select 1 as x",
    "create_view": "create or replace view transcripts as select 1 as x",
    "create_macro": "create macro evil(x) as x + 1",
    "alter": "alter table internal.transcripts add column evil integer",
    "comment": "comment on table internal.transcripts is 'evil'",
    "attach": "attach ':memory:' as other",
    "detach": "detach database other",
    "copy_to": "copy (select * from transcripts) to '/tmp/cotwatch-evil.csv'",
    "copy_from": "copy internal.rejects from '/tmp/cotwatch-evil.csv'",
    "export": "export database '/tmp/cotwatch-evil-export'",
    "import": "import database '/tmp/cotwatch-evil-export'",
    "install": "install fts",
    "load": "load fts",
    "set": "set threads = 1",
    "set_search_path": "set search_path = 'main'",
    "reset": "reset threads",
    "use": "use main",
    "pragma_set": "pragma threads = 1",
    "pragma_state": "pragma enable_profiling",
    "pragma_checkpoint": "pragma force_checkpoint",
    "checkpoint": "checkpoint",
    "checkpoint_function": "select * from checkpoint()",
    "force_checkpoint_function": "select * from force_checkpoint()",
    "call": "call checkpoint()",
    "vacuum": "vacuum",
    "analyze": "analyze",
    "begin": "begin transaction",
    "prepare": "prepare evil as delete from internal.rejects",
    "execute": "execute evil",
    "cte_insert": "with x as (insert into internal.rejects (file, reason) values ('f', 'r') returning *) select * from x",
    "cte_update": "with x as (update internal.transcripts set score = 0 returning *) select count(*) from x",
    "cte_delete": "with x as (delete from internal.rejects returning *) select * from x",
    "explain_analyze_delete": "explain analyze delete from internal.rejects",
    "pivot_statement": "pivot transcripts on run using count(*)",
    "second_statement": "select 1; drop table internal.transcripts",
    "create_secret": "create secret evil (type s3, key_id 'k', secret 's')",
}


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return build_fixture_store(tmp_path_factory.mktemp("sqlsafety") / "store.duckdb", with_classifiers=False)


@pytest.fixture
def store(fixture_db):
    with open_sql(fixture_db) as opened:
        yield opened


def test_every_kind_of_write_is_refused_and_the_file_is_unchanged(fixture_db):
    before = file_digest(fixture_db)
    with open_sql(fixture_db) as store:
        for kind, sql in WRITES.items():
            with pytest.raises(InputError) as caught:
                run_sql(store, sql)
            message = str(caught.value)
            assert "refused" in message, kind
            assert "read-only" in message, kind
        # the connection still answers, with the public views first on the search path
        assert run_sql(store, "select count(*) as n from transcripts").frame["n"].to_list() == [12]
    assert file_digest(fixture_db) == before
    assert not fixture_db.with_name(fixture_db.name + ".wal").exists()


@pytest.mark.parametrize("sql, kind", [
    ("drop table internal.transcripts", "DROP refused: DROP statements can change the store"),
    ("insert into internal.rejects (file, reason) values ('f', 'r')", "INSERT refused"),
    ("copy transcripts to 'x.csv'", "COPY refused"),
    ("install fts", "LOAD refused: INSTALL/LOAD statements"),
    ("set threads = 1", "SET refused"),
    ("with x as (delete from internal.rejects returning *) select * from x", "DELETE refused: a DELETE inside a SELECT"),
])
def test_refusals_say_what_and_why(store, sql, kind):
    with pytest.raises(InputError, match="^" + kind.replace("(", r"\(").replace(")", r"\)")):
        run_sql(store, sql)


def test_the_connection_itself_cannot_write(store):
    """Defence in depth: even bypassing the statement check, the read-only connection refuses."""
    with pytest.raises(duckdb.Error, match="read-only"):
        store.con.execute("insert into internal.rejects (file, reason) values ('f', 'r')")


@pytest.mark.parametrize("sql", [
    "select 1 as x",
    "with t as (select 1 as x) select * from t",
    "from transcripts select count(*)",
    "values (1), (2)",
    "describe transcripts",
    "show tables",
    "summarize select score from transcripts",
    "explain select * from transcripts",
    "pragma table_info('transcripts')",
    "pragma database_size",
    "select * from (pivot transcripts on environment in ('code', 'chat') using count(*) group by run) order by run",
    "select 1 as x;",
])
def test_reads_are_allowed(store, sql):
    frame, truncated = run_sql(store, sql)
    assert frame.height >= 1 and truncated is False


def test_parameter_values_with_quotes_and_sql_are_data(fixture_db):
    before = file_digest(fixture_db)
    evil = "x'); drop table internal.transcripts; --"
    with open_sql(fixture_db) as store:
        frame, _ = run_sql(store, "select $v as v, count(*) as n from transcripts where run = $v", {"v": evil})
        assert frame.rows() == [(evil, 0)]
        for name, params in [
            ("term_rate_by_step", {"term": "grader' or '1'='1", "run": "rl-a\"; delete from rejects; --"}),
            ("transcripts_with_term", {"term": "(.*)|'; drop view reasoning; --"}),
            ("rejected_records", {"file": "%' or 1=1 --"}),
            ("compare_runs", {"run_a": "rl-a' --", "run_b": "rl-b"}),
        ]:
            frame, _ = run_query(store, name, params)
            if name == "term_rate_by_step":  # the term matches nothing; the run matches nothing
                assert frame.height == 0
            elif name == "compare_runs":     # only rl-b matched
                assert frame["transcripts_a"].to_list() == [0, 0] and frame["transcripts_b"].to_list() == [1, 2]
            else:
                assert frame.height == 0
        assert run_sql(store, "select count(*) as n from transcripts").frame["n"].to_list() == [12]
    assert file_digest(fixture_db) == before


def test_parameters_are_derived_from_the_sql(store):
    assert sql_parameters("select $b, $a, $b from t where x = $c") == ["b", "a", "c"]
    assert sql_parameters("select '$notaparam' as s, $real -- $comment") == ["real"]
    with pytest.raises(InputError, match=r"missing parameter\(s\) run"):
        run_sql(store, "select * from transcripts where run = $run")
    with pytest.raises(InputError, match=r"unknown parameter\(s\) extra \(it takes \$run\)"):
        run_sql(store, "select * from transcripts where run = $run", {"run": "rl-a", "extra": "1"})
    with pytest.raises(InputError, match="positional parameters"):
        run_sql(store, "select * from transcripts where run = ?")


def test_named_query_parameter_errors_name_them(store):
    with pytest.raises(InputError, match=r"^query top_rising_terms: missing parameter\(s\) from_step, to_step \(it takes"):
        run_query(store, "top_rising_terms", {})
    with pytest.raises(InputError, match=r"^query term_rate_by_step: unknown parameter\(s\) trem"):
        run_query(store, "term_rate_by_step", {"term": "x", "trem": "y"})
    with pytest.raises(InputError, match=r"no named query 'rising' \(did you mean top_rising_terms\? known: awareness_rate_by_step, compare_runs"):
        run_query(store, "rising", {})


def test_row_cap_truncates_and_says_so(store):
    frame, truncated = run_sql(store, "select * from range(5000) order by range", max_rows=2500)
    assert truncated is True and frame.height == 2500 and frame["range"][-1] == 2499
    frame, truncated = run_sql(store, "select * from range(2500)", max_rows=2500)
    assert truncated is False and frame.height == 2500
    frame, truncated = run_sql(store, "select * from range(20000)", max_rows=None)
    assert truncated is False and frame.height == 20000
    frame, truncated = run_sql(store, "select * from transcripts where false")
    assert frame.height == 0 and frame.columns[0] == "transcript_id"


def test_timeout_interrupts_a_slow_query(store):
    with pytest.raises(QueryTimeout, match="time limit of 0.3s"):
        run_sql(store, "select count(*) from range(1000000000) a, range(1000000) b where a.range + b.range = 7",
                timeout=0.3)
    # the connection is usable afterwards
    assert run_sql(store, "select 42 as x").frame.rows() == [(42,)]


def test_sql_errors_become_one_line_input_errors(store):
    with pytest.raises(InputError, match=r'Table with name transcriptz does not exist! Did you mean "transcripts"'):
        run_sql(store, "select * from transcriptz")
    with pytest.raises(InputError, match="^SQL syntax error"):
        run_sql(store, "selec 1")
    with pytest.raises(InputError, match="^no SQL statement given"):
        run_sql(store, "  -- just a comment\n")


def test_check_read_only_returns_the_statement(store):
    statement = check_read_only(store.con, "select 1 as x;  ")
    assert str(statement.type).endswith("SELECT")


def _hold(path, read_only: bool):
    """A child process holding the store open (a writer takes DuckDB's exclusive file lock)."""
    code = textwrap.dedent(f"""
        import sys, time, duckdb
        con = duckdb.connect({str(path)!r}, read_only={read_only})
        print("ready", flush=True)
        sys.stdin.readline()
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _release(proc):
    proc.stdin.close()
    proc.wait(timeout=30)


def test_waits_for_a_writer_then_explains(fixture_db):
    proc = _hold(fixture_db, read_only=False)
    try:
        with pytest.raises(StoreLocked, match="another process is writing to the store; gave up waiting to read after 0.3s"):
            open_sql(fixture_db, wait=0.3)
    finally:
        _release(proc)
    with open_sql(fixture_db, wait=0.3) as store:  # free again
        assert run_sql(store, "select count(*) as n from transcripts").frame["n"].to_list() == [12]


def test_reads_alongside_another_reader(fixture_db):
    proc = _hold(fixture_db, read_only=True)
    try:
        with open_sql(fixture_db) as store:
            assert run_sql(store, "select count(*) as n from reasoning").frame["n"].to_list() == [13]
    finally:
        _release(proc)


def test_any_result_shape_becomes_a_frame(store):
    frame, _ = run_sql(store, "select 1 as a, 2 as a, 3 as a_2")
    assert frame.columns == ["a", "a_2", "a_2_2"] and frame.rows() == [(1, 2, 3)]
    frame, _ = run_sql(store, "select interval 1 day as i, union_value(k := 7) as u, [1, 2] as l, 1::hugeint as h")
    assert frame.rows() == [("1 day", "7", [1, 2], 1)]  # DuckDB's own text for types polars lacks
    frame, _ = run_sql(store, "select * from transcripts where false")
    assert frame.height == 0 and frame.columns[:2] == ["transcript_id", "run"]
