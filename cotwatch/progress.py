"""A rich progress bar per input file (bytes read), shown only on a terminal."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def file_progress(enabled: bool, *, console: Any = None) -> Iterator[Callable[[Path], Callable[[int], None]] | None]:
    """Yields ``factory(path) -> update(bytes_read)``, or None when not ``enabled``.

    File names are shown as literal, terminal-safe text: a name holding ``[bold]`` or an escape
    sequence is displayed, never interpreted (``console``: a rich Console, for tests)."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from cotwatch.output import terminal_safe

    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), transient=True, console=console) as bar:

        def factory(path: Path) -> Callable[[int], None]:
            task = bar.add_task(terminal_safe(path.name[-40:], keep_newlines=False), total=os.path.getsize(path))
            return lambda position: bar.update(task, completed=position)

        yield factory
