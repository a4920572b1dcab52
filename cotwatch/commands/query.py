"""`cotwatch query list|show|run`: the named queries in queries/*.sql."""

from __future__ import annotations

import click

from cotwatch.commands._sql_options import (
    max_rows_option,
    param_option,
    report_truncated,
    timeout_option,
)
from cotwatch.options import (
    db_option,
    export_format_option,
    format_option,
    output_option,
    wait_option,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def query():
    """Named SQL queries (queries/*.sql): list, show, run. They read the public views only."""


@query.command("list")
@format_option
def list_(fmt):
    """Every named query: name, description and parameters ([name=default] is optional)."""
    from cotwatch.analytics.sqlapi import queries_frame
    from cotwatch.output import emit

    emit(queries_frame(), fmt)


@query.command()
@click.argument("name")
def show(name):
    """Print a named query's SQL, header comment included."""
    from cotwatch.analytics.sqlapi import describe_query, get_query

    click.echo(describe_query(get_query(name)), nl=False)


@query.command()
@click.argument("name")
@param_option
@export_format_option
@output_option
@max_rows_option
@timeout_option
@db_option
@wait_option
def run(name, params, fmt, output, max_rows, timeout, db, wait):
    """Run the named query NAME with -p key=value parameters.

    \b
    Example:
      cotwatch query run term_rate_by_step -p term=grader --format csv
    """
    from cotwatch.analytics.sqlapi import open_sql, run_query
    from cotwatch.output import emit

    with open_sql(db, wait=wait) as store:
        frame, truncated = run_query(store, name, params, max_rows=max_rows or None, timeout=timeout or None)
    emit(frame, fmt, output)
    report_truncated(truncated, max_rows)
