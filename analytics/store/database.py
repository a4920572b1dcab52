"""The store: one DuckDB file, one object that owns its connection.

>>> from cotwatch.analytics.store import Store
>>> with Store.open("runs.duckdb", read_only=False) as store:   # creates and migrates
...     store.frame("select count(*) as n from transcripts")

Reads open the file read-only (many readers may share it). DuckDB allows one writing process
*or* many readers, so every open retries with exponential back-off while another process holds
the lock, up to ``wait`` seconds, then raises :class:`StoreLocked` with a clear message.

Schemas (since migration ``0008_public_schema``): ``main`` holds only the documented views (what a
plain DuckDB client sees, docs/sql.md) and ``internal`` every table. The store's connection and
its cursors use ``search_path = 'internal,main'``, so cotwatch's own SQL names internal tables
unqualified, and tables created by later migrations land in ``internal``.
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
    OutputError,
    StoreLocked,
    StoreMissing,
    StoreNeedsUpgrade,
)
from cotwatch.analytics.store.atomic import atomic_path, clean_stale_files, fsync_directory, host_tag
from cotwatch.analytics.store.sqlfiles import load_sql

DEFAULT_DB = "cotwatch.duckdb"
ENV_DB = "COTWATCH_DB"

#: The schema of the internal tables (migration 0008_public_schema).
INTERNAL_SCHEMA = "internal"
#: The search path of the store's own connection and cursors: internal tables, then the views.
INTERNAL_SEARCH_PATH = "internal,main"
#: What a plain DuckDB client resolves bare names in: the documented views.
PUBLIC_SEARCH_PATH = "main"
_SEARCH_PATHS = {  # constants only: a search path is never built from input
    INTERNAL_SEARCH_PATH: "set search_path = 'internal,main'",
    PUBLIC_SEARCH_PATH: "set search_path = 'main'",
}
# The migration ledger lives in `main` before 0008 and in `internal` after it.
_LEDGER_READ = {
    "internal": "select name from internal.schema_migrations order by name",
    "main": "select name from main.schema_migrations order by name",
}
_LEDGER_RESTAMP = {
    "internal": "update internal.schema_migrations set applied_at = current_timestamp",
    "main": "update main.schema_migrations set applied_at = current_timestamp",
}
_LEDGER_WRITE = {
    "internal": "insert into internal.schema_migrations values ($name, current_timestamp)",
    "main": "insert into main.schema_migrations values ($name, current_timestamp)",
}


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


def _build_empty_store(path: Path, config: Mapping[str, Any] | None = None) -> list[str]:
    """Apply every migration to a new DuckDB file at ``path`` (closed, checkpointed)."""
    con = duckdb.connect(str(path), config=dict(config or {}))
    try:
        con.execute("set enable_progress_bar = false")
        return Store(con, path, False).migrate()
    finally:
        con.close()


def empty_store_template() -> bytes | None:
    """The bytes of an empty store with every migration applied, cached in ``$COTWATCH_CACHE``
    (default ``~/.cache/cotwatch``) under a key of the migrations' text and DuckDB's version with
    a SHA-256 beside it, built the first time it is asked for (and again when the file no longer
    matches its hash): a new store is a copy of it (~1 ms instead of ~0.1 s of DDL). None when
    there is no cache to use (no home, not writable): new stores are then built in place."""
    import hashlib
    import secrets

    key = hashlib.sha256(duckdb.__version__.encode())
    for name, sql in migrations():
        key.update(name.encode() + b"\0" + sql.encode() + b"\0")
    try:
        folder = Path(os.environ.get("COTWATCH_CACHE") or Path.home() / ".cache" / "cotwatch")
    except RuntimeError:  # no HOME and no passwd entry (some containers)
        return None
    template = folder / f"empty-store-{key.hexdigest()[:20]}.duckdb"
    digest = Path(f"{template}.sha256")
    with contextlib.suppress(OSError):
        data = template.read_bytes()
        if hashlib.sha256(data).hexdigest() == digest.read_text().strip():
            return data
    tmp = folder / f".{template.name}.{host_tag()}-{os.getpid()}-{secrets.token_hex(4)}.building"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        clean_stale_files(folder, f".{template.name}.", ".building")
        _build_empty_store(tmp)
        data = tmp.read_bytes()
        with atomic_path(digest) as out:
            out.write_text(hashlib.sha256(data).hexdigest() + "\n")
        os.replace(tmp, template)  # whole or not at all; a concurrent builder's copy is the same
    except (OSError, duckdb.Error, OutputError):
        return None
    finally:
        for leftover in (tmp, Path(f"{tmp}.wal")):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
    return data


def _is_lock_error(exc: Exception) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text)


def connect_with_retry(
    path: Path, *, read_only: bool, wait: float, config: Mapping[str, Any] | None = None
) -> duckdb.DuckDBPyConnection:
    """Open ``path`` with DuckDB, retrying while another process holds the write lock.

    ``config`` is DuckDB's start-up configuration. DuckDB shares one database instance per file
    within a process, so a second open with a different ``config`` while the first is still open
    fails (:class:`StoreLocked`, saying so).
    """
    deadline = time.monotonic() + max(wait, 0.0)
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=dict(config or {}))
        except duckdb.Error as exc:
            if "different configuration" in str(exc):
                raise StoreLocked(
                    f"{path}: the store is already open in this process with other DuckDB settings "
                    "(close that Store first)"
                ) from exc
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


class StoreConnection:
    """The store's DuckDB connection: behaves exactly as the ``DuckDBPyConnection`` it wraps,
    except that :meth:`cursor` gives the cursor the store's search path too (DuckDB starts a
    cursor with default settings, where ``transcripts`` would be the public view and ``segments``
    would not resolve at all)."""

    __slots__ = ("_con", "search_path")

    def __init__(self, con: duckdb.DuckDBPyConnection, search_path: str = PUBLIC_SEARCH_PATH):
        self._con = con
        self.search_path = search_path

    def use_search_path(self, search_path: str) -> None:
        """Resolve bare names in ``search_path`` (one of the module's constants) from now on."""
        self._con.execute(_SEARCH_PATHS[search_path])
        self.search_path = search_path

    def cursor(self, search_path: str | None = None) -> duckdb.DuckDBPyConnection:
        """A second connection to the same database (its own result stream and transaction),
        resolving names like this one (or in ``search_path``, one of the module's constants)."""
        cursor = self._con.cursor()
        try:
            cursor.execute(_SEARCH_PATHS[search_path or self.search_path])
        except BaseException:
            cursor.close()
            raise
        return cursor

    @property
    def raw(self) -> duckdb.DuckDBPyConnection:
        """The wrapped ``DuckDBPyConnection`` (for APIs that check the type)."""
        return self._con

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def __enter__(self) -> "StoreConnection":
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()

    def __repr__(self) -> str:
        return f"StoreConnection({self._con!r}, search_path={self.search_path!r})"


class Store:
    """A cotwatch store: owns one DuckDB connection (read-only unless writing is the point)."""

    def __init__(self, con: duckdb.DuckDBPyConnection | StoreConnection, path: Path, read_only: bool):
        self.con = con if isinstance(con, StoreConnection) else StoreConnection(con)
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
        config: Mapping[str, Any] | None = None,
        search_path: str | None = None,
    ) -> "Store":
        """Open (and for writers create and migrate) the store at ``path``.

        Bare names resolve to the internal tables first (``search_path = 'internal,main'``) unless
        ``search_path`` is :data:`PUBLIC_SEARCH_PATH` (the documented views only, as a plain DuckDB
        client sees them). ``config`` is DuckDB's start-up configuration.
        """
        db = resolve_db_path(path)
        if search_path is not None and search_path not in _SEARCH_PATHS:
            raise ValueError(f"search_path must be one of {sorted(_SEARCH_PATHS)}")
        try:
            exists = db.exists()
            if exists and not db.is_file():  # a FIFO would block DuckDB's open forever
                raise OutputError(f"{db}: not a regular file (a store is a DuckDB database file)")
            if not read_only and not exists and not db.parent.exists():
                db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a folder that cannot be made, a name too long...
            raise OutputError(f"{db}: cannot {'open' if read_only else 'create'} the store "
                              f"({exc.strerror or exc})") from None
        if read_only and not exists:
            raise StoreMissing(f"{db}: no such store (run `cotwatch ingest` or `cotwatch demo` first)")
        # a path that is a symlink to nothing yet: make the store whole where it points
        target = Path(os.path.realpath(db)) if not exists and db.is_symlink() else db
        created = None if read_only or exists else cls._create(target, config)
        con = connect_with_retry(db, read_only=read_only, wait=wait, config=config)
        store = cls(con, db, read_only)
        try:
            con.execute("set enable_progress_bar = false")  # DuckDB's own bar would garble our output
            if read_only:
                store._check_schema()
            else:
                if created:  # the ledger says when this store was made, not its template
                    store.con.execute(_LEDGER_RESTAMP[store._ledger_schema()])
                store.applied_on_open = (created or []) + store.migrate()
            store.con.use_search_path(search_path or store._layout_search_path())
        except duckdb.IOException as exc:  # a full disk while migrating
            con.close()
            raise OutputError(f"{db}: cannot write the store ({str(exc).splitlines()[0][:200]})") from None
        except BaseException:
            con.close()
            raise
        return store

    @classmethod
    def _create(cls, db: Path, config: Mapping[str, Any] | None) -> list[str] | None:
        """Make a new store beside ``db`` and link it into place whole, so no interrupt (Ctrl-C,
        ``kill -9``) can leave a file at ``db`` that is empty or half-migrated. The new store is
        a copy of the cached empty store (:func:`empty_store_template`), else built beside ``db``.
        When another process creates ``db`` meanwhile, its store wins and this one is dropped.
        Returns the migrations applied ([] when another process won), or None when the store
        cannot be made this way — a WAL left without its database (DuckDB's own open decides
        about it), a file system without hard links, a place that cannot be written: DuckDB then
        creates it in place and :meth:`migrate` builds it, as it always did, and any error is
        the one-line error of that open."""
        import errno
        import secrets

        if Path(f"{db}.wal").exists():
            return None
        clean_stale_files(db.parent, f".{db.name}.", ".creating")
        tmp = db.with_name(f".{db.name}.{host_tag()}-{os.getpid()}-{secrets.token_hex(4)}.creating")
        try:
            try:
                template = empty_store_template()
                if template is not None:
                    with open(tmp, "xb") as out:
                        out.write(template)
                        out.flush()
                        os.fsync(out.fileno())
                    applied = [name for name, _ in migrations()]
                else:
                    applied = _build_empty_store(tmp, config)  # DuckDB syncs its checkpoint
                fsync_directory(db.parent)
            except (OSError, duckdb.IOException) as exc:  # full, read-only, not a folder...
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
                raise OutputError(f"{db}: cannot create the store ({reason[:200]})") from None
            try:
                os.link(tmp, db)  # never replaces: a store another process made stays
            except FileExistsError:
                return []
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO):
                    raise OutputError(f"{db}: cannot create the store ({exc.strerror})") from None
                return None  # no hard links here: DuckDB creates it in place, as it always did
            fsync_directory(db.parent)
            return applied
        finally:
            for leftover in (tmp, Path(f"{tmp}.wal")):
                with contextlib.suppress(OSError):
                    leftover.unlink(missing_ok=True)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A second connection to the store (own result stream; same search path). Close it."""
        return self.con.cursor()

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema ------------------------------------------------------------------------------
    def _ledger_schema(self) -> str | None:
        """Where ``schema_migrations`` lives: ``internal`` (0008 applied), ``main`` (an older
        store, or a new one before 0008), or None (not a cotwatch store)."""
        found = {r[0] for r in self.con.execute(
            "select schema_name from duckdb_tables() where database_name = current_database() "
            "and table_name = 'schema_migrations' and schema_name in ('internal', 'main')"
        ).fetchall()}
        return "internal" if "internal" in found else "main" if "main" in found else None

    def _layout_search_path(self) -> str:
        """The internal search path once the store has its ``internal`` schema, else DuckDB's
        default (an older store being migrated)."""
        has_internal = self.con.execute(
            "select count(*) from duckdb_schemas() where database_name = current_database() "
            "and schema_name = $s", {"s": INTERNAL_SCHEMA}
        ).fetchall()[0][0]
        return INTERNAL_SEARCH_PATH if has_internal else PUBLIC_SEARCH_PATH

    def applied_migrations(self) -> list[str]:
        ledger = self._ledger_schema()
        if ledger is None:
            return []
        return [r[0] for r in self.con.execute(_LEDGER_READ[ledger]).fetchall()]

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction. Returns their names.

        A new store replays every migration from 0001 (so it is built exactly as an upgraded
        one): the first seven in ``main``, which ``0008_public_schema`` moves to ``internal``;
        later ones run with the internal search path and create their tables there.
        """
        if self._ledger_schema() is None:
            self.con.execute("create table main.schema_migrations (name varchar primary key, applied_at timestamp)")
        done = set(self.applied_migrations())
        applied = []
        for name, sql in migrations():
            if name in done:
                continue
            self.con.use_search_path(self._layout_search_path())
            try:
                with self.atomic():
                    self.con.execute(sql)
                    self.con.execute(_LEDGER_WRITE[self._ledger_schema()], {"name": name})
            finally:  # settings are not transactional: follow the layout that is now committed
                self.con.use_search_path(self._layout_search_path())
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
        return [r[0] for r in self.rows("select run from internal.runs order by run")]

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
def registered(con: duckdb.DuckDBPyConnection | StoreConnection, **tables: Any) -> Iterator[duckdb.DuckDBPyConnection]:
    """Arrow tables (or anything DuckDB scans) visible to ``con`` under the given names for the
    block, unregistered afterwards whatever happens."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        yield con
    finally:
        for name in tables:
            con.unregister(name)
