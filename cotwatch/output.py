"""Formatting results for the terminal and for files: table, csv, json, parquet."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cotwatch.analytics.store.atomic import atomic_path, atomic_write_text

FORMATS = ("table", "csv", "json")
EXPORT_FORMATS = ("table", "csv", "json", "parquet")


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and value != value:  # NaN → null
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def emit(df, fmt: str = "table", output: str | Path | None = None, *, title: str | None = None) -> None:
    """Write a polars DataFrame to stdout (or ``output``) as table, csv, json or parquet.

    json is a list of row objects; parquet needs ``output``. Files are written atomically.
    """
    from cotwatch.analytics.errors import UsageError

    if fmt == "parquet":
        if output is None:
            raise UsageError("--format parquet needs --output FILE")
        _write_via(output, lambda tmp: df.write_parquet(tmp))
        return
    if fmt == "csv":
        text = df.write_csv()
    elif fmt == "json":
        rows = [{k: _jsonable(v) for k, v in row.items()} for row in df.iter_rows(named=True)]
        text = json.dumps(rows, indent=2, ensure_ascii=False, default=str) + "\n"
    elif fmt == "table":
        text = render_table(df, title=title)
    else:
        raise UsageError(f"unknown format {fmt!r}")
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write_text(output, text)


def render_table(df, *, title: str | None = None) -> str:
    """A rich table as plain text (no colour codes when not on a terminal)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False, header_style="bold")
    for name in df.columns:
        numeric = df[name].dtype.is_numeric()
        table.add_column(name, justify="right" if numeric else "left", overflow="fold")
    for row in df.iter_rows():
        table.add_row(*[_cell(v) for v in row])
    console = Console(width=max(100, min(220, 20 * len(df.columns))), record=True, file=_Null(),
                      force_terminal=sys.stdout.isatty(), highlight=False)
    console.print(table)
    return console.export_text(styles=sys.stdout.isatty())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:
            return ""
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    from rich.markup import escape

    return escape(str(value))


class _Null:
    def write(self, *_: Any) -> None:
        pass

    def flush(self) -> None:
        pass


def _write_via(output, write) -> None:
    with atomic_path(output) as tmp:
        write(tmp)
