"""Shared click options, each defined once."""

from __future__ import annotations

import click

from cotwatch.output import EXPORT_FORMATS, FORMATS

db_option = click.option(
    "--db",
    "db",
    envvar="COTWATCH_DB",
    default=None,
    show_envvar=True,
    type=click.Path(dir_okay=False),
    help="Store file (default: $COTWATCH_DB, else ./cotwatch.duckdb).",
)
wait_option = click.option(
    "--wait",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to wait while another process holds the store's write lock.",
)
run_option = click.option("--run", "run", default=None, help="Run name (default: the only run in the store).")
#: Repeatable ``--run`` (analyses that overlay runs): the callback gives a tuple, or None when absent.
runs_option = click.option(
    "--run", "run", multiple=True, callback=lambda ctx, param, value: tuple(value) or None,
    help="Run name; repeat to overlay runs (a run column tells them apart). Default: every run, or the only one.",
)
environment_option = click.option("--environment", "environment", default=None, help="Only this environment.")
format_option = click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True, help="Output format."
)
export_format_option = click.option(
    "--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="table", show_default=True,
    help="Output format (parquet needs --output).",
)
output_option = click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout.")
scope_option = click.option(
    "--scope", type=click.Choice(["reasoning", "output", "all"]), default="reasoning", show_default=True,
    help="Which segments count: reasoning (+ summaries), output, or all.",
)
