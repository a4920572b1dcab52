"""A rich progress bar per input file (bytes read), shown only on a terminal."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def file_progress(enabled: bool) -> Iterator[Callable[[Path], Callable[[int], None]] | None]:
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

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), transient=True) as bar:

        def factory(path: Path) -> Callable[[int], None]:
            task = bar.add_task(path.name[-40:], total=os.path.getsize(path))
            return lambda position: bar.update(task, completed=position)

        yield factory
