"""The store: path resolution, migrations, read-only by default, waiting for a writer."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

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
