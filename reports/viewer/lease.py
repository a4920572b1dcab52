"""Read-only access to the store for a long-running server, without locking writers out.

DuckDB lets one process write a file *or* any number read it: a viewer that kept its connection
open for hours would make every ``cotwatch ingest`` wait and then fail. So the viewer holds the
store only while it answers: :class:`StoreLease` opens it read-only on the first request (waiting
with back-off while a writer holds it, like every other reader), lends each request its own cursor,
and closes it ``linger`` seconds after the last request finished, which lets a waiting writer in.

Every statement a request runs has a time limit (:class:`Reader`): a timer interrupts the cursor and
the request ends with :class:`~cotwatch.analytics.errors.QueryTimeout` instead of holding the store.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
from cotwatch.analytics.errors import QueryTimeout
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql

PACKAGE = __package__  # this package (a module name spelled in a string would count as an import of it)


class Reader:
    """One request's read-only cursor: named viewer queries (``sql/viewer_*.sql``) with bound
    parameters, each interrupted after ``time_limit`` seconds.

    ``rows(sql, params)`` takes SQL text, like :meth:`Store.rows`, so library functions written
    for a store (``resolve_terms``) run on a reader too.
    """

    def __init__(self, cursor: duckdb.DuckDBPyConnection, path: Path, time_limit: float):
        self.con = cursor
        self.path = path
        self.time_limit = time_limit
        self.deadline: float | None = None

    def rows(self, sql: str, params: Mapping[str, Any] | Sequence[Any] | None = None) -> list[tuple]:
        limit = self.time_limit
        if self.deadline is not None:
            limit = min(limit, max(self.deadline - time.monotonic(), 0.001))
        timer = threading.Timer(limit, self.con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            return self.con.execute(sql, params or {}).fetchall()
        except duckdb.InterruptException as exc:
            raise QueryTimeout(f"a query ran past its time limit of {limit:.3g}s") from exc
        finally:
            timer.cancel()

    def named(self, name: str, params: Mapping[str, Any] | None = None) -> list[tuple]:
        return self.rows(load_sql(name, PACKAGE), params)

    def dicts(self, name: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        cur = self.con
        rows = self.named(name, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in rows]

    @contextlib.contextmanager
    def budget(self, seconds: float) -> Iterator[None]:
        """Every query inside the block ends by ``seconds`` from now (a whole page's budget)."""
        old = self.deadline
        self.deadline = time.monotonic() + seconds
        try:
            yield
        finally:
            self.deadline = old

    def remaining(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()


class StoreLease:
    """Opens the store on demand, shares it between concurrent requests, closes it when idle."""

    def __init__(self, path: str | os.PathLike[str] | None, *, wait: float = 30.0, linger: float = 2.0,
                 time_limit: float = 10.0):
        from cotwatch.analytics.store.database import resolve_db_path

        self.path = resolve_db_path(path).absolute()
        self.wait = wait
        self.linger = linger
        self.time_limit = time_limit
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._users = 0
        self._generation = 0
        self.opens = 0  # how many times the file was opened (tests and the benchmark read it)

    def check(self) -> None:
        """Open and close once: raises StoreMissing/StoreNeedsUpgrade/StoreLocked up front."""
        Store.open(self.path, read_only=True, wait=self.wait).close()

    @contextlib.contextmanager
    def reader(self) -> Iterator[Reader]:
        with self._lock:
            self._generation += 1
            if self._store is None:
                # Waits (with back-off, up to `wait` seconds) while a writer holds the file; other
                # requests queue on the lock meanwhile, as they would have to wait anyway.
                self._store = Store.open(self.path, read_only=True, wait=self.wait)
                self.opens += 1
            self._users += 1
            cursor = self._store.con.cursor()
        try:
            yield Reader(cursor, self.path, self.time_limit)
        finally:
            with contextlib.suppress(duckdb.Error):
                cursor.close()
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    generation = self._generation
                    if self.linger <= 0:
                        self._close_locked()
                    else:
                        timer = threading.Timer(self.linger, self._close_if_idle, args=(generation,))
                        timer.daemon = True
                        timer.start()

    def _close_if_idle(self, generation: int) -> None:
        with self._lock:
            if self._users == 0 and generation == self._generation:
                self._close_locked()

    def _close_locked(self) -> None:
        if self._store is not None:
            with contextlib.suppress(duckdb.Error):
                self._store.close()
            self._store = None

    @property
    def is_open(self) -> bool:
        return self._store is not None

    def close(self) -> None:
        with self._lock:
            self._close_locked()
