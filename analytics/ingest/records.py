"""Records: what every input format becomes, how it is validated, and how it is hashed.

A :class:`Record` is one transcript with ordered :class:`Segment` s. Every reader (JSONL, Inspect,
text, Parquet shards) produces records; :func:`content_hash` and :func:`canonical_json` are the
one definition of a record's identity, shared by ingest and the shard jobs.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

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


def _problem(rec: Record) -> str | None:
    """Why a parsed record cannot be stored, or None."""
    if rec.run is None or rec.step is None:
        missing = [n for n, v in (("run", rec.run), ("step", rec.step)) if v is None]
        return f"no {' and '.join(missing)} (set it in the record or pass --{missing[0]})"
    if not any(seg.text.strip() or seg.redacted for seg in rec.segments):
        return "no text in any segment"
    return None


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


def _arrow(values: list, type_):
    """Python list → Arrow array of ``type_``. Inferring first and casting is ~15× faster for
    strings than ``pa.array(values, type=pa.string())`` (pyarrow 26)."""
    import pyarrow as pa

    array = pa.array(values)
    return array if array.type == type_ else array.cast(type_)
