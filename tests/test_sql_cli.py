"""`cotwatch sql` and `cotwatch query list|show|run` end to end (in-process, via the conftest `cli`)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests._sql_helpers import EXPECTED, build_fixture_store, file_digest


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return build_fixture_store(tmp_path_factory.mktemp("sqlcli") / "store.duckdb", with_classifiers=False)


def test_query_list_names_every_query_with_description_and_parameters(cli):
    res = cli("query", "list", "--format", "json")
    assert res.code == 0, res
    rows = json.loads(res.out)
    names = [r["name"] for r in rows]
    assert names == sorted(p.stem for p in EXPECTED.glob("*.json"))
    by_name = {r["name"]: r for r in rows}
    assert by_name["term_rate_by_step"]["parameters"] == "term=VALUE [run=null] [environment=null]"
    assert by_name["rejected_records"]["description"].startswith("Records that `cotwatch ingest --skip-bad` left out")


def test_query_show_prints_the_file(cli):
    res = cli("query", "show", "compare_runs")
    assert res.code == 0, res
    assert res.out.startswith("-- Two runs side by side per checkpoint")
    assert "-- $run_a: the first run" in res.out and "full outer join" in res.out


def test_query_run_with_params_csv(cli, fixture_db):
    res = cli("query", "run", "term_rate_by_step", "-p", "term=grader", "-p", "run=rl-b", "--format", "csv", "--db", fixture_db)
    assert res.code == 0, res
    assert res.out.splitlines() == [
        "run,step,occurrences,tokens,per_1k_tokens,docs_with_term,docs,doc_fraction",
        "rl-b,0,1,9,111.1111,1,1,1.0",
        "rl-b,100,2,18,111.1111,1,2,0.5",
    ]
    assert res.err == ""


def test_query_run_string_params_are_cast_by_the_sql(cli, fixture_db):
    res = cli("query", "run", "top_terms_at_step", "-p", "step=100", "-p", "run=rl-a", "-p", "limit=2",
              "--format", "json", "--db", fixture_db)
    assert res.code == 0, res
    assert [(r["term"], r["occurrences"]) for r in json.loads(res.out)] == [("grader", 3), ("plainly", 2)]


@pytest.mark.parametrize("args, code, message", [
    (["query", "run", "term_rate_by_step"], 3, "cotwatch: error: query term_rate_by_step: missing parameter(s) term (it takes $term, $run, $environment)"),
    (["query", "run", "term_rate_by_step", "-p", "term=x", "-p", "colour=red"], 3, "cotwatch: error: query term_rate_by_step: unknown parameter(s) colour (it takes $term, $run, $environment)"),
    (["query", "run", "term_rate_by_step", "-p", "term"], 2, "expected key=value"),
    (["query", "show", "nope"], 3, "cotwatch: error: no named query 'nope'"),
    (["sql", "drop table transcripts"], 3, "cotwatch: error: DROP refused: DROP statements can change the store; cotwatch sql is read-only"),
    (["sql", "attach 'x.duckdb' as x"], 3, "cotwatch: error: ATTACH refused"),
    (["sql", "select * from nope"], 3, "cotwatch: error: query failed: Catalog Error: Table with name nope does not exist!"),
    (["sql", "select * from range(10)", "--format", "parquet"], 2, "cotwatch: error: --format parquet needs --output FILE"),
])
def test_errors_are_one_line_with_exit_codes(cli, fixture_db, args, code, message):
    res = cli(*args, "--db", fixture_db) if args[0] == "sql" or args[1] == "run" else cli(*args)
    assert res.code == code, res
    assert message in res.err
    assert "Traceback" not in res.err


def test_sql_truncates_visibly(cli, fixture_db):
    res = cli("sql", "select transcript_id from transcripts order by run, transcript_id", "--max-rows", "2",
              "--format", "csv", "--db", fixture_db)
    assert res.code == 0, res
    assert res.out.splitlines() == ["transcript_id", "a-0-1", "a-0-2"]
    assert "cotwatch: truncated: showing the first 2 rows" in res.err
    res = cli("sql", "select count(*) as n from transcripts", "--max-rows", "0", "--format", "csv", "--db", fixture_db)
    assert res.out.splitlines() == ["n", "12"] and res.err == ""


def test_sql_with_params_and_parquet_export(cli, fixture_db, tmp_path):
    out = tmp_path / "slice.parquet"
    res = cli("sql", "select transcript_id, ordinal, kind, text from reasoning where run = $run order by transcript_id, ordinal",
              "-p", "run=rl-b", "--format", "parquet", "--output", out, "--db", fixture_db)
    assert res.code == 0, res
    frame = pl.read_parquet(out)
    assert frame.select("transcript_id", "kind").rows() == [
        ("b-0-1", "reasoning"), ("b-100-1", "reasoning"), ("b-100-2", "reasoning")]


def test_sql_timeout_exit_code(cli, fixture_db):
    res = cli("sql", "select count(*) from range(1000000000) a, range(1000000) b where a.range + b.range = 7",
              "--timeout", "0.3", "--db", fixture_db)
    assert res.code == 8, res
    assert "interrupted after its time limit of 0.3s" in res.err


def test_cli_write_attempts_leave_the_file_identical(cli, fixture_db):
    before = file_digest(fixture_db)
    for sql in ("delete from internal.rejects", "update internal.transcripts set score = 0", "copy transcripts to 'x.csv'",
                "install fts", "pragma enable_profiling", "create table t as select 1"):
        res = cli("sql", sql, "--db", fixture_db)
        assert res.code == 3 and "refused" in res.err, res
    assert file_digest(fixture_db) == before


def test_sql_reads_from_stdin(cli, fixture_db, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("select count(*) as n from rejects\n"))
    res = cli("sql", "-", "--format", "csv", "--db", fixture_db)
    assert res.code == 0, res
    assert res.out.splitlines() == ["n", "1"]


def test_every_command_has_help(cli):
    for args in (["sql"], ["query"], ["query", "list"], ["query", "show"], ["query", "run"]):
        res = cli(*args, "--help")
        assert res.code == 0, (args, res)
        assert "Usage:" in res.out
