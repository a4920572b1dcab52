"""Plain text (``.txt``, ``.md``): the whole file is one transcript's reasoning.

Its id is the file name (``id_from="name"``), its path relative to the folder it was found in
(``"path"``, so ``ckpt-100/trace.txt`` and ``ckpt-200/trace.txt`` differ), or derived from its
content hash (``"hash"``: ``h:`` + 16 hex digits, like a JSONL record without an id).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cotwatch.analytics.errors import InputError
from cotwatch.analytics.ingest.jsonl import MB, Limits
from cotwatch.analytics.ingest.records import Record, RecordError, Segment

ID_FROM = ("name", "path", "hash")


def text_id(path: Path, id_from: str, root: Path | None) -> str | None:
    """The transcript id of a text file (None: the content hash decides)."""
    if id_from == "hash":
        return None
    if id_from == "path":
        if root is not None:
            try:
                return path.relative_to(root).as_posix()
            except ValueError:
                pass
        return path.as_posix()
    return path.name


def read_text(path: Path, progress: Callable[[int], None] | None, defaults: dict[str, Any], *,
              limits: Limits | None = None, id_from: str = "name",
              root: Path | None = None) -> Iterator[tuple[Record | RecordError, int | None, str | None]]:
    limits = limits or Limits()
    try:
        size = os.stat(path).st_size
        if size > limits.max_record_bytes:
            raise InputError(f"{path}: text of {size / MB:.0f} MB is longer than {limits.max_record_bytes / MB:g} MB "
                             "(raise --max-record-mb to read it)")
        with open(path, "rb") as fh:
            data = fh.read(limits.max_record_bytes + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if progress:
        progress(len(data))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 text (byte {exc.start}: {exc.reason})") from exc
    entry = path.name
    if not text.strip():
        yield RecordError("file is empty"), None, entry
        return
    segments = [Segment("reasoning", text, "assistant")]
    rec = Record(text_id(path, id_from, root), defaults.get("run"), defaults.get("step"), defaults.get("environment"),
                 None, None, None, None, segments)
    yield rec, None, entry
