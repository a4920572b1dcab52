"""Named SQL used by the classifiers (``classifiers/sql/<name>.sql``): one statement per file."""

from __future__ import annotations

import functools
from importlib import resources


@functools.lru_cache(maxsize=None)
def load_sql(name: str) -> str:
    return (resources.files("classifiers") / "sql" / f"{name}.sql").read_text(encoding="utf-8")
