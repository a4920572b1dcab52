"""Ingest transcripts into the store: generic JSONL, Inspect AI logs, plain text.

Every file is ingested in one transaction: with any bad record the whole file is rejected and
the store is left unchanged (one problem line per bad record), unless ``skip_bad`` is set, in
which case the good records go in and the bad ones are kept in the ``rejects`` table. A crash or
Ctrl-C mid-file rolls the transaction back, so no partial file is ever visible.

Records are parsed one at a time and staged in batches into temporary DuckDB tables (memory
stays flat however large the file); duplicates are found in SQL at the end of the file by
``(run, id)`` and content hash.

>>> from analytics.store import Store, load_sql
>>> with Store.open("runs.duckdb", read_only=False) as store:
...     results = ingest_paths(store, ["rollouts.jsonl.gz"], run="rl-1")
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analytics.errors import InputError, RejectedRecords
from analytics.store import Store, load_sql

FORMATS = ("auto", "jsonl", "inspect", "text")
SEGMENT_KINDS = ("reasoning", "reasoning_summary", "output", "user", "system", "tool")
BATCH_RECORDS = 2000
INGEST_MEMORY = "512MB"  # DuckDB memory limit while ingesting ($COTWATCH_INGEST_MEMORY overrides)

_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
_INSPECT_SUFFIXES = (".eval", ".json")
_TEXT_SUFFIXES = (".txt", ".md")
_THINK_RE = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.S)


class RecordError(Exception):
    """A single record is unusable; the message is the reason."""


@dataclass(slots=True)
class Segment:
    kind: str
    text: str
    role: str | None = None
    redacted: bool = False


@dataclass(slots=True)
class Record:
    id: str | None
    run: str | None
    step: int | None
    environment: str | None
    epoch: int | None
    covert_action: bool | None
    score: float | None
    metadata: dict[str, Any] | None
    segments: list[Segment]
    line: int | None = None
    entry: str | None = None


@dataclass
class FileResult:
    file: str
    format: str
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)
    committed: bool = False
    bad: list[tuple[int | None, str | None, str]] = field(default_factory=list, repr=False)

    def summary(self) -> str:
        state = "" if self.committed else " — file rejected, nothing stored"
        return (
            f"{self.file}: {self.added} added, {self.duplicates} duplicates, "
            f"{self.rejected} rejected{state}"
        )


# --------------------------------------------------------------------------------------------
# Format detection and file walking
# --------------------------------------------------------------------------------------------
def _suffix_format(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if name.endswith(_INSPECT_SUFFIXES):
        return "inspect"
    if name.endswith(_TEXT_SUFFIXES):
        return "text"
    return None


def detect_format(path: Path) -> str:
    """The format of ``path`` from its extension, else from its first bytes."""
    by_suffix = _suffix_format(path)
    if by_suffix:
        return by_suffix
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head[:2] == b"\x1f\x8b":
        return "jsonl"
    if head[:2] == b"PK":
        return "inspect"
    first_line = head.split(b"\n", 1)[0].strip()
    if first_line.startswith(b"{"):
        try:
            json.loads(first_line)
            return "jsonl"
        except ValueError:
            return "inspect"
    return "text"


def iter_input_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Files named directly, plus files with a known extension found by walking directories."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for sub in sorted(p for p in path.rglob("*") if p.is_file()):
                if _suffix_format(sub) and not sub.name.startswith("."):
                    yield sub
        elif path.exists():
            yield path
        else:
            raise InputError(f"{path}: no such file or directory")


# --------------------------------------------------------------------------------------------
# Field validation shared by every format
# --------------------------------------------------------------------------------------------
def _opt_str(rec: dict, key: str) -> str | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RecordError(f"'{key}' must be a string, got {type(value).__name__}")
    value = str(value)
    return value if value.strip() else None


def _opt_int(rec: dict, key: str) -> int | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        raise RecordError(f"'{key}' must be an integer, got {json.dumps(value)[:40]}")
    return value


def _opt_bool(rec: dict, key: str) -> bool | None:
    value = rec.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise RecordError(f"'{key}' must be true, false or null, got {json.dumps(value)[:40]}")


def _opt_float(rec: dict, key: str) -> float | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(f"'{key}' must be a number or null, got {json.dumps(value)[:40]}")
    return float(value)


def split_think(text: str) -> list[Segment]:
    """Split text into output and ``<think>…</think>`` reasoning segments, in order.

    A closing ``</think>`` with no opening tag (a template that put ``<think>`` in the prompt)
    makes everything before it reasoning.
    """
    if "<think>" not in text and "</think>" not in text:
        return [Segment("output", text)] if text.strip() else []
    segments: list[Segment] = []
    if "</think>" in text and "<think>" not in text.split("</think>", 1)[0]:
        head, text = text.split("</think>", 1)
        if head.strip():
            segments.append(Segment("reasoning", head.strip()))
    pos = 0
    for match in _THINK_RE.finditer(text):
        before = text[pos : match.start()]
        if before.strip():
            segments.append(Segment("output", before.strip()))
        if match.group(1).strip():
            segments.append(Segment("reasoning", match.group(1).strip()))
        pos = match.end()
    rest = text[pos:]
    if rest.strip():
        segments.append(Segment("output", rest.strip()))
    return segments


_ROLE_KINDS = {"user": "user", "human": "user", "system": "system", "developer": "system", "tool": "tool", "function": "tool", "ipython": "tool"}


def _part_text(part: Any) -> str | None:
    if isinstance(part, str):
        return part
    if isinstance(part, dict):
        for key in ("text", "content"):
            if isinstance(part.get(key), str):
                return part[key]
    return None


def _assistant_segments(message: dict) -> list[Segment]:
    segments: list[Segment] = []
    for key in ("reasoning_content", "reasoning"):
        if isinstance(message.get(key), str) and message[key].strip():
            segments.append(Segment("reasoning", message[key], "assistant"))
            break
    content = message.get("content")
    if content is None:
        return segments
    if isinstance(content, str):
        parts: list[Any] = [{"type": "text", "text": content}]
    elif isinstance(content, list):
        parts = content
    else:
        raise RecordError(f"assistant content must be a string or a list, got {type(content).__name__}")
    for part in parts:
        if isinstance(part, str):
            part = {"type": "text", "text": part}
        if not isinstance(part, dict):
            raise RecordError(f"content part must be an object, got {type(part).__name__}")
        kind = part.get("type")
        if kind == "reasoning":
            redacted = bool(part.get("redacted", False))
            text = part.get("reasoning")
            if text is not None and not isinstance(text, str):
                raise RecordError("'reasoning' part: 'reasoning' must be a string")
            segments.append(Segment("reasoning", "" if redacted else (text or ""), "assistant", redacted))
            summary = part.get("summary")
            if isinstance(summary, str) and summary.strip():
                segments.append(Segment("reasoning_summary", summary, "assistant"))
            elif isinstance(summary, list):  # OpenAI Responses: [{"type":"summary_text","text":…}]
                joined = "\n".join(t for t in (_part_text(s) for s in summary) if t)
                if joined.strip():
                    segments.append(Segment("reasoning_summary", joined, "assistant"))
        elif kind == "thinking":
            text = part.get("thinking")
            if not isinstance(text, str):
                raise RecordError("'thinking' part: 'thinking' must be a string")
            segments.append(Segment("reasoning", text, "assistant"))
        elif kind == "redacted_thinking":
            segments.append(Segment("reasoning", "", "assistant", True))
        else:
            text = _part_text(part)
            if text is not None:
                for seg in split_think(text):
                    seg.role = "assistant"
                    segments.append(seg)
    return segments


def segments_from_messages(messages: Any) -> list[Segment]:
    """Segments of a chat transcript (OpenAI, Anthropic, Inspect, DeepSeek/vLLM shapes)."""
    if not isinstance(messages, list):
        raise RecordError("'messages' must be a list")
    segments: list[Segment] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise RecordError(f"message {i} must be an object")
        role = message.get("role")
        if not isinstance(role, str):
            raise RecordError(f"message {i} has no 'role'")
        if role == "assistant" or role == "model":
            segments.extend(_assistant_segments(message))
            continue
        kind = _ROLE_KINDS.get(role)
        if kind is None:
            raise RecordError(f"message {i}: unknown role {role!r}")
        content = message.get("content")
        if isinstance(content, list):
            text = "\n".join(t for t in (_part_text(p) for p in content) if t)
        elif isinstance(content, str) or content is None:
            text = content or ""
        else:
            raise RecordError(f"message {i}: content must be a string or a list")
        if text.strip():
            segments.append(Segment(kind, text, role))
    return segments


def record_from_json(rec: Any) -> Record:
    """Validate one generic-JSONL record (see the README for the schema)."""
    if not isinstance(rec, dict):
        raise RecordError(f"expected a JSON object, got {type(rec).__name__}")
    metadata = rec.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise RecordError("'metadata' must be an object")
    reasoning, output, messages = rec.get("reasoning"), rec.get("output"), rec.get("messages")
    if messages is not None and reasoning is not None:
        raise RecordError("give either 'reasoning' (+ 'output') or 'messages', not both")
    if messages is not None:
        segments = segments_from_messages(messages)
    elif reasoning is not None:
        if not isinstance(reasoning, str):
            raise RecordError("'reasoning' must be a string")
        segments = [Segment("reasoning", reasoning, "assistant")]
        if output is not None:
            if not isinstance(output, str):
                raise RecordError("'output' must be a string")
            segments.extend(Segment(s.kind, s.text, "assistant") for s in split_think(output))
    elif output is not None:
        if not isinstance(output, str):
            raise RecordError("'output' must be a string")
        segments = [Segment(s.kind, s.text, "assistant") for s in split_think(output)]
    else:
        raise RecordError("no text: give 'reasoning' (+ optional 'output') or 'messages'")
    return Record(
        id=_opt_str(rec, "id"),
        run=_opt_str(rec, "run"),
        step=_opt_int(rec, "step"),
        environment=_opt_str(rec, "environment"),
        epoch=_opt_int(rec, "epoch"),
        covert_action=_opt_bool(rec, "covert_action"),
        score=_opt_float(rec, "score"),
        metadata=metadata,
        segments=segments,
    )


# --------------------------------------------------------------------------------------------
# Readers: each yields (Record | RecordError, line, entry) and knows its own progress
# --------------------------------------------------------------------------------------------
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


def _problem(rec: Record) -> str | None:
    """Why a parsed record cannot be stored, or None."""
    if rec.run is None or rec.step is None:
        missing = [n for n, v in (("run", rec.run), ("step", rec.step)) if v is None]
        return f"no {' and '.join(missing)} (set it in the record or pass --{missing[0]})"
    if not any(seg.text.strip() or seg.redacted for seg in rec.segments):
        return "no text in any segment"
    return None


def _is_gzip(fh: io.BufferedReader) -> bool:
    head = fh.peek(2)[:2]
    return head == b"\x1f\x8b"


def _read_text(path: Path, progress: _Progress, defaults: dict[str, Any]) -> Iterator[tuple[Record | RecordError, int | None, str | None]]:
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


def _read_inspect(path: Path, progress: _Progress, defaults: dict[str, Any]) -> Iterator[tuple[Record | RecordError, int | None, str | None]]:
    from analytics import inspect_logs

    yield from inspect_logs.read_inspect_log(path, progress, defaults)


_READERS = {"text": _read_text, "inspect": _read_inspect}


# --------------------------------------------------------------------------------------------
# Hashing and staging
# --------------------------------------------------------------------------------------------
def content_hash(rec: Record, metadata_json: str | None = None) -> str:
    """A stable hash of everything a record says (not where it came from, not its id)."""
    h = hashlib.blake2b(digest_size=16)
    if metadata_json is None:
        metadata_json = _metadata_json(rec.metadata)
    head = f"{rec.run}\x1f{rec.step}\x1f{rec.environment}\x1f{rec.epoch}\x1f{rec.covert_action}\x1f{rec.score}\x1f{metadata_json}"
    h.update(head.encode("utf-8", "surrogatepass"))
    for seg in rec.segments:
        h.update(f"\x1e{seg.kind}\x1f{seg.role}\x1f{int(seg.redacted)}\x1f".encode())
        h.update(seg.text.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def canonical_json(value: Any) -> str:
    """The one canonical JSON text of a metadata object (sorted keys, compact, UTF-8): stored in
    the store and hashed, so every path that writes transcripts must use it."""
    import orjson

    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode("utf-8")
    except TypeError:  # e.g. an integer beyond 64 bits: the standard library keeps it exact
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _metadata_json(metadata: dict[str, Any] | None) -> str | None:
    return None if metadata is None else canonical_json(metadata)


class _Columns:
    """Records in columnar form, keyed by a local ``seq``; becomes two Arrow tables."""

    T_COLUMNS = ("seq", "id", "run", "step", "environment", "epoch", "source_file", "source_line",
                 "source_entry", "content_hash", "covert_action", "score", "metadata")
    S_COLUMNS = ("seq", "ordinal", "role", "kind", "text", "redacted")

    def __init__(self) -> None:
        self.t: dict[str, list] = {k: [] for k in self.T_COLUMNS}
        self.s: dict[str, list] = {k: [] for k in self.S_COLUMNS}

    def __len__(self) -> int:
        return len(self.t["seq"])

    def add(self, rec: Record, source_file: str) -> None:
        metadata_json = _metadata_json(rec.metadata)
        digest = content_hash(rec, metadata_json)
        seq = len(self.t["seq"])
        t = self.t
        t["seq"].append(seq)
        t["id"].append(rec.id or f"h:{digest[:16]}")
        t["run"].append(rec.run)
        t["step"].append(rec.step)
        t["environment"].append(rec.environment)
        t["epoch"].append(rec.epoch)
        t["source_file"].append(source_file)
        t["source_line"].append(rec.line)
        t["source_entry"].append(rec.entry)
        t["content_hash"].append(digest)
        t["covert_action"].append(rec.covert_action)
        t["score"].append(rec.score)
        t["metadata"].append(metadata_json)
        s = self.s
        for ordinal, seg in enumerate(rec.segments):
            s["seq"].append(seq)
            s["ordinal"].append(ordinal)
            s["role"].append(seg.role)
            s["kind"].append(seg.kind)
            s["text"].append(seg.text)
            s["redacted"].append(seg.redacted)

    def to_arrow(self):
        import pyarrow as pa

        t_types = {"seq": pa.int64(), "step": pa.int64(), "epoch": pa.int32(), "source_line": pa.int64(),
                   "covert_action": pa.bool_(), "score": pa.float64()}
        s_types = {"seq": pa.int64(), "ordinal": pa.int32(), "redacted": pa.bool_()}
        transcripts = pa.table({k: _arrow(v, t_types.get(k, pa.string())) for k, v in self.t.items()})
        segments = pa.table({k: _arrow(v, s_types.get(k, pa.string())) for k, v in self.s.items()})
        return transcripts, segments


class _Writer:
    """Stages Arrow batches in temp tables (``ingest_stage_create``), numbering them with fresh pks.

    DuckDB spills temp tables to disk beyond its memory limit, so memory stays flat however large
    the file; the store itself changes only in ``ingest_finish``'s single transaction.
    """

    def __init__(self, store: Store):
        self.store = store
        self.start_pk = self.next_pk = store.rows("select coalesce(max(pk), 0) from transcripts")[0][0]

    def append(self, transcripts, segments) -> None:
        if transcripts.num_rows == 0:
            return
        con = self.store.con
        con.register("_batch_t", transcripts)
        con.register("_batch_s", segments)
        try:
            self.store.script(load_sql("ingest_append"), {"base": self.next_pk})
        finally:
            con.unregister("_batch_t")
            con.unregister("_batch_s")
        self.next_pk += transcripts.num_rows


def _arrow(values: list, type_):
    """Python list → Arrow array of ``type_``. Inferring first and casting is ~15× faster for
    strings than ``pa.array(values, type=pa.string())`` (pyarrow 26)."""
    import pyarrow as pa

    array = pa.array(values)
    return array if array.type == type_ else array.cast(type_)


# --------------------------------------------------------------------------------------------
# The ingest itself
# --------------------------------------------------------------------------------------------
def ingest_file(
    store: Store,
    path: str | os.PathLike[str],
    *,
    format: str = "auto",
    run: str | None = None,
    step: int | None = None,
    environment: str | None = None,
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> FileResult:
    """Ingest one file atomically. Returns counts; bad records are listed in ``problems``.

    Without ``skip_bad`` a file with any bad record is rolled back whole (``committed`` False).
    """
    path = Path(path)
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r} (choose from {', '.join(FORMATS)})")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    fmt = detect_format(path) if format == "auto" else format
    if fmt == "text" and (run is None or step is None):
        raise InputError(f"{path}: plain-text transcripts need --run and --step")
    result = FileResult(str(path), fmt)
    defaults = {"run": run, "step": step, "environment": environment}
    store.script(load_sql("ingest_stage_create"))
    try:
        _stage_file(store, path, result, _READERS.get(fmt), defaults, progress,
                    default_workers() if workers is None else workers)
        if result.problems and not skip_bad:
            return result
        with store.atomic() as con:
            result.added, result.duplicates = store.script(load_sql("ingest_finish"))[0]
            if result.problems:
                con.executemany("insert into rejects (file, line, entry, reason) values (?, ?, ?, ?)",
                                [[str(path), ln, ent, reason] for ln, ent, reason in result.bad])
            con.execute("insert into ingested_files (file, format, added, duplicates, rejected) "
                        "values (?, ?, ?, ?, ?)",
                        [str(path), fmt, result.added, result.duplicates, result.rejected])
        result.committed = True
        return result
    finally:
        store.script(load_sql("ingest_stage_drop"))


def default_workers() -> int:
    """Parser processes for JSONL: one per core, at most 4 (the store insert is the other stage)."""
    return max(1, min(4, os.cpu_count() or 1))


PARALLEL_MIN_BYTES = 3 * CHUNK_BYTES


def _map_chunks(chunks: Iterator[tuple[bytes, int]], defaults: dict[str, Any], workers: int, path: Path):
    """``parse_jsonl_chunk`` over ``chunks``, in order; in worker processes for big files.

    At most ``2 * workers`` chunks are in flight, so memory stays bounded whatever the file size.
    Small files are parsed in-process (starting processes would cost more than it saves).
    """
    if workers <= 1 or os.path.getsize(path) < PARALLEL_MIN_BYTES:
        for data, first_line in chunks:
            yield parse_jsonl_chunk(data, first_line, defaults)
        return
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    # "spawn": the parent holds DuckDB's threads, and forking a threaded process is unsafe
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque = deque()
        try:
            for data, first_line in chunks:
                pending.append(pool.submit(parse_jsonl_chunk, data, first_line, defaults))
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def _stage_file(store: Store, path: Path, result: FileResult, reader, defaults: dict[str, Any],
                progress: Callable[[int], None] | None, workers: int) -> None:
    """Parse and stage every record of ``path``; record bad ones and id conflicts in ``result``."""
    bad: list[tuple[int | None, str | None, str]] = []
    writer = _Writer(store)
    if reader is None:  # JSONL: chunks parsed in worker processes, appended in order
        chunk_defaults = dict(defaults, source_file=str(path))
        chunks = _jsonl_chunks(path, _Progress(progress))
        for transcripts, segments, chunk_bad in _map_chunks(chunks, chunk_defaults, workers, path):
            bad.extend(chunk_bad)
            writer.append(transcripts, segments)
    else:
        columns = _Columns()
        for item, line, entry in reader(path, _Progress(progress), defaults):
            if isinstance(item, RecordError):
                bad.append((line, entry, str(item)))
                continue
            item.line, item.entry = line, entry or item.entry
            problem = _problem(item)
            if problem:
                bad.append((line, entry, problem))
                continue
            columns.add(item, str(path))
            if len(columns) >= BATCH_RECORDS:
                writer.append(*columns.to_arrow())
                columns = _Columns()
        writer.append(*columns.to_arrow())

    # id conflicts (same (run, id), different content) within the file and against the store
    bad.extend(tuple(row) for row in store.script(load_sql("ingest_conflicts")))
    bad.sort(key=lambda b: (b[0] or 0, b[1] or ""))
    result.bad = bad
    result.rejected = len(bad)
    result.problems = [f"{_where(path, ln, ent)}: {reason}" for ln, ent, reason in bad]


def _where(path: Path, line: int | None, entry: str | None) -> str:
    if line is not None:
        return f"{path}:{line}"
    return f"{path} [{entry}]" if entry else str(path)


def ingest_paths(
    store: Store,
    paths: Iterable[str | os.PathLike[str]],
    *,
    format: str = "auto",
    run: str | None = None,
    step: int | None = None,
    environment: str | None = None,
    skip_bad: bool = False,
    on_file: Callable[[FileResult], None] | None = None,
    progress_factory: Callable[[Path], Callable[[int], None]] | None = None,
    count_terms: bool = True,
    workers: int | None = None,
) -> list[FileResult]:
    """Ingest files and directories; each file atomically. Raises :class:`RejectedRecords`
    at the end if any file was rejected (the other files are stored)."""
    # DuckDB's buffer pool would otherwise grow with the file (up to 80% of RAM by default)
    store.con.execute("set memory_limit = $limit", {"limit": os.environ.get("COTWATCH_INGEST_MEMORY", INGEST_MEMORY)})
    try:
        results = _ingest_each(store, paths, format=format, run=run, step=step, environment=environment,
                               skip_bad=skip_bad, on_file=on_file, progress_factory=progress_factory,
                               workers=workers)
    finally:
        store.con.execute("reset memory_limit")
    if count_terms and any(r.added for r in results):
        from analytics import termcounts

        termcounts.materialize(store)
    rejected_files = [r for r in results if not r.committed]
    if rejected_files:
        problems = [p for r in rejected_files for p in r.problems]
        raise RejectedRecords(
            f"{len(rejected_files)} file(s) rejected with {len(problems)} bad record(s); "
            "nothing from them was stored (use --skip-bad to store the good records)",
            problems,
        )
    return results


def _ingest_each(store: Store, paths, *, on_file, progress_factory, **options) -> list[FileResult]:
    results = []
    for path in iter_input_files(paths):
        progress = progress_factory(path) if progress_factory else None
        res = ingest_file(store, path, progress=progress, **options)
        results.append(res)
        if on_file:
            on_file(res)
    return results
