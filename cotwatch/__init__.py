"""cotwatch: analyse chain-of-thought transcripts across training checkpoints.

Python API (everything the CLI does is a library call)::

    import cotwatch
    store = cotwatch.open_store("cotwatch.duckdb")          # read-only
    cotwatch.runs(store)                                      # polars DataFrame
"""

from __future__ import annotations

from cotwatch.analytics.lazy import lazy_exports

__version__ = "0.1.0"

#: public name → "module:attribute" (imported on first use, so `import cotwatch` stays light)
_EXPORTS = {
    "open_store": "cotwatch.analytics.store.database:open_store",
    "Store": "cotwatch.analytics.store.database:Store",
    "ingest": "cotwatch.analytics.ingest.loading:ingest_paths",
    "runs": "cotwatch.analytics.summary:runs_summary",
    "transcript": "cotwatch.analytics.summary:transcript_segments",
}


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
