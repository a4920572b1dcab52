"""cotwatch: analyse chain-of-thought transcripts across training checkpoints.

Python API (everything the CLI does is a library call)::

    import cotwatch
    store = cotwatch.open_store("cotwatch.duckdb")          # read-only
    cotwatch.runs(store)                                      # polars DataFrame
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

#: public name → "module:attribute" (imported on first use, so `import cotwatch` stays light)
_EXPORTS = {
    "open_store": "analytics.store:open_store",
    "Store": "analytics.store:Store",
    "ingest": "analytics.ingest:ingest_paths",
    "runs": "analytics.summary:runs_summary",
    "transcript": "analytics.summary:transcript_segments",
}


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'cotwatch' has no attribute {name!r}")
    module, attr = target.split(":")
    return getattr(import_module(module), attr)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
