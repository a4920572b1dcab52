"""`cotwatch sql "SELECT ..."`"""

from __future__ import annotations

import sys

import click

from cotwatch.commands._sql_options import (
    allow_read_option,
    max_rows_option,
    param_option,
    report_truncated,
    timeout_option,
)
from cotwatch.options import db_option, export_format_option, output_option, wait_option


@click.command()
@click.argument("query", metavar="SQL")
@param_option
@export_format_option
@output_option
@max_rows_option
@timeout_option
@allow_read_option
@db_option
@wait_option
def sql(query, params, fmt, output, max_rows, timeout, allow_read, db, wait):
    """Run one read-only SQL statement against the store (SQL '-' reads it from stdin).

    Bare names are the documented views (transcripts, reasoning, term_counts, step_totals,
    transcript_terms, transcript_tokens, rejects, ...), as in any DuckDB client; see docs/sql.md.
    Statements that could write (INSERT, UPDATE, DELETE, DROP, CREATE, ATTACH, COPY, SET,
    INSTALL/LOAD, ...) are refused and the store is left unchanged. SQL stays local: no URL is
    fetched, no extension installed, and files are read only below --allow-read directories.

    \b
    Examples:
      cotwatch sql "select step, sum(tokens) from step_totals group by step order by step"
      cotwatch sql 'select * from term_counts where term = $t' -p t=grader --format csv
      cotwatch sql "select * from reasoning" --format parquet --output reasoning.parquet --max-rows 0
    """
    from cotwatch.analytics.sqlapi import open_sql, run_sql
    from cotwatch.output import emit

    text = sys.stdin.read() if query == "-" else query
    with open_sql(db, wait=wait, allow_read=allow_read) as store:
        frame, truncated = run_sql(store, text, params, max_rows=max_rows or None, timeout=timeout or None)
    emit(frame, fmt, output)
    report_truncated(truncated, max_rows)
