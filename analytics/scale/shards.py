"""Parquet shards: the input format of the distributed path (documented in ``docs/scale.md``).

One row per transcript, so a transcript can never span two shards or two batches::

    transcript_id  string  not null     run    string not null     step  int64 not null
    environment    string               epoch  int32               covert_action  bool
    score          float64              metadata  string (a JSON object, or null)
    segments       list<struct<ordinal int32, role string, kind string, text string, redacted bool>>

Files are laid out hive-style, ``run=<run>/step=<step>/part-<n>.parquet`` (values percent-encoded),
but every file also carries ``run`` and ``step`` as columns, so a shard read on its own (or a lake
laid out differently) is complete.

>>> from cotwatch.analytics.store import Store
>>> with Store.open("runs.duckdb") as store:
...     export_parquet(store, "shards/")                    # every run
"""

from __future__ import annotations

import fnmatch
import json
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from urllib.parse import quote

from cotwatch.analytics.errors import InputError
from cotwatch.analytics.kinds import SEGMENT_KINDS
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql

#: Transcripts per shard file written by :func:`export_parquet` / :func:`write_shards`.
ROWS_PER_FILE = 20_000
REQUIRED = ("transcript_id", "run", "step", "segments")


def shard_schema():
    """The Arrow schema of a shard file."""
    import pyarrow as pa

    segment = pa.struct([
        ("ordinal", pa.int32()), ("role", pa.string()), ("kind", pa.string()),
        ("text", pa.string()), ("redacted", pa.bool_()),
    ])
    return pa.schema([
        pa.field("transcript_id", pa.string(), nullable=False),
        pa.field("run", pa.string(), nullable=False),
        pa.field("step", pa.int64(), nullable=False),
        ("environment", pa.string()),
        ("epoch", pa.int32()),
        ("covert_action", pa.bool_()),
        ("score", pa.float64()),
        ("metadata", pa.string()),
        ("segments", pa.list_(segment)),
    ])


# --------------------------------------------------------------------------------------------
# Filesystems: local paths and every URI pyarrow's filesystems reach (s3://, gs://, abfs://, ...)
# --------------------------------------------------------------------------------------------
def filesystem(uri: str | os.PathLike[str]):
    """(pyarrow FileSystem, path inside it) for a local path or an object-store URI."""
    import pyarrow.fs as pafs

    text = os.fspath(uri)
    if "://" not in text:
        return pafs.LocalFileSystem(), os.path.abspath(text)
    try:
        return pafs.FileSystem.from_uri(text)
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError variants
        raise InputError(f"{text}: cannot open this location: {str(exc).splitlines()[0]}") from exc


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def resolve_input(input: str | os.PathLike[str]) -> tuple[object, list[str]]:
    """The shard files named by ``input``: a file, a directory (searched recursively for
    ``*.parquet``) or a glob (``s3://bucket/run=*/**/*.parquet``). Sorted; files and folders whose
    name starts with ``_`` or ``.`` are skipped (markers, temporaries)."""
    import pyarrow.fs as pafs

    text = os.fspath(input)
    fs, path = filesystem(text)
    wild = next((i for i, ch in enumerate(path) if ch in "*?["), None)
    if wild is None:
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.File:
            return fs, [path]
        if info.type != pafs.FileType.Directory:
            raise InputError(f"{text}: no such file or directory")
        base, pattern = path.rstrip("/"), None
    else:
        base = path[:wild].rsplit("/", 1)[0] if "/" in path[:wild] else ""
        pattern = path
    try:
        infos = fs.get_file_info(pafs.FileSelector(base or "/", recursive=True, allow_not_found=True))
    except OSError as exc:
        raise InputError(f"{text}: cannot list: {str(exc).splitlines()[0]}") from exc
    files = []
    for info in infos:
        if info.type != pafs.FileType.File:
            continue
        rel = info.path[len(base):].lstrip("/") if base else info.path
        if any(part.startswith(("_", ".")) for part in rel.split("/")):
            continue
        if pattern is None:
            if info.path.endswith(".parquet"):
                files.append(info.path)
        elif _glob_match(info.path, pattern):
            files.append(info.path)
    if not files:
        raise InputError(f"{text}: no Parquet shards found")
    return fs, sorted(files)


def _glob_match(path: str, pattern: str) -> bool:
    """``**`` matches any number of folders; ``*`` stays within one."""
    if "**" not in pattern:
        return path.count("/") == pattern.count("/") and fnmatch.fnmatchcase(path, pattern)
    return fnmatch.fnmatchcase(path, pattern.replace("**/", "*").replace("**", "*"))


# --------------------------------------------------------------------------------------------
# Writing shards
# --------------------------------------------------------------------------------------------
@dataclass
class ExportResult:
    out: str
    files: int
    transcripts: int
    partitions: int

    def as_frame(self):
        import polars as pl

        return pl.DataFrame([{"out": self.out, "partitions": self.partitions, "files": self.files,
                              "transcripts": self.transcripts}])


def partition_dir(run: str, step: int) -> str:
    """``run=<run>/step=<step>`` with the run percent-encoded (slashes, spaces, ``=``)."""
    return f"run={quote(run, safe='')}/step={step}"


def _write_table(fs, path: str, table) -> None:
    """Write atomically where the filesystem allows (local: temp file + rename)."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    parent = path.rsplit("/", 1)[0]
    fs.create_dir(parent, recursive=True)
    if isinstance(fs, pafs.LocalFileSystem):
        tmp = f"{parent}/.{uuid.uuid4().hex}.tmp"
        pq.write_table(table, tmp, filesystem=fs, compression="zstd")
        fs.move(tmp, path)
    else:  # object stores: a PUT is atomic
        pq.write_table(table, path, filesystem=fs, compression="zstd")


def _check_out(fs, root: str, text: str) -> None:
    import pyarrow.fs as pafs

    info = fs.get_file_info(root)
    if info.type == pafs.FileType.File:
        raise InputError(f"{text}: exists and is a file; give a directory for the shards")
    if info.type == pafs.FileType.Directory:
        existing = fs.get_file_info(pafs.FileSelector(root, recursive=True))
        if any(i.path.endswith(".parquet") for i in existing):
            raise InputError(f"{text}: already holds Parquet files; export into a new directory")


def export_parquet(store: Store, out_dir: str | os.PathLike[str], run: str | None = None,
                   *, rows_per_file: int = ROWS_PER_FILE) -> ExportResult:
    """Write the store's transcripts (all runs, or ``run``) as shards under ``out_dir``.

    One folder per (run, step), ``part-<n>.parquet`` files of up to ``rows_per_file``
    transcripts each. ``out_dir`` may be an object-store URI. Refuses a folder that already holds
    Parquet files (an export never mixes with an older one).
    """
    if rows_per_file < 1:
        raise InputError(f"rows_per_file must be >= 1, got {rows_per_file}")
    if run is not None:
        store.require_run(run)
    text = os.fspath(out_dir)
    fs, root = filesystem(text)
    _check_out(fs, root, text)
    schema = shard_schema()
    checkpoints = store.rows(load_sql("shards_checkpoints"), {"run": run})
    if not checkpoints:
        raise InputError(f"{store.path}: no transcripts to export")
    files = transcripts = 0
    query = load_sql("shards_export")
    for ck_run, step, _count in checkpoints:
        reader = store.con.sql(query, params={"run": ck_run, "step": step}).to_arrow_reader(rows_per_file)
        part = 0
        for table in _rebatch(reader, rows_per_file):
            table = table.cast(schema)
            _write_table(fs, join(root, partition_dir(ck_run, step), f"part-{part}.parquet"), table)
            part += 1
            files += 1
            transcripts += table.num_rows
    return ExportResult(text, files, transcripts, len(checkpoints))


def _rebatch(reader, rows: int) -> Iterator:
    """Arrow tables of exactly ``rows`` rows (the last may be shorter) from a batch reader."""
    import pyarrow as pa

    pending, count = [], 0
    for batch in reader:
        pending.append(batch)
        count += batch.num_rows
        while count >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            rest = table.slice(rows)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield pa.Table.from_batches(pending)


def write_shards(records: Iterable, out_dir: str | os.PathLike[str], *, rows_per_file: int = ROWS_PER_FILE) -> ExportResult:
    """Write records (``cotwatch.analytics.ingest.loading.Record`` objects or generic-JSONL dicts, e.g. from
    ``cotwatch.analytics.synth.generator.generate_run``) straight to shards, without a store. Records must carry
    ``id``, ``run`` and ``step``. Same layout as :func:`export_parquet`."""
    import pyarrow as pa
    from cotwatch.analytics.ingest.records import Record, RecordError, record_from_json
    text = os.fspath(out_dir)
    fs, root = filesystem(text)
    _check_out(fs, root, text)
    schema = shard_schema()
    buffers: dict[tuple[str, int], list[dict]] = {}
    parts: dict[tuple[str, int], int] = {}
    files = transcripts = 0

    def flush(key: tuple[str, int]) -> None:
        nonlocal files
        rows = buffers.pop(key)
        n = parts.get(key, 0)
        parts[key] = n + 1
        _write_table(fs, join(root, partition_dir(*key), f"part-{n}.parquet"), pa.Table.from_pylist(rows, schema=schema))
        files += 1

    for i, item in enumerate(records, start=1):
        try:
            rec = item if isinstance(item, Record) else record_from_json(item)
        except RecordError as exc:
            raise InputError(f"record {i}: {exc}") from exc
        if not rec.id or not rec.run or rec.step is None:
            raise InputError(f"record {i}: a shard row needs id, run and step")
        key = (rec.run, rec.step)
        buffers.setdefault(key, []).append(shard_row(rec))
        transcripts += 1
        if len(buffers[key]) >= rows_per_file:
            flush(key)
    for key in list(buffers):
        flush(key)
    return ExportResult(text, files, transcripts, len(parts))


def shard_row(rec) -> dict:
    """A Record as a shard row (a dict in the shard schema)."""
    return {
        "transcript_id": rec.id, "run": rec.run, "step": rec.step, "environment": rec.environment,
        "epoch": rec.epoch, "covert_action": rec.covert_action, "score": rec.score,
        "metadata": None if rec.metadata is None else json.dumps(rec.metadata, ensure_ascii=False, default=str),
        "segments": [{"ordinal": i, "role": s.role, "kind": s.kind, "text": s.text, "redacted": s.redacted}
                     for i, s in enumerate(rec.segments)],
    }


# --------------------------------------------------------------------------------------------
# Reading shards: validation, the kernel's input, records for the store
# --------------------------------------------------------------------------------------------
def conform(table, source: str):
    """``table`` cast to the shard schema (missing optional columns become null), checked row by
    row: every transcript needs transcript_id, run, step and at least one segment of a known kind
    with non-null text. Raises InputError naming the file and the transcript."""
    import pyarrow as pa
    import pyarrow.compute as pc

    schema = shard_schema()
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise InputError(f"{source}: not a cotwatch shard: no column(s) {', '.join(missing)} (see docs/scale.md)")
    columns = []
    for field in schema:
        if field.name in table.column_names:
            column = table.column(field.name)
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise InputError(f"{source}: column {field.name!r} is {column.type}, expected {field.type}") from exc
        else:
            column = pa.nulls(table.num_rows, field.type)
        columns.append(column)
    table = pa.Table.from_arrays(columns, schema=pa.schema([f.with_nullable(True) for f in schema]))
    for name in ("transcript_id", "run", "step"):
        bad = pc.is_null(table.column(name))
        if pc.any(bad).as_py():
            row = pc.index(bad, True).as_py()
            raise InputError(f"{source}: row {row} ({_who(table, row)}): {name} is null")
    sizes = pc.list_value_length(table.column("segments")).fill_null(0)
    if pc.any(pc.equal(sizes, 0)).as_py():
        row = pc.index(pc.equal(sizes, 0), True).as_py()
        raise InputError(f"{source}: row {row} ({_who(table, row)}): no segments")
    flat = pc.list_flatten(table.column("segments"))
    kinds, texts = pc.struct_field(flat, "kind"), pc.struct_field(flat, "text")
    bad = pc.or_(pc.invert(pc.is_in(kinds, value_set=pa.array(SEGMENT_KINDS))).fill_null(True), pc.is_null(texts))
    if pc.any(bad).as_py():
        seg = pc.index(bad, True).as_py()
        row = pc.list_parent_indices(table.column("segments")).to_numpy()[seg]
        kind = kinds[seg].as_py()
        reason = f"segment kind {kind!r} is not one of {', '.join(SEGMENT_KINDS)}" if texts[seg].is_valid else "segment text is null"
        raise InputError(f"{source}: row {int(row)} ({_who(table, int(row))}): {reason}")
    return table


def _who(table, row: int) -> str:
    tid = table.column("transcript_id")[row].as_py()
    run = table.column("run")[row].as_py()
    return f"run {run!r}, transcript {tid!r}"


def kernel_input(table):
    """The term kernel's input for a conformed shard batch: (transcript_pk, kind, text), where
    transcript_pk is the row's index in the batch (the caller maps it back to (run, id))."""
    import pyarrow as pa
    import pyarrow.compute as pc

    segments = table.column("segments")
    flat = pc.list_flatten(segments)
    parents = pc.list_parent_indices(segments).cast(pa.int64())
    return pa.table({"transcript_pk": parents, "kind": pc.struct_field(flat, "kind"),
                     "text": pc.struct_field(flat, "text")})


def records(table, source: str) -> list:
    """The rows of a conformed shard batch as ``cotwatch.analytics.ingest.loading.Record`` objects (the form the
    ingest hashes and stages)."""
    from cotwatch.analytics.ingest.records import Record, Segment
    out = []
    for row in table.to_pylist():
        metadata = row["metadata"]
        if metadata is not None:
            try:
                metadata = json.loads(metadata)
            except ValueError as exc:
                raise InputError(f"{source}: run {row['run']!r}, transcript {row['transcript_id']!r}: metadata is not JSON: {exc}") from exc
            if not isinstance(metadata, dict):
                raise InputError(f"{source}: run {row['run']!r}, transcript {row['transcript_id']!r}: metadata must be a JSON object")
        segments = [Segment(s["kind"], s["text"], s["role"], bool(s["redacted"]))
                    for s in sorted(row["segments"], key=lambda s: (s["ordinal"] is None, s["ordinal"] or 0))]
        if not any(seg.text.strip() or seg.redacted for seg in segments):  # the ingest's rule
            raise InputError(f"{source}: run {row['run']!r}, transcript {row['transcript_id']!r}: no text in any segment")
        out.append(Record(row["transcript_id"], row["run"], row["step"], row["environment"], row["epoch"],
                          row["covert_action"], row["score"], metadata, segments))
    return out


def content_hashes(table, source: str) -> list[str]:
    """The ingest's content hash of every row (equal to the stored ``content_hash`` of the same
    transcript ingested from JSONL, so shards and store agree on what "the same" means): the
    ingest's own hash SQL, run by :func:`cotwatch.analytics.ingest.records.content_hashes`."""
    from cotwatch.analytics.ingest import records as ingest_records

    rows = records(table, source)
    if not rows:
        return []
    return ingest_records.content_hashes(*ingest_records.records_table([(rec, i) for i, rec in enumerate(rows)]))
