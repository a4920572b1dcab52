"""Ingest: every input format becomes :class:`~cotwatch.analytics.ingest.records.Record` s
(``records``: validation and hashing), read by ``jsonl``, ``inspect`` or ``text`` and stored
atomically per file by ``loading``.

>>> from cotwatch.analytics.ingest import ingest_paths
>>> with Store.open("runs.duckdb", read_only=False) as store:      # doctest: +SKIP
...     ingest_paths(store, ["rollouts.jsonl.gz"], run="rl-7")
"""

from cotwatch.analytics.ingest.loading import (
    FORMATS,
    FileResult,
    detect_format,
    ingest_file,
    ingest_paths,
)

__all__ = ["FORMATS", "FileResult", "detect_format", "ingest_file", "ingest_paths"]
