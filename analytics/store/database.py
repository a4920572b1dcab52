"""The store: one DuckDB file, one object that owns its connection.

>>> from cotwatch.analytics.store import Store
>>> with Store.open("runs.duckdb", read_only=False) as store:   # creates and migrates
...     store.frame("select count(*) as n from transcripts")

Reads open the file read-only (many readers may share it). DuckDB allows one writing process
*or* many readers, so every open retries with exponential back-off while another process holds
the lock, up to ``wait`` seconds, then raises :class:`StoreLocked` with a clear message.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
from cotwatch.analytics.errors import (
    InputError,
    StoreLocked,
    StoreMissing,
    StoreNeedsUpgrade,
)
from cotwatch.analytics.store.sqlfiles import load_sql

DEFAULT_DB = "cotwatch.duckdb"
ENV_DB = "COTWATCH_DB"


def resolve_db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """``path`` if given, else ``$COTWATCH_DB``, else ``./cotwatch.duckdb``."""
    if path:
        return Path(path)
    env = os.environ.get(ENV_DB)
    return Path(env) if env else Path(DEFAULT_DB)


def migrations() -> list[tuple[str, str]]:
    """(name, sql) of every shipped migration, in the order they apply."""
    folder = resources.files(__package__) / "migrations"
    found = sorted(
        (entry.name.removesuffix(".sql"), entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    return found


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text)


def connect_with_retry(path: Path, *, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    """Open ``path`` with DuckDB, retrying while another process holds the write lock."""
    deadline = time.monotonic() + max(wait, 0.0)
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                if read_only and not path.exists():
                    raise StoreMissing(f"{path}: no such store (ingest something first)") from exc
                raise StoreMissing(f"{path}: cannot open store: {str(exc).splitlines()[0]}") from exc
            if time.monotonic() >= deadline:
                mode = "read" if read_only else "write"
                raise StoreLocked(
                    f"{path}: another process is writing to the store; gave up waiting to {mode} "
                    f"after {wait:g}s (try again later or raise --wait)"
                ) from exc
            time.sleep(min(delay, max(deadline - time.monotonic(), 0.0)))
            delay = min(delay * 2, 2.0)


class Store:
    """A cotwatch store: owns one DuckDB connection (read-only unless writing is the point)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool):
        self.con = con
        self.path = path
        self.read_only = read_only
        self.applied_on_open: list[str] = []

    # -- opening -----------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        read_only: bool = True,
        wait: float = 0.0,
    ) -> "Store":
        """Open (and for writers create and migrate) the store at ``path``."""
        db = resolve_db_path(path)
        if read_only and not db.exists():
            raise StoreMissing(f"{db}: no such store (run `cotwatch ingest` or `cotwatch demo` first)")
        if not read_only and db.parent and not db.parent.exists():
            db.parent.mkdir(parents=True, exist_ok=True)
        con = connect_with_retry(db, read_only=read_only, wait=wait)
        con.execute("set enable_progress_bar = false")  # DuckDB's own bar would garble our output
        store = cls(con, db, read_only)
        try:
            if read_only:
                store._check_schema()
            else:
                store.applied_on_open = store.migrate()
        except BaseException:
            con.close()
            raise
        return store

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ------------------------------------------------------------------------------
    def applied_migrations(self) -> list[str]:
        exists = self.con.execute(
            "select count(*) from information_schema.tables where table_name = 'schema_migrations'"
        ).fetchall()[0][0]
        if not exists:
            return []
        return [r[0] for r in self.con.execute("select name from schema_migrations order by name").fetchall()]

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction. Returns their names."""
        self.con.execute(
            "create table if not exists schema_migrations (name varchar primary key, applied_at timestamp)"
        )
        done = set(self.applied_migrations())
        applied = []
        for name, sql in migrations():
            if name in done:
                continue
            with self.atomic():
                self.con.execute(sql)
                self.con.execute(
                    "insert into schema_migrations values ($name, current_timestamp)", {"name": name}
                )
            applied.append(name)
        return applied

    def _check_schema(self) -> None:
        done = set(self.applied_migrations())
        if not done:
            raise StoreMissing(f"{self.path}: not a cotwatch store (no schema_migrations table)")
        pending = [name for name, _ in migrations() if name not in done]
        if pending:
            raise StoreNeedsUpgrade(
                f"{self.path}: store needs upgrading ({', '.join(pending)} pending); "
                "run any writing command, e.g. `cotwatch ingest`, or `cotwatch migrate`"
            )

    # -- executing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def atomic(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction: committed on success, rolled back on any exception (Ctrl-C included)."""
        self.con.execute("begin transaction")
        try:
            yield self.con
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.con.execute("rollback")
            raise
        else:
            self.con.execute("commit")

    def rows(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list[tuple]:
        """Run ``sql`` with bound parameters and fetch every row."""
        return self.con.execute(sql, params or {}).fetchall()

    def script(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        """Run a multi-statement script, binding to each statement the parameters it names;
        returns every row of the last statement."""
        params = dict(params or {})
        rows: list[tuple] = []
        for statement in self.con.extract_statements(sql):
            wanted = {k: params[k] for k in statement.named_parameters}
            rows = self.con.execute(statement, wanted).fetchall()
        return rows

    def frame(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None):
        """Run ``sql`` with bound parameters; the result as a polars DataFrame (via Arrow)."""
        import polars as pl

        return pl.from_arrow(self.con.sql(sql, params=params or None).to_arrow_table())

    def sql(self, name: str) -> str:
        """The text of a named internal query (a ``sql/<name>.sql`` file below ``analytics/``)."""
        return load_sql(name)

    def run_names(self) -> list[str]:
        return [r[0] for r in self.rows("select run from runs order by run")]

    def require_run(self, run: str | None) -> str:
        """``run`` if it exists; the only run when ``run`` is None and there is exactly one."""
        names = self.run_names()
        if run is None:
            if len(names) == 1:
                return names[0]
            if not names:
                raise InputError(f"{self.path}: the store holds no runs")
            raise InputError(f"several runs in the store ({', '.join(names)}): choose one with --run")
        if run not in names:
            raise InputError(f"no run named {run!r} in {self.path} (runs: {', '.join(names) or 'none'})")
        return run


def open_store(path: str | os.PathLike[str] | None = None, *, read_only: bool = True, wait: float = 0.0) -> Store:
    """Open a cotwatch store (read-only by default). Same as ``Store.open``."""
    return Store.open(path, read_only=read_only, wait=wait)


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, **tables: Any) -> Iterator[duckdb.DuckDBPyConnection]:
    """Arrow tables (or anything DuckDB scans) visible to ``con`` under the given names for the
    block, unregistered afterwards whatever happens."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        yield con
    finally:
        for name in tables:
            con.unregister(name)
