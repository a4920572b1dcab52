"""Read Inspect AI logs (``.eval`` and ``.json``) through inspect_ai's own API.

Mapping (documented in the README):

- run = ``--run``, else the task name; step = ``--step``, else the eval metadata key ``step``
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
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cotwatch.analytics.errors import InputError
from cotwatch.analytics.ingest.records import Record, RecordError, Segment, split_think


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
            except (TypeError, ValueError):
                single = None
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


def read_inspect_log(path: Path, progress: Callable[[int], None], defaults: dict[str, Any]) -> Iterator[tuple]:
    """Yield ``(Record | RecordError, None, entry)`` for every sample of an Inspect log.

    ``defaults`` holds the ``--run/--step/--environment`` flags, which win over the log's own.
    """

    try:
        from inspect_ai.log import read_eval_log
    except ImportError as exc:  # pragma: no cover - inspect-ai is a hard dependency
        raise InputError("reading Inspect logs needs inspect-ai: pip install inspect-ai") from exc

    try:
        header = read_eval_log(str(path), header_only=True)
    except Exception as exc:  # inspect raises many types for non-logs
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: not a readable Inspect log ({reason[:200]})") from exc

    ev = header.eval
    task = ev.task
    eval_meta = ev.metadata or {}
    step = defaults.get("step")
    if step is None and eval_meta.get("step") is not None:
        step = eval_meta.get("step")
        try:
            step = int(step)
        except (TypeError, ValueError):
            raise InputError(f"{path}: eval metadata 'step' must be an integer, got {step!r}") from None
    if step is None:
        raise InputError(f"{path}: no step for this log (pass --step, or run the eval with --metadata step=N)")
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
                    epoch=sample.epoch,
                    covert_action=covert if isinstance(covert, bool) else None,
                    score=score,
                    metadata=meta,
                    segments=sample_segments(sample),
                    entry=entry,
                )
                yield record, None, entry
            except Exception as exc:  # a malformed sample is a bad record, not a crash
                yield RecordError(f"unreadable sample: {exc}"), None, entry
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read samples: {str(exc).splitlines()[0][:200]}") from exc
    progress(size)
