"""Click options shared by `cotwatch sql` and `cotwatch query run` (defined once)."""

from __future__ import annotations

import click

DEFAULT_MAX_ROWS = 10_000  # mirrors cotwatch.analytics.sqlapi.DEFAULT_MAX_ROWS without importing duckdb for --help
DEFAULT_TIMEOUT = 60.0


def _parse_params(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("$")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: expected key=value, e.g. -p term=grader", ctx=ctx, param=param)
        if key in params:
            raise click.BadParameter(f"parameter {key!r} given twice", ctx=ctx, param=param)
        params[key] = value
    return params


param_option = click.option(
    "--param", "-p", "params", multiple=True, callback=_parse_params, metavar="KEY=VALUE",
    help="Bind the SQL parameter $KEY to VALUE (repeatable). Values are strings; the SQL casts them.",
)
max_rows_option = click.option(
    "--max-rows", type=click.IntRange(min=0), default=DEFAULT_MAX_ROWS, show_default=True,
    help="Return at most this many rows (a 'truncated' notice goes to stderr when rows were left out); 0 = no cap.",
)
timeout_option = click.option(
    "--timeout", type=click.FloatRange(min=0), default=DEFAULT_TIMEOUT, show_default=True,
    help="Interrupt the query after this many seconds (exit code 8); 0 = no limit.",
)


allow_read_option = click.option(
    "--allow-read", "allow_read", multiple=True, metavar="DIR",
    type=click.Path(exists=True, file_okay=False, dir_okay=True),
    help="Let the SQL read local files below DIR (repeatable), e.g. read_parquet('DIR/x.parquet'). "
         "Without it SQL reads the store only; URLs (https://, s3://, ...) are never fetched.",
)


def report_truncated(truncated: bool, max_rows: int) -> None:
    """The visible notice that the row cap left rows out."""
    if truncated:
        click.echo(
            f"cotwatch: truncated: showing the first {max_rows} rows; raise --max-rows (0 = no cap) to see them all",
            err=True,
        )
