"""The store: path resolution, migrations, read-only by default, waiting for a writer."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from cotwatch.analytics.errors import StoreLocked, StoreMissing
from cotwatch.analytics.store.database import Store, migrations, resolve_db_path


def test_path_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("COTWATCH_DB", raising=False)
    assert str(resolve_db_path(None)) == "cotwatch.duckdb"
    monkeypatch.setenv("COTWATCH_DB", str(tmp_path / "env.duckdb"))
    assert resolve_db_path(None) == tmp_path / "env.duckdb"
    assert str(resolve_db_path("explicit.duckdb")) == "explicit.duckdb"


def test_migrations_are_named_recorded_and_applied_once(store_path):
    names = [name for name, _ in migrations()]
    assert names == sorted(names) and names[0] == "0001_core"
    with Store.open(store_path, read_only=False) as store:
        assert store.applied_on_open == names
        assert store.applied_migrations() == names
    with Store.open(store_path, read_only=False) as store:
        assert store.applied_on_open == []


def test_read_only_is_the_default_and_cannot_write(store_path):
    Store.open(store_path, read_only=False).close()
    with Store.open(store_path) as store:
        assert store.read_only
        with pytest.raises(duckdb.Error):
            store.con.execute("insert into runs (run) values ('x')")


def test_missing_store(tmp_path):
    with pytest.raises(StoreMissing, match="no such store"):
        Store.open(tmp_path / "absent.duckdb")


def test_not_a_cotwatch_store(tmp_path):
    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    with pytest.raises(StoreMissing, match="not a cotwatch store"):
        Store.open(path)


HOLD_WRITER = textwrap.dedent(
    """
    import sys, time
    from cotwatch.analytics.store.database import Store
    store = Store.open(sys.argv[1], read_only=False)
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    store.close()
    """
)


def _hold(store_path, seconds):
    proc = subprocess.Popen([sys.executable, "-c", HOLD_WRITER, str(store_path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.slow
def test_waits_for_a_writer_then_gives_up_cleanly(store_path):
    Store.open(store_path, read_only=False).close()
    proc = _hold(store_path, 30)
    try:
        with pytest.raises(StoreLocked, match="another process is writing"):
            Store.open(store_path, wait=0.3)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_waits_for_a_writer_and_gets_in(store_path):
    Store.open(store_path, read_only=False).close()
    proc = _hold(store_path, 1.5)
    try:
        with Store.open(store_path, read_only=False, wait=30) as store:
            assert store.rows("select 1") == [(1,)]
    finally:
        proc.wait()


# ---------------------------------------------------------------------------------------------
# Schemas: documented views in main, internal tables in `internal` (migration 0008_public_schema)
# ---------------------------------------------------------------------------------------------
import gzip  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

from cotwatch.analytics.errors import StoreNeedsUpgrade  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
DOCUMENTED_VIEWS = ["classifier_versions", "reasoning", "rejects", "sentence_scores", "step_totals", "term_counts",
                    "transcript_flags", "transcript_terms", "transcript_tokens", "transcripts"]
INTERNAL_TABLES = ["checkpoints", "classifier_embeddings", "classifier_registry", "classifier_sentences",
                   "classifier_transcripts", "doc_term_lists", "doc_tokens", "ingested_files", "jobs", "rejects", "runs",
                   "schema_migrations", "segments", "step_term_counts", "step_token_counts", "term_vocab", "transcripts"]


def _catalog(con) -> dict[str, list]:
    return {
        "tables": con.execute("select schema_name, table_name from duckdb_tables() order by all").fetchall(),
        "views": con.execute("select schema_name, view_name from duckdb_views() where not internal order by all").fetchall(),
    }


def _table_shapes(con, schema: str) -> dict[str, tuple]:
    """Per table in ``schema``: its DDL with the schema prefix removed, its constraints, indexes."""
    shapes = {}
    for table, ddl in con.execute("select table_name, sql from duckdb_tables() where schema_name = $s", {"s": schema}).fetchall():
        constraints = con.execute(
            "select constraint_type, constraint_text, constraint_column_names from duckdb_constraints() "
            "where schema_name = $s and table_name = $t order by all", {"s": schema, "t": table}).fetchall()
        indexes = con.execute("select count(*) from duckdb_indexes() where schema_name = $s and table_name = $t",
                              {"s": schema, "t": table}).fetchall()[0][0]
        shapes[table] = (ddl.replace(f"CREATE TABLE {schema}.", "CREATE TABLE "), constraints, indexes)
    return shapes


def test_a_new_store_has_views_in_main_and_tables_in_internal(store_path):
    with Store.open(store_path, read_only=False) as store:
        catalog = _catalog(store.con)
    # every table in `internal` (later migrations add theirs there too), none in main
    assert {s for s, _ in catalog["tables"]} == {"internal"}
    assert set(INTERNAL_TABLES) <= {t for _, t in catalog["tables"]}
    views = catalog["views"]
    assert set(DOCUMENTED_VIEWS) <= {v for s, v in views if s == "main"}  # (docs/sql.md lists them all)
    assert [v for s, v in views if s == "api"] == DOCUMENTED_VIEWS  # compatibility aliases
    assert "doc_terms" in [v for s, v in views if s == "internal"]
    con = duckdb.connect(str(store_path), read_only=True)  # a plain client, default settings
    try:
        assert [d[0] for d in con.execute("select * from transcripts").description][:2] == ["transcript_id", "run"]
    finally:
        con.close()


def test_unqualified_sql_of_the_store_resolves_internal_first(store_path):
    """What later migrations and every area's SQL rely on: bare names are internal tables, new
    tables land in `internal`, temp tables work, and cursors resolve like the store."""
    with Store.open(store_path, read_only=False) as store:
        assert store.rows("select current_setting('search_path')") == [("internal,main",)]
        assert [d[0] for d in store.con.execute("select * from transcripts").description][:2] == ["pk", "id"]
        store.con.execute("create table later_migration_table (x integer)")
        store.con.execute("create temp table scratch as select 41 as x")
        store.con.execute("insert into later_migration_table select x + 1 from scratch")
        assert store.rows("select schema_name from duckdb_tables() where table_name = 'later_migration_table'") == [
            ("internal",)]
        assert store.rows("select x from later_migration_table") == [(42,)]
        store.con.execute("drop table if exists scratch")
        assert store.rows("select count(*) from duckdb_tables() where table_name = 'scratch'") == [(0,)]
        cursor = store.con.cursor()
        try:
            assert cursor.execute("select count(*) from segments").fetchall() == [(0,)]
            assert [d[0] for d in cursor.execute("select * from transcripts").description][0] == "pk"
        finally:
            cursor.close()


def _store_0007(tmp_path) -> Path:
    """The store cotwatch wrote before 0008 (commit 82ecf10; see tests/fixtures/README.md)."""
    path = tmp_path / "old.duckdb"
    with gzip.open(FIXTURES / "store_0007.duckdb.gz", "rb") as src, open(path, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


def _contents(con, relations: list[str]) -> dict[str, list]:
    return {name: sorted(map(repr, con.execute(f"select * from {name}").fetchall())) for name in relations}  # test-only names


def test_migrating_a_store_written_by_the_previous_version(tmp_path, cli):
    path = _store_0007(tmp_path)
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert [r[0] for r in con.execute("select name from main.schema_migrations order by 1").fetchall()][-1] == \
            "0007_sparse_counts"
        old_views = _contents(con, [f"api.{v}" for v in DOCUMENTED_VIEWS] + ["main.doc_terms"])
        old_tables = _contents(con, [f"main.{t}" for t in INTERNAL_TABLES if t != "schema_migrations"])
        old_shapes = _table_shapes(con, "main")
    finally:
        con.close()
    assert sum(len(rows) for rows in old_views.values()) > 100  # the fixture holds real rows in every view

    with pytest.raises(StoreNeedsUpgrade, match="0008_public_schema"):  # read-only before the upgrade
        Store.open(path)
    # 0008 alone first (later migrations change rows on purpose, e.g. 0009 re-hashes content)
    from cotwatch.analytics.store import database

    every = database.migrations()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(database, "migrations", lambda: [m for m in every if m[0] <= "0008_public_schema"])
        with Store.open(path, read_only=False) as store:
            assert store.applied_on_open == ["0008_public_schema"]

    con = duckdb.connect(str(path), read_only=True)  # plain DuckDB, default settings, bare names
    try:
        for view in DOCUMENTED_VIEWS:
            assert _contents(con, [view])[view] == old_views[f"api.{view}"], view
            assert _contents(con, [f"api.{view}"])[f"api.{view}"] == old_views[f"api.{view}"], view
        assert _contents(con, ["internal.doc_terms"])["internal.doc_terms"] == old_views["main.doc_terms"]
        for table in INTERNAL_TABLES:
            if table != "schema_migrations":
                assert _contents(con, [f"internal.{table}"])[f"internal.{table}"] == old_tables[f"main.{table}"], table
        new_shapes = _table_shapes(con, "internal")
        assert new_shapes == old_shapes  # same DDL, NOT NULL/PRIMARY KEY/UNIQUE constraints, indexes
        assert _catalog(con)["tables"] == [("internal", t) for t in INTERNAL_TABLES]
        assert [r[0] for r in con.execute("select name from internal.schema_migrations order by 1").fetchall()][-1] == \
            "0008_public_schema"
    finally:
        con.close()
    # then the user's one `cotwatch migrate` brings it to the current schema
    res = cli("migrate", "--db", path)
    assert res.code == 0 and "applied" in res.err, res
    con = duckdb.connect(str(path), read_only=True)  # plain DuckDB again: every view by its bare name
    try:
        assert [d[0] for d in con.execute("select * from transcripts").description] == [
            "transcript_id", "run", "step", "environment", "epoch", "covert_action", "score", "source", "metadata"]
        for view in DOCUMENTED_VIEWS:
            assert len(con.execute(f"select * from {view}").fetchall()) == len(old_views[f"api.{view}"]), view
    finally:
        con.close()
    with Store.open(path) as store:  # cotwatch itself reads it; unqualified internal SQL works
        assert store.rows("select count(*) from transcripts where pk is not null") == [(12,)]
    res = cli("migrate", "--db", path)
    assert res.code == 0 and "schema up to date" in res.err


def test_a_failed_move_leaves_the_old_store_as_it_was(tmp_path, monkeypatch):
    """0008 runs in one transaction: if anything fails half-way, nothing moved."""
    from cotwatch.analytics.store import database

    path = _store_0007(tmp_path)
    before = database.migrations()
    broken = [(name, sql + "\nselect error('disk full (simulated)');" if name.startswith("0008") else sql)
              for name, sql in before]
    monkeypatch.setattr(database, "migrations", lambda: broken)
    with pytest.raises(duckdb.Error, match="simulated"):
        Store.open(path, read_only=False)
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("select count(*) from duckdb_schemas() where schema_name = 'internal'").fetchall() == [(0,)]
        assert con.execute("select count(*) from main.transcripts where pk is not null").fetchall() == [(12,)]
        assert con.execute("select count(*) from api.reasoning").fetchall() == [(13,)]
        assert con.execute("select max(name) from main.schema_migrations").fetchall() == [("0007_sparse_counts",)]
    finally:
        con.close()
    monkeypatch.setattr(database, "migrations", lambda: before)
    with Store.open(path, read_only=False) as store:
        assert store.applied_on_open[0] == "0008_public_schema"


# ---------------------------------------------------------------------------------------------
# creating a new store: whole or not at all, from the cached template or built in place
# ---------------------------------------------------------------------------------------------
_SCHEMA_SQL = """
select 'table', schema_name, table_name, sql from duckdb_tables() where database_name = current_database()
union all select 'view', schema_name, view_name, sql from duckdb_views()
  where database_name = current_database() and not internal
union all select 'constraint', schema_name, table_name || ':' || constraint_text, null from duckdb_constraints()
  where database_name = current_database()
union all select 'index', schema_name, index_name, sql from duckdb_indexes() where database_name = current_database()
union all select 'sequence', schema_name, sequence_name, null from duckdb_sequences() where database_name = current_database()
order by all
"""


def _schema(path):
    with Store.open(path) as store:
        return store.rows(_SCHEMA_SQL), store.rows(
            "select name, applied_at from internal.schema_migrations order by name")


def test_a_store_from_the_template_equals_one_built_in_place(tmp_path, monkeypatch):
    from cotwatch.analytics.store import database

    monkeypatch.setenv("COTWATCH_CACHE", str(tmp_path / "cache"))
    assert database.empty_store_template() is not None  # built and cached
    start = duckdb.sql("select current_timestamp::timestamp").fetchall()[0][0]
    with Store.open(tmp_path / "copied.duckdb", read_only=False) as store:
        assert store.applied_on_open == [name for name, _ in migrations()]
    monkeypatch.setattr(database, "empty_store_template", lambda: None)
    Store.open(tmp_path / "built.duckdb", read_only=False).close()
    copied, copied_ledger = _schema(tmp_path / "copied.duckdb")
    built, built_ledger = _schema(tmp_path / "built.duckdb")
    assert copied == built and len(copied) > 30
    assert [n for n, _ in copied_ledger] == [n for n, _ in built_ledger] == [n for n, _ in migrations()]
    assert all(at >= start.replace(microsecond=0) for _, at in copied_ledger)  # when the store was made
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built.duckdb", "cache", "copied.duckdb"]


def test_an_unwritable_cache_builds_the_store_in_place(tmp_path, monkeypatch):
    (tmp_path / "not-a-folder").write_text("x")
    monkeypatch.setenv("COTWATCH_CACHE", str(tmp_path / "not-a-folder" / "cache"))
    with Store.open(tmp_path / "s.duckdb", read_only=False) as store:
        assert store.applied_migrations() == [name for name, _ in migrations()]


def test_a_creation_that_fails_leaves_no_store_and_no_litter(tmp_path, monkeypatch):
    """A migration failing half-way (as an interrupt would) leaves nothing at the path: readers
    say "no such store" rather than "not a cotwatch store", and the next writer starts clean. A
    temp file left by a creator killed with -9 (its process gone) is cleared by the next one."""
    from cotwatch.analytics.store import database

    monkeypatch.setattr(database, "empty_store_template", lambda: None)
    good = migrations()
    monkeypatch.setattr(database, "migrations", lambda: good[:3] + [("0004_boom", "select * from no_such_table")])
    db = tmp_path / "s.duckdb"
    with pytest.raises(duckdb.Error):
        Store.open(db, read_only=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(StoreMissing, match="no such store"):
        Store.open(db)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    from cotwatch.analytics.store.atomic import host_tag

    stale = tmp_path / f".s.duckdb.{host_tag()}-{dead.stdout.strip()}-0000.creating"
    stale.write_bytes(b"half a store")
    Path(f"{stale}.wal").write_bytes(b"and its log")
    other_host = tmp_path / f".s.duckdb.000000-{dead.stdout.strip()}-0000.creating"
    other_host.write_bytes(b"another host's: not ours to judge")
    monkeypatch.setattr(database, "migrations", lambda: good)
    with Store.open(db, read_only=False) as store:
        assert store.applied_on_open == [name for name, _ in good]
    assert sorted(p.name for p in tmp_path.iterdir()) == [other_host.name, "s.duckdb"]


def test_writers_creating_one_store_at_once_all_land_in_it(tmp_path):
    """Four processes open the same new store at once (each creates it if it is missing): one
    creation wins, none replaces another's store, and every writer's row is there."""
    db = tmp_path / "s.duckdb"
    code = textwrap.dedent(f"""
        import sys
        from cotwatch.analytics.store.database import Store
        with Store.open({str(db)!r}, read_only=False, wait=60) as store:
            store.con.execute("insert into runs (run) values ($r)", {{"r": sys.argv[1]}})
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, f"w{i}"]) for i in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    with Store.open(db) as store:
        assert store.rows("select run from runs order by run") == [("w0",), ("w1",), ("w2",), ("w3",)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.duckdb"]


def test_a_wal_left_without_its_database_is_handled_as_duckdb_always_did(tmp_path):
    """`rm cotwatch.duckdb` leaving `cotwatch.duckdb.wal`: DuckDB's own open decides about the
    orphan log (a copied template would make it replay a log of another database)."""
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("set checkpoint_threshold = '1GB'")
    con.execute("create table t as select range as x from range(1000)")
    import shutil

    shutil.copy(f"{other}.wal", tmp_path / "w.duckdb.wal")
    con.close()
    with Store.open(tmp_path / "w.duckdb", read_only=False) as store:
        assert store.applied_migrations() == [name for name, _ in migrations()]


def test_without_hard_links_or_a_home_or_a_sound_template_a_store_is_still_made(tmp_path, monkeypatch):
    from cotwatch.analytics.store import database

    def no_link(src, dst):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(database.os, "link", no_link)  # e.g. some network file systems
    with Store.open(tmp_path / "a.duckdb", read_only=False) as store:
        assert store.applied_migrations() == [name for name, _ in migrations()]
    monkeypatch.undo()
    monkeypatch.delenv("COTWATCH_CACHE")
    monkeypatch.setattr(database.Path, "home", classmethod(lambda cls: (_ for _ in ()).throw(RuntimeError("no home"))))
    assert database.empty_store_template() is None
    with Store.open(tmp_path / "b.duckdb", read_only=False) as store:
        assert store.applied_migrations() == [name for name, _ in migrations()]
    monkeypatch.undo()
    monkeypatch.setenv("COTWATCH_CACHE", str(tmp_path / "cache"))
    assert database.empty_store_template() is not None
    [template] = (tmp_path / "cache").glob("empty-store-*.duckdb")
    template.write_bytes(template.read_bytes()[:4096])  # damaged: it no longer matches its hash
    with Store.open(tmp_path / "c.duckdb", read_only=False) as store:
        assert store.applied_migrations() == [name for name, _ in migrations()]
    assert len(template.read_bytes()) > 4096  # rebuilt


def test_a_store_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    from cotwatch.analytics.errors import OutputError

    with pytest.raises(OutputError, match="cannot create the store"):
        Store.open(tmp_path / "file" / "s.duckdb", read_only=False)
    with pytest.raises(OutputError, match="cannot create the store"):
        Store.open(tmp_path / "file" / "sub" / "s.duckdb", read_only=False)
    with pytest.raises(OutputError, match="cannot create the store"):
        Store.open(tmp_path / ("a" * 300 + ".duckdb"), read_only=False)
    os.mkfifo(tmp_path / "fifo.duckdb")
    with pytest.raises(OutputError, match="not a regular file"):
        Store.open(tmp_path / "fifo.duckdb", read_only=False)
    with pytest.raises(OutputError, match="not a regular file"):
        Store.open(tmp_path / "fifo.duckdb")
    (tmp_path / "link.duckdb").symlink_to(tmp_path / "target" / "real.duckdb")
    (tmp_path / "target").mkdir()
    with Store.open(tmp_path / "link.duckdb", read_only=False) as store:
        assert store.applied_on_open == [name for name, _ in migrations()]
    assert (tmp_path / "target" / "real.duckdb").is_file() and (tmp_path / "link.duckdb").is_symlink()
