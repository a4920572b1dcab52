"""`cotwatch export parquet --out DIR [--run R]`"""

from __future__ import annotations

import click

from cotwatch.options import db_option, format_option, wait_option


@click.command()
@click.option("--out", "out", required=True, help="Folder (or object-store URI, e.g. s3://bucket/prefix) to write the shards to.")
@click.option("--run", "run", default=None, help="Only this run (default: every run).")
@click.option("--rows-per-file", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="Transcripts per shard file.")
@db_option
@format_option
@wait_option
def parquet(out, run, rows_per_file, db, fmt, wait):
    """Transcripts and their segments as Parquet shards, run=<run>/step=<step>/part-<n>.parquet.

    One row per transcript (transcript_id, run, step, environment, epoch, covert_action, score,
    metadata, segments[ordinal, role, kind, text, redacted]) — the input of the distributed path
    (`cotwatch terms materialize --input ...`); the schema is in docs/scale.md.
    """
    from cotwatch.analytics.scale.shards import export_parquet
    from cotwatch.analytics.store.database import Store
    from cotwatch.output import emit

    with Store.open(db, wait=wait) as store:
        result = export_parquet(store, out, run, rows_per_file=rows_per_file)
    emit(result.as_frame(), fmt)
