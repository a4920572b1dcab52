"""Formatting results for the terminal and for files: table, csv, json, parquet.

Terminal output never lets data act on the terminal: in tables (and ``cotwatch show``) every
control character, escape sequence, bidirectional override and invisible format character of a
value is made visible (:func:`terminal_safe`: ``ESC`` → ``␛``, U+202E → ``\\u202e``), and values
are rich ``Text`` objects, so ``[bold]`` and ``:x:`` stay literal. CSV, JSON and Parquet are
verbatim; nested values (list, struct, map, array) and binary values are JSON in CSV.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

FORMATS = ("table", "csv", "json")
EXPORT_FORMATS = ("table", "csv", "json", "parquet")

# C0 controls but tab and newline, DEL, C1 controls (0x9b is CSI on 8-bit terminals), and the
# invisible format characters that reorder or hide text: soft hyphen, Arabic letter mark,
# Mongolian vowel separator, zero-width space, LRM/RLM, line/paragraph separators, bidi
# embeddings/overrides/isolates, word joiner and invisible operators, BOM, interlinear
# annotation, Unicode tags (invisible ASCII), and lone surrogates (cannot be encoded).
# Zero-width (non-)joiners stay: scripts and emoji sequences need them.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b\u200e\u200f\u2028-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f\ud800-\udfff]"
)
_UNSAFE_LINE = re.compile(_UNSAFE.pattern[:-1] + "\t\n]")


def _visible(match: re.Match) -> str:
    char = match.group()
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)           # ␀ … ␟ (␛ for ESC, ␉ tab, ␊ newline, ␍ CR)
    if code == 0x7F:
        return "\u2421"                     # ␡
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def terminal_safe(text: Any, *, keep_newlines: bool = True) -> str:
    """``text`` with every control, escape and invisible format character made visible, for a
    terminal. Newlines and tabs are kept unless ``keep_newlines`` is False (one-line contexts);
    a CR before a newline is dropped there (Windows line ends), any other CR is shown as ␍.

    >>> terminal_safe("a\\x1b[2Jb \\u202eevil")
    'a␛[2Jb \\\\u202eevil'
    """
    text = str(text)
    if keep_newlines:
        return _UNSAFE.sub(_visible, text.replace("\r\n", "\n"))
    return _UNSAFE_LINE.sub(_visible, text)


def _jsonable(value: Any) -> Any:
    """A value as JSON data: nested lists/dicts recursively, NaN → null, ±inf → "Infinity",
    binary → base64 text, times ISO 8601, decimals as exact text."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, (_dt.date, _dt.time, _dt.datetime)):
        return value.isoformat()
    if isinstance(value, (_dt.timedelta, decimal.Decimal)):
        return str(value)
    return value


def _json_text(value: Any) -> str:
    return json.dumps(_jsonable(value), ensure_ascii=False, allow_nan=False, default=str)


def _is_composite(dtype) -> bool:
    import polars as pl

    return dtype.is_nested() or dtype in (pl.Binary, pl.Object) or isinstance(dtype, getattr(pl, "Map", ()))


def _flat_for_csv(df):
    """``df`` with nested and binary columns as JSON text (CSV has no nested values)."""
    import polars as pl

    composite = [name for name, dtype in df.schema.items() if _is_composite(dtype)]
    if not composite:
        return df
    return df.with_columns([
        pl.Series(name, [None if v is None else _json_text(v) for v in df[name].to_list()], dtype=pl.String)
        for name in composite
    ])


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
        text = _flat_for_csv(df).write_csv()
    elif fmt == "json":
        rows = [{k: _jsonable(v) for k, v in row.items()} for row in df.iter_rows(named=True)]
        text = json.dumps(rows, indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n"
    elif fmt == "table":
        text = render_table(df, title=title)
    else:
        raise UsageError(f"unknown format {fmt!r}")
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        from cotwatch.analytics.store.atomic import atomic_write_text

        atomic_write_text(output, text)


def render_table(df, *, title: str | None = None) -> str:
    """A rich table as plain text (no colour codes when not on a terminal). Every header and
    cell is literal text made terminal-safe: no markup, emoji code or escape sequence acts."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=None if title is None else Text(terminal_safe(title, keep_newlines=False)),
                  show_lines=False, header_style="bold")
    for name, dtype in df.schema.items():
        table.add_column(Text(terminal_safe(name, keep_newlines=False)),
                         justify="right" if dtype.is_numeric() else "left", overflow="fold")
    for row in df.iter_rows():
        table.add_row(*[Text(_cell(v)) for v in row])
    console = Console(width=max(100, min(220, 20 * len(df.columns))), record=True, file=_Null(),
                      force_terminal=sys.stdout.isatty(), highlight=False, markup=False, emoji=False)
    console.print(table)
    return console.export_text(styles=sys.stdout.isatty())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:
            return ""
        return f"{value:.4g}" if abs(value) < 1e6 else f"{value:.0f}"
    if isinstance(value, (list, tuple, dict, bytes, bytearray, memoryview)):
        value = _json_text(value)
    return terminal_safe(value)


class _Null:
    def write(self, *_: Any) -> None:
        pass

    def flush(self) -> None:
        pass


def _write_via(output, write) -> None:
    from cotwatch.analytics.store.atomic import atomic_path

    with atomic_path(output) as tmp:
        write(tmp)
