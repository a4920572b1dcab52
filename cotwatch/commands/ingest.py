"""`cotwatch ingest PATH...`"""

from __future__ import annotations

import sys

import click

from cotwatch.options import db_option, wait_option


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["auto", "jsonl", "inspect", "text"]), default="auto", show_default=True,
              help="Input format; auto detects it from the extension or the content.")
@click.option("--run", default=None, help="Run name for records that lack one (Inspect: overrides the task name).")
@click.option("--step", type=int, default=None, help="Checkpoint step for records that lack one (Inspect: overrides eval metadata 'step').")
@click.option("--environment", default=None, help="Environment for records that lack one (Inspect: overrides the task name).")
@click.option("--skip-bad", is_flag=True, help="Store the good records of a file and keep bad ones in the rejects table.")
@click.option("--defer-terms", is_flag=True, help="Do not count terms now (run `cotwatch terms materialize` later).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Processes parsing a large JSONL file (default: one per core, at most 4).")
@db_option
@wait_option
def ingest(paths, fmt, run, step, environment, skip_bad, defer_terms, workers, db, wait):
    """Ingest transcripts from files or directories (JSONL, Inspect .eval/.json, .txt/.md).

    Each file goes in atomically: a file with a bad record is rejected whole (one line per bad
    record) unless --skip-bad. Re-ingesting the same records adds nothing.
    """
    from cotwatch.analytics.ingest.loading import ingest_paths
    from cotwatch.analytics.store.database import Store
    from cotwatch.progress import file_progress

    def report(result):
        click.echo(result.summary(), err=True)
        if result.committed:
            for problem in result.problems:
                click.echo(f"cotwatch: skipped: {problem}", err=True)

    with Store.open(db, read_only=False, wait=wait) as store, file_progress(enabled=sys.stderr.isatty()) as progress:
        results = ingest_paths(
            store, paths, format=fmt, run=run, step=step, environment=environment, skip_bad=skip_bad,
            on_file=report, progress_factory=progress, count_terms=not defer_terms, workers=workers,
        )
    added = sum(r.added for r in results)
    dups = sum(r.duplicates for r in results)
    rejected = sum(r.rejected for r in results)
    click.echo(f"ingested {len(results)} file(s): {added} added, {dups} duplicates, {rejected} rejected", err=True)
