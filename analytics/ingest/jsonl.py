"""Generic JSONL (``.jsonl``, ``.jsonl.gz``): whole-line chunks, parsed and validated in batches."""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cotwatch.analytics.errors import InputError
from cotwatch.analytics.ingest.records import (
    RecordError,
    _Columns,
    _problem,
    record_from_json,
)


class _Progress:
    """Bytes-read callback holder (rich progress bar on a terminal, nothing otherwise)."""

    def __init__(self, callback: Callable[[int], None] | None):
        self.callback = callback

    def __call__(self, position: int) -> None:
        if self.callback:
            self.callback(position)


CHUNK_BYTES = 4 << 20


def _jsonl_chunks(path: Path, progress: _Progress) -> Iterator[tuple[bytes, int]]:
    """Whole-line chunks of about CHUNK_BYTES (decompressed) with their first line number."""
    raw = open(path, "rb")
    try:
        stream: io.BufferedIOBase = gzip.GzipFile(fileobj=raw) if _is_gzip(raw) else raw
        carry = b""
        next_line = 1
        while True:
            block = stream.read(CHUNK_BYTES)
            if not block:
                break
            data = carry + block
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                carry = data
                continue
            chunk, carry = data[:cut], data[cut:]
            yield chunk, next_line
            next_line += chunk.count(b"\n")
            progress(raw.tell())
        if carry:
            yield carry, next_line
    except (OSError, EOFError) as exc:  # truncated or corrupt gzip
        raise InputError(f"{path}: cannot read: {exc}") from exc
    finally:
        raw.close()


def parse_jsonl_chunk(data: bytes, first_line: int, defaults: dict[str, Any]):
    """Parse and validate a chunk of whole JSONL lines (runs in worker processes).

    Returns ``(transcripts, segments, bad)``: two Arrow tables keyed by a chunk-local ``seq`` and
    the bad records as ``(line, None, reason)``.
    """
    columns = _Columns()
    bad: list[tuple[int | None, str | None, str]] = []
    for offset, line in enumerate(data.split(b"\n")):
        if not line.strip():
            continue
        lineno = first_line + offset
        try:
            rec = record_from_json(json.loads(line))
        except UnicodeDecodeError as exc:
            bad.append((lineno, None, f"not valid UTF-8 ({exc.reason})"))
            continue
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            bad.append((lineno, None, f"invalid JSON: {exc}"))
            continue
        except RecordError as exc:
            bad.append((lineno, None, str(exc)))
            continue
        # flags fill what a record lacks
        rec.run = rec.run or defaults.get("run")
        rec.step = rec.step if rec.step is not None else defaults.get("step")
        rec.environment = rec.environment or defaults.get("environment")
        rec.line = lineno
        problem = _problem(rec)
        if problem:
            bad.append((lineno, None, problem))
        else:
            columns.add(rec, defaults["source_file"])
    transcripts, segments = columns.to_arrow()
    return transcripts, segments, bad


def _is_gzip(fh: io.BufferedReader) -> bool:
    head = fh.peek(2)[:2]
    return head == b"\x1f\x8b"
