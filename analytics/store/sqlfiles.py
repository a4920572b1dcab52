"""The one loader of named SQL files.

Each package keeps its statements beside its code, one per file, in ``sql/<name>.sql`` folders
anywhere below the package (``analytics/ingest/sql/ingest_append.sql``, ...). Names are unique
within a package tree, so a caller asks for a statement by name alone::

    load_sql("ingest_append")                                  # below cotwatch.analytics
    load_sql("awareness_transcripts", package="cotwatch.classifiers")
"""

from __future__ import annotations

import functools
from importlib import resources
from importlib.resources.abc import Traversable

ROOT_PACKAGE = "cotwatch.analytics"


def load_sql(name: str, package: str = ROOT_PACKAGE) -> str:
    """The text of the statement ``name`` found in a ``sql/`` folder below ``package``."""
    try:
        entry = _index(package)[name]
    except KeyError:
        raise LookupError(f"no SQL file named {name!r} below {package}") from None
    return _read(entry)


@functools.lru_cache(maxsize=None)
def _read(entry: Traversable) -> str:
    return entry.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=None)
def _index(package: str) -> dict[str, Traversable]:
    found: dict[str, Traversable] = {}

    def walk(folder: Traversable, in_sql: bool) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                if entry.name not in ("__pycache__", "migrations"):
                    walk(entry, entry.name == "sql")
            elif in_sql and entry.name.endswith(".sql"):
                name = entry.name.removesuffix(".sql")
                if name in found:
                    raise RuntimeError(f"two SQL files are named {name!r} below {package}")
                found[name] = entry

    walk(resources.files(package), False)
    return found
