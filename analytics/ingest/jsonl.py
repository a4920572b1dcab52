"""Generic JSONL (``.jsonl``, ``.jsonl.gz``) and JSON record files, read in bounded chunks.

Reading is bounded before anything is parsed: the file (or its gzip stream) is read in blocks of
``CHUNK_BYTES``; a line longer than ``limits.max_record_bytes`` is skipped as it streams past (it
never sits in memory whole) and reported; every chunk of whole lines goes through the compiled
scanner (``_jsonscan.c``: line bounds, UTF-8, nesting depth, repeated keys) and then to DuckDB's
JSON parser (``sql/ingest_jsonl_*.sql``), which stores the common record shapes directly; every
other line is parsed and validated by :func:`cotwatch.analytics.ingest.records.record_from_json`.

JSON record files (``.json`` holding a list of records, or an object with one list field named by
``records_field``) are read whole (up to ``limits.max_document_bytes``) and their records fed
through the same chunks, one record per "line" (reported as ``[record N]``).
"""

from __future__ import annotations

import gzip
import io
import math
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from cotwatch.analytics.errors import InputError, UsageError

#: Bytes (decompressed) read per block; a chunk holds the block's whole lines.
CHUNK_BYTES = 16 << 20

MB = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Bounds on what one input may make cotwatch read (README, "Ingest guarantees").

    ``max_record_bytes``: longest JSONL line / JSON record / text file; ``max_depth``: JSON nesting
    (objects and arrays); ``max_entry_bytes``: an Inspect log entry (a sample of an ``.eval``
    archive, uncompressed) or a whole JSON document; ``max_ratio``: an ``.eval`` entry's
    uncompressed / compressed size; ``max_values``: JSON values (keys included) of a record, an
    Inspect log entry or a JSON document that is parsed whole — what bounds the Python objects a
    parse may build (a 60 MB line of ``{},{},…`` would otherwise be 2 GB of dicts)."""

    max_record_bytes: int = 64 * MB
    max_depth: int = 64
    max_entry_bytes: int = 256 * MB
    max_ratio: float = 200.0
    max_values: int = 4_000_000

    #: Deepest nesting anyone may ask for (Python's own parsers stop near 1,000 levels).
    DEPTH_CEILING = 512

    def __post_init__(self) -> None:
        if not 1 <= self.max_depth <= self.DEPTH_CEILING:
            raise UsageError(f"--max-depth must be between 1 and {self.DEPTH_CEILING}, got {self.max_depth}")
        if self.max_record_bytes < 1 or self.max_entry_bytes < 1:
            raise UsageError("--max-record-mb and --max-entry-mb must be at least one byte")
        if not 1 <= self.max_values < 1 << 62:
            raise UsageError(f"--max-values must be between 1 and 2^62, got {self.max_values}")
        if not (self.max_ratio >= 1 and math.isfinite(self.max_ratio)):  # NaN fails every comparison
            raise UsageError(f"--max-ratio must be a finite number of at least 1, got {self.max_ratio}")

    @property
    def document_values(self) -> int:
        """JSON values of a document parsed whole (a JSON record file, an Inspect log or
        ``.eval`` entry): twice ``max_values``, the budget that keeps such a parse near 1 GB."""
        return 2 * self.max_values


@dataclass
class LineChunk:
    """Whole lines of a file: ``data`` with the scanner's results (``bounds``, ``status``,
    ``detail``: see ``_jsonscan.c``), the number of its first line, and lines skipped before
    parsing (``(line, reason)``, e.g. too long)."""

    data: bytes | memoryview
    first_line: int
    bounds: object = None
    status: object = None
    detail: object = None
    types: object = None
    fields: tuple = ()
    skipped: list[tuple[int, str]] = field(default_factory=list)
    #: JSON record files: lines are records and are reported as "[record N]"
    records: bool = False

    def line_bytes(self, i: int) -> bytes:
        """The bytes of the chunk's i-th line (0-based), without its line break."""
        start, end = int(self.bounds[i]), int(self.bounds[i + 1])
        while end > start and self.data[end - 1] in (10, 13):
            end -= 1
        return bytes(self.data[start:end])


def scan(chunk: LineChunk, max_depth: int, whole: bool = False, fields: tuple[bytes, ...] = (),
         max_values: int | None = None) -> LineChunk:
    """Run the compiled scanner over ``chunk.data`` (``whole``: as one document; ``fields``:
    top-level keys whose JSON types to report, in ``chunk.types``, one row per line;
    ``max_values``: JSON values a line may hold, status 6 beyond; None: no limit)."""
    import numpy as np

    from cotwatch.analytics.ingest import _jsonscan

    bounds, status, detail, types = _jsonscan.scan_lines(chunk.data, max_depth, whole, list(fields),
                                                         -1 if max_values is None else max_values)
    chunk.bounds = np.frombuffer(bounds, np.int64)
    chunk.status = np.frombuffer(status, np.uint8)
    chunk.detail = np.frombuffer(detail, np.int64)
    chunk.types = np.frombuffer(types, np.uint8).reshape(len(chunk.status), len(fields))
    chunk.fields = tuple(fields)
    return chunk


def scan_problem(status: int, detail: int, data: bytes | memoryview, limits: Limits, *,
                 document: bool = False) -> str | None:
    """The reason a line (or a document, ``document``) of scanner status ``status`` is refused,
    or None for the statuses that are not refusals (0 good, 1 blank, 5 for the slower path).
    ``data``: the line's or document's bytes (a repeated key is named from them)."""
    if status == 2:
        return f"not valid UTF-8 (byte {detail})"
    if status == 3:
        return f"nested deeper than {limits.max_depth} levels (raise --max-depth to read it)"
    if status == 4:
        key = bytes(data[detail : detail + 200]).split(b'"', 2)
        name = key[1].decode("utf-8", "replace") if len(key) > 1 else "?"
        return f"an object repeats the key {name!r} (byte {detail})"
    if status == 6:
        values = limits.document_values if document else limits.max_values
        what = " (a document read whole may hold twice --max-values)" if document else ""
        return f"holds more than {values:,} JSON values{what}; raise --max-values to read it"
    return None


def _open_stream(path: Path) -> tuple[io.BufferedIOBase, io.BufferedReader]:
    try:
        raw = open(path, "rb")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        head = raw.peek(2)[:2]
    except OSError as exc:
        raw.close()
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    stream: io.BufferedIOBase = gzip.GzipFile(fileobj=raw) if head == b"\x1f\x8b" else raw
    return stream, raw


def read_line_chunks(path: Path, limits: Limits, progress: Callable[[int], None] | None = None,
                     chunk_bytes: int | None = None, fields: tuple[bytes, ...] = ()) -> Iterator[LineChunk]:
    """Chunks of whole lines of a JSONL file (plain or gzip), scanned, with their first line's
    number. A line longer than ``limits.max_record_bytes`` is dropped while it streams past and
    reported in the next chunk's ``skipped``; a UTF-8 byte-order mark at the start is ignored."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    stream, raw = _open_stream(path)
    max_line = limits.max_record_bytes
    try:
        # `pending` holds the bytes after the last line break; a chunk keeps the buffer it was cut
        # from (a memoryview, no copy) and a fresh buffer takes the tail, so a long line grows by
        # appending, never by copying itself again
        pending = bytearray()
        next_line = 1          # number of the first line in `pending`
        skipping = False       # inside an over-long line, dropping bytes until its end
        skipped: list[tuple[int, str]] = []
        first = True
        while True:
            block = stream.read(chunk_bytes)
            if first:
                first = False
                if block.startswith(b"\xef\xbb\xbf"):
                    block = block[3:]
            if not block:
                break
            if skipping:
                cut = block.find(b"\n")
                if cut < 0:
                    continue
                block = block[cut + 1 :]
                next_line += 1
                skipping = False
            last_break = block.rfind(b"\n")
            pending += block
            if last_break >= 0:
                cut = len(pending) - len(block) + last_break + 1
                data, pending = pending, bytearray(memoryview(pending)[cut:])
                chunk = LineChunk(memoryview(data)[:cut], next_line, skipped=skipped)
                skipped = []
                scan(chunk, limits.max_depth, fields=fields, max_values=limits.max_values)
                next_line += len(chunk.status)
                too_long = _too_long_lines(chunk, max_line)
                if too_long:
                    chunk.skipped.extend((chunk.first_line + i, _too_long(max_line)) for i in too_long)
                    chunk.status = chunk.status.copy()
                    chunk.status[too_long] = 1  # dropped: treated like a blank line from here on
                del data
                yield chunk
                del chunk
            if len(pending) > max_line:
                skipped.append((next_line, _too_long(max_line)))
                pending = bytearray()
                skipping = True
            if progress:
                progress(raw.tell())
        if skipping:
            next_line += 1
        if pending:
            chunk = scan(LineChunk(memoryview(pending), next_line, skipped=skipped), limits.max_depth, fields=fields,
                         max_values=limits.max_values)
            skipped = []
            yield chunk
        if skipped:
            yield scan(LineChunk(b"", next_line, skipped=skipped), limits.max_depth, fields=fields)
    except (OSError, EOFError, zlib.error) as exc:  # truncated or corrupt gzip, unreadable file
        raise InputError(f"{path}: cannot read: {exc}") from exc
    finally:
        raw.close()


def _too_long_lines(chunk: LineChunk, max_line: int) -> list[int]:
    import numpy as np

    lengths = np.diff(chunk.bounds)
    return np.flatnonzero(lengths > max_line + 2).tolist()  # + line break


def _too_long(max_line: int) -> str:
    return f"record longer than {max_line / MB:g} MB (raise --max-record-mb to read it)"


# --------------------------------------------------------------------------------------------
# JSON record files
# --------------------------------------------------------------------------------------------
def read_json_records(path: Path, limits: Limits, records_field: str | None,
                      progress: Callable[[int], None] | None = None,
                      chunk_records: int = 20_000, fields: tuple[bytes, ...] = ()) -> Iterator[LineChunk]:
    """The records of a JSON document — a list of records, or an object whose ``records_field``
    is that list — as chunks of one-record "lines" (each record re-encoded as compact JSON)."""
    import orjson

    size = _size(path)
    if size > limits.max_entry_bytes:
        raise InputError(f"{path}: JSON document of {size / MB:.0f} MB is larger than "
                         f"{limits.max_entry_bytes / MB:g} MB (raise --max-entry-mb to read it)")
    data = _read_bytes(path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    # nesting, UTF-8 and repeated keys checked on the whole document before parsing it (records
    # sit one level down, or two below --records-field)
    probe = scan(LineChunk(data, 1), limits.max_depth + 2, whole=True, max_values=limits.document_values)
    status = int(probe.status[0]) if len(probe.status) else 1
    if status == 1:
        raise InputError(f"{path}: empty file")
    problem = scan_problem(status, int(probe.detail[0]), data, limits, document=True)
    if problem:
        raise InputError(f"{path}: {problem}")
    try:
        if status == 5:  # escaped keys: repeated keys can only be judged after decoding
            from cotwatch.analytics.ingest.records import RecordError, parse_json_record

            try:
                document = parse_json_record(data, check_repeated_keys=True)
            except RecordError as exc:
                raise InputError(f"{path}: {exc}") from None
        else:
            document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON: {exc}") from None
    del data, probe
    if records_field is not None:
        if not isinstance(document, dict) or records_field not in document:
            raise InputError(f"{path}: no top-level field {records_field!r} holding the records")
        document = document[records_field]
    if not isinstance(document, list):
        fields = [k for k, v in document.items() if isinstance(v, list)] if isinstance(document, dict) else []
        hint = f" (pass --records-field {fields[0]})" if len(fields) == 1 else ""
        raise InputError(f"{path}: not a list of records{hint}")
    if progress:
        progress(size)
    for start in range(0, len(document), chunk_records):
        lines, skipped = [], []
        for number, item in enumerate(document[start : start + chunk_records], start + 1):
            try:
                line = orjson.dumps(item)
            except TypeError:  # an integer beyond 64 bits: the standard library keeps it
                import json

                line = json.dumps(item, ensure_ascii=False).encode("utf-8")
            if len(line) > limits.max_record_bytes:  # kept as a blank line, so the numbering holds
                skipped.append((number, _too_long(limits.max_record_bytes)))
                line = b""
            lines.append(line)
        chunk = LineChunk(b"\n".join(lines) + b"\n", start + 1, records=True, skipped=skipped)
        yield scan(chunk, limits.max_depth, fields=fields, max_values=limits.max_values)


def is_record_list(path: Path) -> bool:
    """Whether a ``.json`` file holds a list of records (its first non-blank byte is ``[``)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError:
        return False
    return head[:1] == b"["


def _size(path: Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _read_bytes(path: Path) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
