"""`cotwatch ingest PATH...`"""

from __future__ import annotations

import sys

import click

from cotwatch.options import db_option, wait_option

_FORMATS = ["auto", "jsonl", "json", "inspect", "text", "scout"]


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="auto", show_default=True,
              help="Input format; auto detects it from the extension or the content. In a folder, files of "
                   "other formats are skipped (each listed with its reason).")
@click.option("--run", default=None, help="Run name for records that lack one (Inspect: overrides the task name).")
@click.option("--step", type=click.IntRange(-(1 << 63), (1 << 63) - 1), default=None,
              help="Checkpoint step for records that lack one (Inspect: overrides eval metadata 'step').")
@click.option("--step-from", "step_from", default=None, metavar="SOURCE:KEY",
              help="Take the step from Inspect eval metadata (metadata:KEY), a task argument (task_arg:KEY), or "
                   "the file's path ('path:REGEX', the first group, e.g. 'path:step_(\\d+)'; any format).")
@click.option("--environment", default=None, help="Environment for records that lack one (Inspect: overrides the task name).")
@click.option("--field", "fields", multiple=True, metavar="SOURCE=TARGET",
              help="JSONL/JSON records: read the top-level key SOURCE as TARGET, a record field (text=reasoning) "
                   "or metadata.KEY (label=metadata.label). Repeatable.")
@click.option("--records-field", default=None, metavar="NAME",
              help="A .json file that is an object: its list field NAME holds the records (e.g. samples).")
@click.option("--id-from", type=click.Choice(["name", "path", "hash"]), default="name", show_default=True,
              help="Plain text: the transcript id is the file name, its path under the folder, or its content hash.")
@click.option("--skip-bad", is_flag=True, help="Store the good records of a file and keep bad ones in the rejects table.")
@click.option("--defer-terms", is_flag=True, help="Do not count terms now (run `cotwatch terms materialize` later).")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Threads counting terms while records are stored (default 1; DuckDB parses on every core).")
@click.option("--max-record-mb", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Longest JSONL line, JSON record or text file read (default 64).")
@click.option("--max-depth", type=click.IntRange(1, 512), default=None,
              help="Deepest JSON nesting read (default 64).")
@click.option("--max-entry-mb", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Largest Inspect log entry (uncompressed) or JSON document read (default 256).")
@click.option("--max-ratio", type=click.FloatRange(min=1), default=None,
              help="Highest compression ratio of an .eval archive entry (default 200).")
@click.option("--max-values", type=click.IntRange(1, (1 << 62) - 1), default=None,
              help="Most JSON values (keys included) in one record, .eval entry or JSON document parsed whole: "
                   "what bounds the memory of parsing it (default 4,000,000).")
@db_option
@wait_option
def ingest(paths, fmt, run, step, step_from, environment, fields, records_field, id_from, skip_bad, defer_terms,
           workers, max_record_mb, max_depth, max_entry_mb, max_ratio, max_values, db, wait):
    """Ingest transcripts from files or folders (JSONL, JSON record lists, Inspect .eval/.json, .txt/.md).

    Each file goes in atomically: a file with a bad record is rejected whole (one line per bad
    record) unless --skip-bad. Re-ingesting the same records adds nothing. Term counts are
    stored with the transcripts (and anything left uncounted earlier is counted at the end).
    """
    from cotwatch.analytics.ingest.loading import ingest_paths, interrupts_as_keyboard, limits_from_options
    from cotwatch.analytics.store.database import Store
    from cotwatch.progress import file_progress

    limits = limits_from_options(max_record_mb, max_depth, max_entry_mb, max_ratio, max_values)

    def report(result):
        click.echo(result.summary(), err=True)
        if result.committed:
            for problem in result.problems:
                click.echo(f"cotwatch: skipped: {problem}", err=True)

    with interrupts_as_keyboard(), Store.open(db, read_only=False, wait=wait) as store, \
            file_progress(enabled=sys.stderr.isatty()) as progress:
        results = ingest_paths(
            store, paths, format=fmt, run=run, step=step, environment=environment, skip_bad=skip_bad,
            on_file=report, progress_factory=progress, count_terms=not defer_terms, workers=workers,
            fields=fields, records_field=records_field, id_from=id_from, step_from=step_from, limits=limits,
        )
    read = [r for r in results if r.skipped is None]
    added = sum(r.added for r in read)
    dups = sum(r.duplicates for r in read)
    rejected = sum(r.rejected for r in read)
    skipped = len(results) - len(read)
    tail = f", {skipped} file(s) skipped" if skipped else ""
    click.echo(f"ingested {len(read)} file(s): {added} added, {dups} duplicates, {rejected} rejected{tail}", err=True)
