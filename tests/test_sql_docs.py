"""docs/sql.md stays true: its view tables match the COMMENTs in the store, every named query is
listed, and its SQL examples run on the fixture store through the read-only path."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from cotwatch.analytics.sqlapi import list_queries, open_sql, run_sql

from tests._sql_helpers import build_fixture_store

DOC = Path(__file__).resolve().parents[1] / "docs" / "sql.md"


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory):
    return build_fixture_store(tmp_path_factory.mktemp("sqldocs") / "store.duckdb")


def _doc_tables() -> dict[str, list[tuple[str, str, str]]]:
    tables: dict[str, list[tuple[str, str, str]]] = {}
    view = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^### `(\w+)`$", line)
        if heading:
            view = heading.group(1)
            tables[view] = []
            continue
        if line.startswith("#"):
            view = None
        row = re.match(r"^\| `(\w+)` \| (\w+) \| (.*) \|$", line)
        if row and view:
            tables[view].append(row.groups())
    return tables


def test_view_tables_match_the_store_comments(fixture_db):
    con = duckdb.connect(str(fixture_db), read_only=True)
    try:
        views = [r[0] for r in con.execute(
            "select view_name from duckdb_views() where schema_name = 'main' and not internal order by 1").fetchall()]
        documented = _doc_tables()
        assert sorted(documented) == views
        for view in views:
            columns = con.execute(
                "select column_name, data_type, comment from duckdb_columns() "
                "where schema_name = 'main' and table_name = $v order by column_index", {"v": view}).fetchall()
            assert documented[view] == [tuple(c) for c in columns], view
    finally:
        con.close()


def test_every_named_query_is_in_the_table():
    text = DOC.read_text(encoding="utf-8")
    listed = re.findall(r"^\| `(\w+)` \| .* \| .* \|$", text, flags=re.M)
    assert {q.name for q in list_queries()} <= set(listed)


def test_sql_examples_run_read_only(fixture_db):
    blocks = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    ran = 0
    with open_sql(fixture_db) as store:
        for block in blocks:
            if "attach" in block or block.lstrip().startswith("set "):
                continue  # connection-level examples (another database, the shell's search path)
            for statement in store.con.extract_statements(block):
                run_sql(store, statement.query)
                ran += 1
    assert ran >= 2
