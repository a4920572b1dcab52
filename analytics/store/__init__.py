"""The DuckDB store: one object owns the connection (``database``), named migrations
(``migrations/NNNN_name.sql``), the one loader of named SQL files (``sqlfiles``) and atomic
file writes (``atomic``).

>>> from cotwatch.analytics.store import Store
>>> with Store.open("runs.duckdb", read_only=False) as store:      # doctest: +SKIP
...     store.frame("select count(*) from transcripts")
"""

from cotwatch.analytics.store.database import (
    INTERNAL_SCHEMA,
    INTERNAL_SEARCH_PATH,
    PUBLIC_SEARCH_PATH,
    Store,
    StoreConnection,
    connect_with_retry,
    migrations,
    open_store,
    registered,
    resolve_db_path,
)
from cotwatch.analytics.store.sqlfiles import load_sql

__all__ = ["INTERNAL_SCHEMA", "INTERNAL_SEARCH_PATH", "PUBLIC_SEARCH_PATH", "Store", "StoreConnection", "connect_with_retry", "load_sql", "migrations", "open_store", "registered", "resolve_db_path"]
