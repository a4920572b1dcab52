"""Read Inspect Scout's Parquet: transcript databases and scan results (``--format scout``).

Scout keeps transcripts in a *transcript database* (a folder of ``transcripts_*.parquet`` files
plus an ``_index/`` folder; written by ``transcripts_db(...).insert(...)``, e.g. from Inspect logs
or by ``scout import`` from LangSmith, Logfire, Phoenix, Weave, Claude Code...) and the results of
a scan in a *scan folder* (``scans/scan_id=<id>/<scanner>.parquet`` plus ``_scan.json``,
``_summary.json`` and ``_errors.jsonl``). Both are plain Parquet with a documented schema
(``inspect_scout.transcripts_db_schema()``; the result columns of ``scan_results_df``), read here
with pyarrow and DuckDB only: this module never imports inspect_scout, so the core works without
the ``scout`` extra.

**Transcripts** (a Parquet file with ``transcript_id`` and ``messages`` columns) become records,
one transaction per file like every format:

- segments come from the ``messages`` column (a JSON list of chat messages) through the generic
  chat mapping (:func:`cotwatch.analytics.ingest.records.segments_from_messages`): every
  ``reasoning`` part is a ``reasoning`` segment (its ``summary`` a ``reasoning_summary``,
  ``redacted`` kept), ``<think>`` in text too;
- id = ``<eval_id>/<sample id>/<epoch>`` for transcripts Scout read from Inspect logs
  (``source_type`` ``eval_log``: ``source_id``/``task_id``/``task_repeat``) — the id the Inspect
  reader gives the same sample, so the two routes name a transcript alike — else Scout's
  ``transcript_id``; ``--field COLUMN=id`` overrides;
- run / step / environment: a column of that name (directly or through ``--field COLUMN=TARGET``,
  the JSONL field mapping over Scout's columns, which include every flattened metadata key), else
  ``--run`` / ``--step`` / ``--environment``, else — run and environment — the ``task_set`` and —
  step — ``--step-from metadata:KEY`` (the ``eval_metadata`` key, else the column KEY),
  ``--step-from task_arg:KEY`` (``task_args``), else ``eval_metadata.step``;
- epoch = ``task_repeat``; score = ``score`` when it is a number or an Inspect grade (``C``/``I``/
  ``P``/``N``, and only when ``scores`` holds one score); covert_action = a boolean
  ``covert_action`` column, else ``sample_metadata.covert_action``;
- metadata = every other column but the content ones (``messages``, ``events``, ``events_data``,
  ``timelines``), with Scout's JSON-text columns (nested metadata) kept as JSON.

**Scan results** (a Parquet file with ``scanner_name`` and ``transcript_id`` columns) go into
``scout_results`` (view ``scout_results``, migration 0014), one row per result — a scanner's
list of results ("resultset") is expanded item by item — keyed by Scout's result uuid (re-ingesting
adds nothing), with ``transcript_id`` computed as above so results join the store's transcripts
however those were ingested.

In a folder walk, Scout's bookkeeping files (``_scan.json``, ``_summary.json``, ``_errors.jsonl``
of a ``scan_id=`` folder, the ``_index/*.idx`` files of a database) are skipped with that reason.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cotwatch.analytics.errors import InputError, UsageError
from cotwatch.analytics.ingest.jsonl import MB, LineChunk, Limits, scan, scan_problem
from cotwatch.analytics.ingest.records import FieldMap, Record, RecordError, record_from_json
from cotwatch.analytics.ingest.staging import FileIngest, FileResult
from cotwatch.analytics.store.database import Store, registered
from cotwatch.analytics.store.sqlfiles import load_sql

#: Scout's transcript columns holding the content (not metadata).
CONTENT_COLUMNS = ("messages", "events", "events_data", "timelines")
#: Scout's ``source_type`` of transcripts read from Inspect logs.
EVAL_LOG = "eval_log"
#: Inspect's grades (inspect_ai.scorer CORRECT, INCORRECT, PARTIAL, NOANSWER) as numbers.
_GRADES = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
#: Files of a scan folder that are not results.
_SCAN_BOOKKEEPING = {"_scan.json", "_summary.json", "_errors.jsonl"}
#: Result columns read from a scan's Parquet (the heavy input/events columns are left out).
RESULT_COLUMNS = (
    "transcript_id", "transcript_source_type", "transcript_source_id", "transcript_task_set", "transcript_task_id",
    "transcript_task_repeat", "scan_id", "scanner_name", "scanner_version", "scanner_package_version",
    "scanner_params", "uuid", "label", "value", "value_type", "answer", "explanation", "metadata",
    "message_references", "event_references", "scan_error", "scan_total_tokens", "timestamp",
)
#: Rows per batch read from a transcripts file (each holds a whole conversation).
BATCH_ROWS = 64

__all__ = ["bookkeeping_reason", "ingest_scout", "parquet_kind", "read_transcripts", "skip_reason", "transcript_key"]


# --------------------------------------------------------------------------------------------
# What a Parquet file is
# --------------------------------------------------------------------------------------------
def parquet_kind(path: Path) -> str | None:
    """``"transcripts"`` (a Scout transcript database file), ``"results"`` (a scan's results),
    or None (not Parquet, or Parquet of another shape). Reads only the file's footer."""
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 - pyarrow raises several types for files that are not Parquet
        return None
    if "transcript_id" in names and "scanner_name" in names:
        return "results"
    if "transcript_id" in names and "messages" in names:
        return "transcripts"
    return None


def bookkeeping_reason(path: Path) -> str | None:
    """Why a folder walk skips one of Scout's own bookkeeping files (None: not one)."""
    if path.name in _SCAN_BOOKKEEPING and path.parent.name.startswith("scan_id="):
        return f"Scout scan bookkeeping ({path.name}), not transcripts"
    if path.parent.name == "_index" and path.suffix == ".idx":
        return "a Scout transcript database index, not transcripts"
    return None


def skip_reason(path: Path) -> str | None:
    """Why a folder walk skips a ``.parquet`` file (None: Scout transcripts or scan results)."""
    if parquet_kind(path) is None:
        return "a Parquet file that is neither a Scout transcript database nor Scout scan results"
    return None


def transcript_key(source_type: str | None, source_id: str | None, task_id: str | None, task_repeat: Any,
                   transcript_id: str | None) -> str | None:
    """The id cotwatch gives a Scout transcript: the Inspect reader's ``<eval_id>/<sample id>/<epoch>``
    for one read from an Inspect log, else Scout's transcript id."""
    if source_type == EVAL_LOG and source_id and task_id is not None and task_repeat is not None:
        return f"{source_id}/{task_id}/{task_repeat}"
    return transcript_id


# --------------------------------------------------------------------------------------------
# The dispatch `cotwatch ingest` calls (analytics/ingest/loading.py, format "scout")
# --------------------------------------------------------------------------------------------
def ingest_scout(store: Store, path: Path, *, defaults: dict[str, Any], skip_bad: bool = False,
                 field_map: FieldMap | None = None, counter=None, limits: Limits | None = None, step_from=None,
                 progress: Callable[[int], None] | None = None, display: str | None = None) -> FileResult:
    """Ingest one Scout Parquet file, transcripts or scan results, atomically."""
    path = Path(path)
    limits = limits or Limits()
    kind = parquet_kind(path)
    if kind is None:
        raise InputError(f"{path}: not Scout Parquet (a transcript database file has transcript_id and messages "
                         "columns, scan results transcript_id and scanner_name)")
    if kind == "results":
        if field_map:
            raise UsageError(f"{path}: --field maps transcript columns; these are Scout scan results")
        return ingest_scan_results(store, path, skip_bad=skip_bad, progress=progress, display=display)
    ingest = FileIngest(store, path, "scout", defaults=defaults, skip_bad=skip_bad, counter=counter,
                        limits=limits, display=display)
    try:
        ingest.add_records(read_transcripts(path, progress, defaults, field_map=field_map, step_from=step_from,
                                            limits=limits))
    except BaseException:
        ingest.abort()
        raise
    return ingest.finish()


# --------------------------------------------------------------------------------------------
# Transcripts
# --------------------------------------------------------------------------------------------
def _check_row_groups(path: Path, meta, limits: Limits) -> None:
    """Refuse row groups whose declared uncompressed size passes ``--max-entry-mb`` (pyarrow would
    hold one whole column chunk of a row group while reading it)."""
    for i in range(meta.num_row_groups):
        size = meta.row_group(i).total_byte_size
        if size > limits.max_entry_bytes:
            raise InputError(f"{path}: row group {i} holds {size / MB:.0f} MB uncompressed, more than "
                             f"{limits.max_entry_bytes / MB:g} MB (raise --max-entry-mb to read it)")


def read_transcripts(path: Path, progress: Callable[[int], None] | None, defaults: dict[str, Any], *,
                     field_map: FieldMap | None = None, step_from=None,
                     limits: Limits | None = None) -> Iterator[tuple]:
    """Yield ``(Record | RecordError, None, entry)`` for every transcript of a Scout transcript
    database file (see the module docstring for the mapping). ``step_from``: a ``metadata:KEY`` or
    ``task_arg:KEY`` StepFrom (``path:REGEX`` is resolved by the caller into ``defaults["step"]``)."""
    import pyarrow.parquet as pq

    limits = limits or Limits()
    field_map = field_map or FieldMap()
    for target in ("reasoning", "output", "messages"):
        if target in field_map.fields:
            raise UsageError(f"{path}: --field …={target}: Scout transcripts take their text from the messages column")
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0][:200]})") from None
    _check_row_groups(path, parquet.metadata, limits)
    columns = [c for c in parquet.schema_arrow.names if c not in CONTENT_COLUMNS or c == "messages"]
    total_rows = max(parquet.metadata.num_rows, 1)
    size = os.path.getsize(path)
    done = 0
    try:
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS, columns=columns):
            for row in batch.to_pylist():
                entry = f"transcript {row.get('transcript_id')}"
                try:
                    yield _record(row, defaults, field_map, step_from, limits), None, entry
                except RecordError as exc:
                    yield exc, None, entry
            if progress:
                now = size * min(done + batch.num_rows, total_rows) // total_rows
                progress(now - size * done // total_rows)
            done += batch.num_rows
    except (InputError, UsageError):
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt page, a bad encoding...
        raise InputError(f"{path}: cannot read transcripts: {str(exc).splitlines()[0][:200]}") from None


def _record(row: dict[str, Any], defaults: dict[str, Any], field_map: FieldMap, step_from, limits: Limits) -> Record:
    import orjson

    messages_text = row.pop("messages", None)
    if not row.get("transcript_id"):
        raise RecordError("no transcript_id")
    if messages_text is None:
        raise RecordError("no messages (the transcript has no content to read)")
    data = messages_text.encode("utf-8")
    if len(data) > limits.max_record_bytes:
        raise RecordError(f"messages of {len(data) / MB:.0f} MB are larger than {limits.max_record_bytes / MB:g} MB "
                          "(raise --max-record-mb to read them)")
    checked = scan(LineChunk(data, 1), limits.max_depth, whole=True, max_values=limits.max_values)
    problem = scan_problem(int(checked.status[0]), int(checked.detail[0]), data, limits) if len(checked.status) else None
    if problem:
        raise RecordError(f"messages: {problem}")
    try:
        messages = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise RecordError(f"messages are not valid JSON ({exc})") from None

    metadata = {k: _json_value(v) for k, v in row.items() if v is not None}
    mapped = field_map.apply(row) if field_map else row
    source_type = row.get("source_type")
    eval_metadata = _json_object(row.get("eval_metadata"))
    sample_metadata = _json_object(row.get("sample_metadata"))

    record: dict[str, Any] = {"messages": messages, "metadata": metadata}
    record["id"] = mapped.get("id") if "id" in field_map.fields else transcript_key(
        source_type, row.get("source_id"), row.get("task_id"), row.get("task_repeat"), row["transcript_id"])
    record["run"] = _first(mapped.get("run"), defaults.get("run"), row.get("task_set"))
    record["environment"] = _first(mapped.get("environment"), defaults.get("environment"), row.get("task_set"))
    record["step"] = _first(mapped.get("step"), defaults.get("step"),
                            _step_from(step_from, row, eval_metadata), eval_metadata.get("step"))
    if record["step"] is None:
        raise RecordError("no step (pass --step or --step-from, map a column with --field COLUMN=step, "
                          "or run the eval with --metadata step=N)")
    record["epoch"] = mapped.get("epoch") if "epoch" in field_map.fields else row.get("task_repeat")
    record["score"] = mapped.get("score") if "score" in field_map.fields else _score(row)
    covert = mapped.get("covert_action") if "covert_action" in field_map.fields else row.get("covert_action")
    if not isinstance(covert, bool):
        covert = sample_metadata.get("covert_action")
    record["covert_action"] = covert if isinstance(covert, bool) else None
    if field_map.metadata:
        metadata.update({key: _json_value(row[source]) for key, source in field_map.metadata.items()
                         if row.get(source) is not None})
    return record_from_json(record)


def _first(*values: Any) -> Any:
    for value in values:
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return value
    return None


def _step_from(step_from, row: dict[str, Any], eval_metadata: dict[str, Any]) -> Any:
    """The step named by ``--step-from metadata:KEY`` / ``task_arg:KEY`` (None when absent)."""
    if step_from is None or step_from.source == "path":
        return None
    if step_from.source == "metadata":
        value = eval_metadata.get(step_from.key)
        return value if value is not None else row.get(step_from.key)
    return _json_object(row.get("task_args")).get(step_from.key)


def _json_object(value: Any) -> dict[str, Any]:
    parsed = _json_value(value)
    return parsed if isinstance(parsed, dict) else {}


def _json_value(value: Any) -> Any:
    """Scout stores nested metadata as JSON text: objects and lists are kept as JSON."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        import orjson

        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    return value


def _score(row: dict[str, Any]) -> float | None:
    """A number, or an Inspect grade; None for other values and for samples with several scores."""
    scores = _json_value(row.get("scores"))
    if isinstance(scores, dict) and len(scores) != 1:
        return None
    value = row.get("score")
    if not isinstance(value, str):
        return None
    if value in _GRADES:
        return _GRADES[value]
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# --------------------------------------------------------------------------------------------
# Scan results
# --------------------------------------------------------------------------------------------
def ingest_scan_results(store: Store, path: Path, *, skip_bad: bool = False,
                        progress: Callable[[int], None] | None = None, display: str | None = None) -> FileResult:
    """Store the results of one scanner's Parquet file in ``scout_results`` in one transaction.
    A row without scan id, scanner or transcript id is bad (the file is rejected unless
    ``skip_bad``); a result already stored (same uuid) is a duplicate."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    display = display or str(path)
    result = FileResult(display, "scout")
    try:
        parquet = pq.ParquetFile(path)
        present = set(parquet.schema_arrow.names)
        table = parquet.read(columns=[c for c in RESULT_COLUMNS if c in present])
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{path}: cannot read Scout scan results ({str(exc).splitlines()[0][:200]})") from None
    for name in RESULT_COLUMNS:
        if name not in present:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    keys = [transcript_key(*values) for values in zip(
        *(table.column(c).to_pylist() for c in ("transcript_source_type", "transcript_source_id",
                                                 "transcript_task_id", "transcript_task_repeat", "transcript_id")))]
    table = table.append_column("cotwatch_id", pa.array(keys, pa.string()))
    table = table.append_column("row_number", pa.array(range(1, table.num_rows + 1), pa.int64()))
    store.con.execute("begin transaction")
    try:
        with registered(store.con, _scout_in=table):
            store.script(load_sql("scout_results_stage"), {"file": display})
        bad = store.rows("select row_number, reason from _scout_staged where reason is not null order by row_number")
        result.bad = [(None, f"row {n}", reason) for n, reason in bad]
        result.rejected = len(result.bad)
        result.problems = [f"{display} [row {n}]: {reason}" for n, reason in bad]
        if bad and not skip_bad:
            store.con.execute("rollback")
            return result
        added, duplicates = store.script(load_sql("scout_results_insert"), {"file": display})[0]
        result.added, result.duplicates = int(added), int(duplicates)
        store.con.execute("insert into ingested_files (file, format, added, duplicates, rejected) "
                          "values ($file, 'scout-results', $added, $duplicates, $rejected)",
                          {"file": display, "added": result.added, "duplicates": result.duplicates,
                           "rejected": result.rejected})
        if bad:
            with registered(store.con, _rejects=pa.table({
                    "file": pa.array([display] * len(bad), pa.string()),
                    "entry": pa.array([f"row {n}" for n, _ in bad], pa.string()),
                    "reason": pa.array([r for _, r in bad], pa.string())})) as con:
                con.execute("insert into rejects (file, line, entry, reason) select file, null, entry, reason from _rejects")
        store.con.execute("drop table if exists _scout_staged")
        store.con.execute("drop table if exists _scout_new")
        store.con.execute("commit")
    except BaseException:
        try:
            store.con.execute("rollback")
        except Exception:  # noqa: BLE001 - already rolled back
            pass
        raise
    result.committed = True
    if progress:
        progress(os.path.getsize(path))
    return result
