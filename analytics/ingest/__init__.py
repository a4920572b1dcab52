"""Ingest: every input format into the store, one transaction per file.

``jsonl`` reads JSONL and JSON record files in bounded, scanned chunks that DuckDB parses;
``inspect`` and ``text`` read Inspect logs and plain text into
:class:`~cotwatch.analytics.ingest.records.Record` s (``records``: the record schema, validation,
field mapping, canonical metadata); ``staging`` judges, hashes and stores each file's records and
counts their terms in the same transaction; ``loading`` plans the files (formats, folder walks,
limits) and drives it all.

>>> from cotwatch.analytics.ingest import ingest_paths
>>> with Store.open("runs.duckdb", read_only=False) as store:      # doctest: +SKIP
...     ingest_paths(store, ["rollouts.jsonl.gz"], run="rl-7")
"""

from cotwatch.analytics.ingest.jsonl import Limits
from cotwatch.analytics.ingest.loading import (
    FORMATS,
    StepFrom,
    detect_format,
    ingest_file,
    ingest_paths,
    plan_files,
)
from cotwatch.analytics.ingest.staging import FileResult

__all__ = ["FORMATS", "FileResult", "Limits", "StepFrom", "detect_format", "ingest_file", "ingest_paths", "plan_files"]
