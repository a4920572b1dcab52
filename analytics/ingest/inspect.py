"""Read Inspect AI logs (``.eval`` and ``.json``) through inspect_ai's own API.

Mapping (documented in the README):

- run = ``--run``, else the task name; step = ``--step``, else ``--step-from`` (``metadata:KEY``,
  ``task_arg:KEY`` or ``path:REGEX``), else the eval metadata key ``step``
  (``inspect eval ... --metadata step=1200``); environment = ``--environment``, else the task name;
- transcript id = ``<eval_id>/<sample id>/<epoch>`` (unique even when many logs of one task go
  into one run); epoch = the sample's epoch; ``metadata`` keeps ``sample_id``, ``eval_id``,
  ``task``, ``model``, ``log_status``, the sample's own metadata and every score;
- every ``ContentReasoning`` block becomes a ``reasoning`` segment (``redacted`` kept, the
  encrypted text itself not stored), its ``summary`` a ``reasoning_summary`` segment;
  ``<think>`` in text becomes reasoning too; other messages become user/system/tool segments;
- ``score`` = the sample's single score as a float (``C``/``I`` → 1/0) when it has exactly one;
  ``covert_action`` = the sample metadata key ``covert_action`` when it is a boolean.

Samples are streamed one at a time (``read_eval_log_samples``) with attachments resolved, and
logs whose status is ``error`` or ``cancelled`` are still read for the samples they hold.

Before inspect_ai reads anything, :func:`check_log` bounds what it will have to hold: every entry
of an ``.eval`` archive is checked in the archive's directory (uncompressed size at most
``limits.max_entry_bytes``, compression ratio at most ``limits.max_ratio``), then decompressed
once from its own compressed bytes in pieces of 1 MB, stopping at the first byte beyond its
declared size (a zip may lie about sizes, and inspect_ai inflates whole streams whatever they
declare) and checking its size, checksum, UTF-8, nesting depth, repeated keys and number of JSON
values; a ``.json`` log is checked for size, UTF-8, nesting depth, repeated keys and values as a
whole. Any refusal is one line naming
the file and the entry.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cotwatch.analytics.errors import InputError
from cotwatch.analytics.ingest.jsonl import MB, Limits, scan_problem
from cotwatch.analytics.ingest.records import INT32, Record, RecordError, Segment, _opt_int, split_think

#: Entries smaller than this are never refused for their compression ratio (they cannot hurt).
RATIO_MIN_BYTES = 1 * MB
_ZIP_ZSTD = 93


def _content_segments(content: Any, role: str, kind: str):

    if isinstance(content, str):
        if role == "assistant":
            return [Segment(s.kind, s.text, role) for s in split_think(content)]
        return [Segment(kind, content, role)] if content.strip() else []
    segments = []
    for part in content or []:
        ptype = getattr(part, "type", None)
        if ptype == "reasoning":
            redacted = bool(getattr(part, "redacted", False))
            segments.append(Segment("reasoning", "" if redacted else (part.reasoning or ""), role, redacted))
            summary = getattr(part, "summary", None)
            if summary and summary.strip():
                segments.append(Segment("reasoning_summary", summary, role))
        elif ptype == "text":
            text = part.text or ""
            if role == "assistant":
                segments.extend(Segment(s.kind, s.text, role) for s in split_think(text))
            elif text.strip():
                segments.append(Segment(kind, text, role))
    return segments


_KIND_OF_ROLE = {"system": "system", "user": "user", "tool": "tool", "assistant": "output"}


def sample_segments(sample: Any) -> list:
    """Every message of an Inspect sample as cotwatch segments, reasoning included."""
    segments = []
    for message in sample.messages or []:
        role = getattr(message, "role", "user")
        segments.extend(_content_segments(message.content, role, _KIND_OF_ROLE.get(role, "user")))
    return segments


def _score_fields(sample: Any) -> tuple[float | None, dict[str, Any]]:
    scores = getattr(sample, "scores", None) or {}
    out: dict[str, Any] = {}
    for name, score in scores.items():
        out[name] = {
            "value": score.value,
            "answer": score.answer,
            "explanation": score.explanation,
        }
    single = None
    if len(scores) == 1:
        from inspect_ai.scorer import value_to_float

        value = next(iter(scores.values())).value
        if isinstance(value, (int, float, str)) and not isinstance(value, bool):
            try:
                single = float(value_to_float()(value))
            except (TypeError, ValueError, OverflowError):
                single = None
            if single is not None and not math.isfinite(single):
                single = None  # a scorer's NaN or infinity: no score (the value stays in metadata.scores)
    return single, out


def _samples(path: Path) -> Iterator[Any]:
    """Every sample of the log, one at a time.

    ``.eval`` archives are streamed sample by sample from their summaries (``read_eval_log_samples``
    silently skips samples whose epoch disagrees with the header); ``.json`` logs are one JSON
    document that inspect_ai parses whole anyway.
    """
    from inspect_ai.log import (
        read_eval_log,
        read_eval_log_sample,
        read_eval_log_sample_summaries,
    )

    if path.suffix.lower() == ".json":
        yield from read_eval_log(str(path), resolve_attachments=True).samples or []
        return
    for summary in read_eval_log_sample_summaries(str(path)):
        yield read_eval_log_sample(str(path), id=summary.id, epoch=summary.epoch, resolve_attachments=True)


def check_log(path: Path, limits: Limits) -> None:
    """Refuse a log that would make inspect_ai hold more than the limits allow (see the module
    docstring). Raises InputError with one line."""
    from cotwatch.analytics.ingest.jsonl import LineChunk, scan

    if path.suffix.lower() != ".eval":
        size = path.stat().st_size
        if size > limits.max_entry_bytes:
            raise InputError(f"{path}: log of {size / MB:.0f} MB is larger than {limits.max_entry_bytes / MB:g} MB "
                             "(raise --max-entry-mb to read it)")
        data = path.read_bytes()
        _check_scanned(scan(LineChunk(data, 1), limits.max_depth, whole=True, max_values=limits.document_values),
                       data, path, None, limits)
        return
    import zipfile

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable Inspect log (not a zip archive: {exc})") from None
    with archive, open(path, "rb") as raw:
        # Python's zipfile reads an archive with bytes before its first entry by shifting every
        # offset; inspect_ai's reader does not, so the two would read different entries
        end = zipfile._EndRecData(raw)
        if end is None or end[zipfile._ECD_LOCATION] - end[zipfile._ECD_SIZE] != end[zipfile._ECD_OFFSET]:
            raise InputError(f"{path}: not a readable Inspect log (bytes before or between its zip records: "
                             "other zip readers would read other entries)")
        for info in archive.infolist():
            if info.is_dir():
                continue
            if info.file_size > limits.max_entry_bytes:
                raise InputError(f"{path}: entry {info.filename} would decompress to {info.file_size / MB:.0f} MB, more "
                                 f"than {limits.max_entry_bytes / MB:g} MB (raise --max-entry-mb to read it)")
            if info.file_size >= RATIO_MIN_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise InputError(f"{path}: entry {info.filename} compresses {info.file_size / max(info.compress_size, 1):.0f}:1, "
                                 f"more than {limits.max_ratio:g}:1 (a decompression bomb? raise --max-ratio to read it)")
            data = _bounded_entry(raw, info, path)
            if info.filename.endswith(".json"):
                _check_scanned(scan(LineChunk(data, 1), limits.max_depth, whole=True,
                                    max_values=limits.document_values), data, path, info.filename, limits)


def _bounded_entry(raw, info, path: Path) -> bytes:
    """The entry's bytes, decompressed from its own compressed bytes in 1 MB pieces, refused at
    the first byte beyond its declared size. inspect_ai inflates an entry's whole stream later,
    whatever the directory declares, so the stream itself must end at the declared size: the
    stdlib's reader stops there and would hide a stream that goes on (a 5 KB entry inflating to
    2 GB). Only the methods Inspect writes are read: stored, deflate and zstd."""
    import io
    import struct
    import zipfile
    import zlib

    limit = info.file_size
    # no method Inspect writes makes data larger by more than a few bytes per block (stored: none),
    # so the compressed bytes read here stay within the entry limit the caller checked
    slack = 0 if info.compress_type == zipfile.ZIP_STORED else limit // 100 + 4096
    if info.compress_size > limit + slack:
        raise InputError(f"{path}: entry {info.filename} declares {info.compress_size:,} compressed bytes for "
                         f"{limit:,} (a corrupt or hostile archive)")
    raw.seek(info.header_offset)
    header = raw.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise InputError(f"{path}: entry {info.filename}: corrupt archive (no local header)")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    raw.seek(info.header_offset + 30 + name_len + extra_len)
    compressed = raw.read(info.compress_size)
    if len(compressed) != info.compress_size:
        raise InputError(f"{path}: entry {info.filename}: truncated archive")
    if info.compress_type == zipfile.ZIP_STORED:
        read = io.BytesIO(compressed).read
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        source = io.BytesIO(compressed)  # fed 64 KB at a time: unconsumed_tail copies what it holds
        pending = b""

        def read(size: int) -> bytes:
            nonlocal pending
            out = []
            while size > 0 and not inflate.eof:
                if not pending:
                    pending = source.read(64 << 10)
                    if not pending:
                        break
                piece = inflate.decompress(pending, size)
                pending = inflate.unconsumed_tail
                out.append(piece)
                size -= len(piece)
            return b"".join(out)
    elif info.compress_type == _ZIP_ZSTD:
        import zstandard

        read = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(compressed), read_across_frames=True).read
    else:
        raise InputError(f"{path}: entry {info.filename}: compression method {info.compress_type} is not one "
                         "Inspect writes (stored, deflate, zstd)")
    del compressed
    pieces, total = [], 0
    try:
        while True:
            piece = read(MB)
            if not piece:
                break
            total += len(piece)
            if total > limit:
                raise InputError(f"{path}: entry {info.filename} decompresses beyond its declared {limit:,} bytes "
                                 "(a corrupt or hostile archive)")
            pieces.append(piece)
    except InputError:
        raise
    except Exception as exc:  # zstd/zlib errors
        raise InputError(f"{path}: entry {info.filename}: cannot decompress: {str(exc).splitlines()[0][:200]}") from None
    data = b"".join(pieces)
    if len(data) != limit or zlib.crc32(data) != info.CRC:
        raise InputError(f"{path}: entry {info.filename}: decompresses to {len(data):,} bytes that do not match the "
                         f"declared size ({limit:,}) and checksum (a corrupt or hostile archive)")
    return data


def _check_scanned(chunk, data: bytes, path: Path, entry: str | None, limits: Limits) -> None:
    """Refuse a log document or entry the scanner refused: not UTF-8, too deep, a repeated key
    (inspect_ai's parser would keep the last value silently; JSONL refuses it), too many values."""
    if not len(chunk.status):
        return
    status = int(chunk.status[0])
    problem = scan_problem(status, int(chunk.detail[0]), data, limits, document=True)
    if status == 5:  # keys written with escapes (or NaN, which Inspect writes): judge keys decoded
        problem = _repeated_key(data)
    if problem:
        raise InputError(f"{path}: entry {entry}: {problem}" if entry else f"{path}: {problem}")


def _repeated_key(data: bytes) -> str | None:
    """Whether a document repeats a key once keys are decoded (the scanner compares them as
    written); its values limit has bounded what this parse builds. Invalid JSON is left to
    inspect_ai, whose error then names the log."""
    import json

    from cotwatch.analytics.ingest.records import RecordError, _no_repeated_keys

    def keys_only(pairs):
        _no_repeated_keys(pairs)  # raises on a repeated key; the object itself is not kept

    try:
        json.loads(data, object_pairs_hook=keys_only)
    except RecordError as exc:
        return str(exc)
    except (ValueError, RecursionError):
        return None
    return None


def _log_step(path: Path, ev, defaults: dict[str, Any], step_from) -> int:
    """The step of a log: --step, else --step-from (metadata:KEY / task_arg:KEY), else the eval
    metadata key ``step``."""
    step = defaults.get("step")
    if step is not None:
        return step
    if step_from is not None:
        source = ev.metadata if step_from.source == "metadata" else getattr(ev, "task_args", None)
        what = "eval metadata" if step_from.source == "metadata" else "task argument"
        if not source or step_from.key not in source or source[step_from.key] is None:
            raise InputError(f"{path}: no {what} {step_from.key!r} to take the step from")
        value = source[step_from.key]
        label = f"{path}: {what} {step_from.key!r} ({value!r})"
    else:
        value = (ev.metadata or {}).get("step")
        if value is None:
            raise InputError(f"{path}: no step for this log (pass --step or --step-from, or run the eval with "
                             "--metadata step=N)")
        label = f"{path}: eval metadata 'step' ({value!r})"
    if isinstance(value, bool):
        raise InputError(f"{label} must be an integer")
    try:
        step = int(str(value).strip())
    except ValueError:
        raise InputError(f"{label} must be an integer") from None
    if not -(1 << 63) <= step < (1 << 63):
        raise InputError(f"{label} is out of range")
    return step


def read_inspect_log(path: Path, progress: Callable[[int], None] | None, defaults: dict[str, Any], *,
                     limits: Limits | None = None, step_from=None) -> Iterator[tuple]:
    """Yield ``(Record | RecordError, None, entry)`` for every sample of an Inspect log.

    ``defaults`` holds the ``--run/--step/--environment`` flags, which win over the log's own;
    ``step_from``: a ``metadata:KEY`` / ``task_arg:KEY`` StepFrom (``path:REGEX`` is resolved by
    the caller into ``defaults["step"]``).
    """

    try:
        from inspect_ai.log import read_eval_log
    except ImportError as exc:  # pragma: no cover - inspect-ai is a hard dependency
        raise InputError("reading Inspect logs needs inspect-ai: pip install inspect-ai") from exc

    check_log(path, limits or Limits())
    try:
        header = read_eval_log(str(path), header_only=True)
    except Exception as exc:  # inspect raises many types for non-logs
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: not a readable Inspect log ({reason[:200]})") from exc

    ev = header.eval
    task = ev.task
    step = _log_step(path, ev, defaults, step_from)
    base_meta = {
        "eval_id": ev.eval_id,
        "task": task,
        "model": ev.model,
        "log_status": header.status,
    }
    size = os.path.getsize(path)
    try:
        for sample in _samples(path):
            entry = f"sample {sample.id} epoch {sample.epoch}"
            try:
                score, scores = _score_fields(sample)
                meta = dict(base_meta, sample_id=sample.id)
                if sample.metadata:
                    meta["sample_metadata"] = sample.metadata
                if scores:
                    meta["scores"] = scores
                if getattr(sample, "error", None) is not None:
                    meta["sample_error"] = str(getattr(sample.error, "message", sample.error))
                covert = (sample.metadata or {}).get("covert_action")
                record = Record(
                    id=f"{ev.eval_id}/{sample.id}/{sample.epoch}",
                    run=defaults.get("run") or task,
                    step=step,
                    environment=defaults.get("environment") or task,
                    # the same bounds as a JSONL record's fields (a bad value is a bad record)
                    epoch=_opt_int({"epoch": sample.epoch}, "epoch", INT32),
                    covert_action=covert if isinstance(covert, bool) else None,
                    score=score,
                    metadata=meta,
                    segments=sample_segments(sample),
                    entry=entry,
                )
                yield record, None, entry
            except RecordError as exc:
                yield exc, None, entry
            except Exception as exc:  # a malformed sample is a bad record, not a crash
                yield RecordError(f"unreadable sample: {exc}"), None, entry
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read samples: {str(exc).splitlines()[0][:200]}") from exc
    if progress:
        progress(size)
