"""Records: what every input format becomes, how it is validated, mapped and staged.

A :class:`Record` is one transcript with ordered :class:`Segment` s. Readers that do not go
through the compiled JSONL path (Inspect logs, plain text, Parquet shards, and JSONL records of
rare shapes) produce records here; :func:`record_from_json` is the one definition of the generic
JSONL schema (the compiled path in ``sql/ingest_jsonl_*.sql`` takes exactly the shapes it can
express and hands every other line to it).

A record's identity is its *content hash*, defined once, in SQL (``sql/ingest_hash.sql``, over
the staged columns), so records from every path hash alike; :func:`content_hashes` runs that SQL
for callers without a store (the shard jobs). :func:`canonical_json` is the one text of a
metadata object. Public API for other packages: ``Record``, ``Segment``, ``RecordError``,
``record_from_json``, ``FieldMap``, ``canonical_json``, ``records_table``, ``content_hashes``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_THINK_RE = re.compile(r"<think>(.*?)(?:</think>|\Z)", re.S)

#: Every character ``str.strip()`` removes, and a regular expression (RE2) matching any other
#: character: the SQL path's test for "not blank", exactly Python's ``bool(text.strip())``.
PYTHON_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                     "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")  # tests check it is complete
NONBLANK_PATTERN = "[^" + "".join(f"\\x{{{ord(c):x}}}" for c in PYTHON_WHITESPACE) + "]"

INT64 = (-(1 << 63), (1 << 63) - 1)
INT32 = (-(1 << 31), (1 << 31) - 1)

#: The fields of a generic JSONL record (README, "Input formats").
RECORD_FIELDS = ("id", "run", "step", "environment", "epoch", "covert_action", "score", "metadata",
                 "reasoning", "output", "messages")


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


# --------------------------------------------------------------------------------------------
# Field mapping (--field SOURCE=TARGET)
# --------------------------------------------------------------------------------------------
class FieldMap:
    """``--field SOURCE=TARGET`` rules: the record's top-level key SOURCE is read as TARGET, a
    record field (``reasoning``, ``step``, ...) or ``metadata.KEY`` (added to the metadata object).

    >>> m = FieldMap.parse(["text=reasoning", "label=metadata.label"])
    >>> m.apply({"text": "hmm", "label": "aligned"})
    {'reasoning': 'hmm', 'metadata': {'label': 'aligned'}}
    """

    def __init__(self, fields: dict[str, str] | None = None, metadata: dict[str, str] | None = None):
        self.fields = dict(fields or {})      # target field -> source key
        self.metadata = dict(metadata or {})  # metadata key -> source key

    @classmethod
    def parse(cls, rules: list[str] | tuple[str, ...] | None) -> "FieldMap":
        from cotwatch.analytics.errors import UsageError

        fields: dict[str, str] = {}
        metadata: dict[str, str] = {}
        for rule in rules or ():
            source, sep, target = rule.partition("=")
            source, target = source.strip(), target.strip()
            if not sep or not source or not target:
                raise UsageError(f"--field {rule!r}: expected SOURCE=TARGET, e.g. text=reasoning")
            if any(c in '"\\' or ord(c) < 0x20 for c in source + target):
                raise UsageError(f"--field {rule!r}: quotes, backslashes and control characters are not supported")
            if target.startswith("metadata."):
                key = target.removeprefix("metadata.")
                if not key or key in metadata:
                    raise UsageError(f"--field {rule!r}: give each metadata key once, as metadata.KEY")
                metadata[key] = source
            elif target in RECORD_FIELDS and target != "metadata":
                if target in fields:
                    raise UsageError(f"--field {rule!r}: {target} is mapped twice")
                fields[target] = source
            else:
                raise UsageError(f"--field {rule!r}: the target must be one of "
                                 f"{', '.join(f for f in RECORD_FIELDS if f != 'metadata')} or metadata.KEY")
        return cls(fields, metadata)

    def __bool__(self) -> bool:
        return bool(self.fields or self.metadata)

    def source_of(self, field: str) -> str:
        """The top-level key read for ``field``."""
        return self.fields.get(field, field)

    def apply(self, obj: Any) -> Any:
        """A record dict with the mapping applied (mapped values replace the target; the source
        keys are not kept). Non-objects are returned as they are (the validator rejects them)."""
        if not self or not isinstance(obj, dict):
            return obj
        out = {k: v for k, v in obj.items() if k not in self.fields.values() and k not in self.metadata.values()
               and k not in self.fields}
        for target, source in self.fields.items():
            if source in obj:
                out[target] = obj[source]
        if self.metadata:
            meta = obj.get("metadata")
            extra = {key: obj[source] for key, source in self.metadata.items() if source in obj}
            if extra:
                if meta is None:
                    meta = {}
                if isinstance(meta, dict):
                    meta = {**meta, **extra}
                out["metadata"] = meta
        return out


# --------------------------------------------------------------------------------------------
# Field validation shared by every format
# --------------------------------------------------------------------------------------------
def _short(value: Any) -> str:
    try:
        return json.dumps(value)[:40]
    except (TypeError, ValueError):
        return type(value).__name__


def _opt_str(rec: dict, key: str) -> str | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RecordError(f"'{key}' must be a string, got {type(value).__name__}")
    value = str(value)
    return value if value.strip() else None


def _opt_int(rec: dict, key: str, bounds: tuple[int, int] = INT64) -> int | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            value = int(value)
        else:
            raise RecordError(f"'{key}' must be an integer, got {_short(value)}")
    if not bounds[0] <= value <= bounds[1]:
        bits = 64 if bounds == INT64 else 32
        raise RecordError(f"'{key}' is out of range (a signed {bits}-bit integer), got {str(value)[:40]}")
    return value


def _opt_bool(rec: dict, key: str) -> bool | None:
    value = rec.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise RecordError(f"'{key}' must be true, false or null, got {_short(value)}")


def _opt_float(rec: dict, key: str) -> float | None:
    value = rec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecordError(f"'{key}' must be a number or null, got {_short(value)}")
    try:
        value = float(value)
    except OverflowError:
        raise RecordError(f"'{key}' is out of range, got {str(rec.get(key))[:40]}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise RecordError(f"'{key}' must be a finite number, got {value}")
    return value


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


def record_from_json(rec: Any, field_map: FieldMap | None = None) -> Record:
    """Validate one generic-JSONL record (see the README for the schema), after ``field_map``."""
    if field_map:
        rec = field_map.apply(rec)
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
        epoch=_opt_int(rec, "epoch", INT32),
        covert_action=_opt_bool(rec, "covert_action"),
        score=_opt_float(rec, "score"),
        metadata=metadata,
        segments=segments,
    )


def _no_repeated_keys(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise RecordError(f"an object repeats the key {key!r}")
        out[key] = value
    return out


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def parse_json_record(data: bytes, *, check_repeated_keys: bool = False, utf8_checked: bool = False) -> Any:
    """One JSON value from bytes, strictly: valid UTF-8, RFC 8259 (no NaN or Infinity, no number
    that overflows a double, no lone surrogates), integers kept exact. ``check_repeated_keys``:
    refuse objects that repeat a key (decoded). ``utf8_checked``: the bytes are known to be valid
    UTF-8 (the scanner checked them), so they are not decoded twice. Raises RecordError."""
    if utf8_checked:
        text: str | bytes = data
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RecordError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    hook = _no_repeated_keys if check_repeated_keys else None
    try:
        value = json.loads(text, object_pairs_hook=hook, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise RecordError("invalid JSON: nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise RecordError(f"invalid JSON: {exc}") from None
    _check_unicode_value(value)
    return value


def _check_unicode_value(value: Any) -> None:
    """Refuse strings with lone surrogates anywhere in a parsed value (they cannot be stored)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            _check_text(v, "a string")
        elif isinstance(v, dict):
            for k, item in v.items():
                _check_text(k, "a key")
                stack.append(item)
        elif isinstance(v, list):
            stack.extend(v)


def _check_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise RecordError(f"{what} holds a lone surrogate (\\u{ord(bad):04x}), which is not valid Unicode") from None


# --------------------------------------------------------------------------------------------
# Canonical metadata and staging
# --------------------------------------------------------------------------------------------
def canonical_json(value: Any) -> str:
    """The one canonical JSON text of a metadata object (sorted keys, compact, UTF-8): stored in
    the store and hashed, so every path that writes transcripts must use it."""
    import orjson

    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode("utf-8")
    except TypeError:  # e.g. an integer beyond 64 bits: the standard library keeps it exact
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def canonical_json_text(text: str | None) -> str | None:
    """:func:`canonical_json` of a JSON text (None when it cannot be read: the caller rejects)."""
    import orjson

    if text is None:
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            return None
    return canonical_json(value)


TRANSCRIPT_COLUMNS = ("pk", "line", "entry", "id", "run", "step", "environment", "epoch", "covert_action",
                      "score", "metadata")
SEGMENT_COLUMNS = ("pk", "ordinal", "role", "kind", "text", "redacted")


def records_table(items: list[tuple[Record, int]]):
    """Records (each with its local key, e.g. a line number) as the two Arrow tables the staging
    SQL reads: transcripts (``TRANSCRIPT_COLUMNS``, metadata as canonical JSON text) and
    segments (``SEGMENT_COLUMNS``). Raises RecordError (with ``.key``) for a record holding text
    that is not valid Unicode."""
    import pyarrow as pa

    t: dict[str, list] = {k: [] for k in TRANSCRIPT_COLUMNS}
    s: dict[str, list] = {k: [] for k in SEGMENT_COLUMNS}
    for rec, key in items:
        try:
            for text in (rec.id, rec.run, rec.environment, rec.entry):
                if text is not None:
                    _check_text(text, "a field")
            for seg in rec.segments:
                _check_text(seg.text, f"a {seg.kind} segment")
            metadata = None if rec.metadata is None else canonical_json(rec.metadata)
            if metadata is not None:
                _check_text(metadata, "the metadata")
        except RecordError as exc:
            exc.key = key
            raise
        t["pk"].append(key)
        t["line"].append(rec.line)
        t["entry"].append(rec.entry)
        t["id"].append(rec.id)
        t["run"].append(rec.run)
        t["step"].append(rec.step)
        t["environment"].append(rec.environment)
        t["epoch"].append(rec.epoch)
        t["covert_action"].append(rec.covert_action)
        t["score"].append(rec.score)
        t["metadata"].append(metadata)
        for ordinal, seg in enumerate(rec.segments):
            s["pk"].append(key)
            s["ordinal"].append(ordinal)
            s["role"].append(seg.role)
            s["kind"].append(seg.kind)
            s["text"].append(seg.text)
            s["redacted"].append(bool(seg.redacted))
    t_types = {"pk": pa.int64(), "line": pa.int64(), "step": pa.int64(), "epoch": pa.int32(),
               "covert_action": pa.bool_(), "score": pa.float64()}
    s_types = {"pk": pa.int64(), "ordinal": pa.int32(), "redacted": pa.bool_()}
    return (pa.table({k: _arrow(v, t_types.get(k, pa.string())) for k, v in t.items()}),
            pa.table({k: _arrow(v, s_types.get(k, pa.string())) for k, v in s.items()}))


def _arrow(values: list, type_):
    """Python list → Arrow array of ``type_``. Inferring first and casting is ~15× faster for
    strings than ``pa.array(values, type=pa.string())`` (pyarrow 26)."""
    import pyarrow as pa

    if not values:
        return pa.nulls(0, type_)  # (pa.array would import pandas to look at an empty list)
    array = pa.array(values)
    return array if array.type == type_ else array.cast(type_)


def content_hashes(transcripts, segments) -> list[str]:
    """The store's content hash (``sql/ingest_hash.sql``) of records given as the Arrow tables of
    :func:`records_table` (``pk`` is any local key), in the order of ``transcripts``. For callers
    without a store, e.g. shard workers: an in-memory DuckDB runs the very SQL the ingest runs."""
    import duckdb
    from cotwatch.analytics.store.sqlfiles import load_sql

    con = duckdb.connect()
    try:
        con.execute("set enable_progress_bar = false")
        con.execute(load_sql("ingest_hash_macros"))
        if "text_md5" not in segments.column_names:
            import pyarrow as pa

            segments = segments.append_column("text_md5", pa.nulls(segments.num_rows, pa.string()))
        _ct, _cs = transcripts, segments  # noqa: F841 - read by the SQL below (DuckDB replacement scans)
        hashed = con.sql(load_sql("ingest_hash"), params={"nonblank": NONBLANK_PATTERN}).to_arrow_table()
        by_pk = dict(zip(hashed.column("pk").to_pylist(), hashed.column("content_hash").to_pylist()))
        return [by_pk[pk] for pk in transcripts.column("pk").to_pylist()]
    finally:
        con.close()
