"""Plain text (``.txt``, ``.md``): the whole file is one transcript's reasoning."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cotwatch.analytics.errors import InputError
from cotwatch.analytics.ingest.records import Record, RecordError, Segment


def _read_text(path: Path, progress: Callable[[int], None], defaults: dict[str, Any]) -> Iterator[tuple[Record | RecordError, int | None, str | None]]:
    data = path.read_bytes()
    progress(len(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 text (byte {exc.start}: {exc.reason})") from exc
    if not text.strip():
        yield RecordError("file is empty"), None, path.name
        return
    segments = [Segment("reasoning", text, "assistant")]
    rec = Record(path.name, defaults.get("run"), defaults.get("step"), defaults.get("environment"),
                 None, None, None, None, segments)
    yield rec, None, path.name
