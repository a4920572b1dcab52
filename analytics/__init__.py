"""The data layer: the DuckDB store and its migrations (``store``), reading inputs (``ingest``),
term statistics (``terms``), Parquet shards and distributed jobs (``scale``), read-only SQL and
named queries (``sqlapi``), run summaries (``summary``) and synthetic runs (``synth``).
Segment kinds and scopes are defined once in ``kinds``; typed errors in ``errors``.

Nothing here imports ``cotwatch.classifiers``, ``cotwatch.reports`` or the CLI."""
