"""Ingest transcripts into the store: generic JSONL, Inspect AI logs, plain text.

Every file is ingested in one transaction: with any bad record the whole file is rejected and
the store is left unchanged (one problem line per bad record), unless ``skip_bad`` is set, in
which case the good records go in and the bad ones are kept in the ``rejects`` table. A crash or
Ctrl-C mid-file rolls the transaction back, so no partial file is ever visible.

Records are parsed one at a time and staged in batches into temporary DuckDB tables (memory
stays flat however large the file); duplicates are found in SQL at the end of the file by
``(run, id)`` and content hash.

>>> from cotwatch.analytics.store import Store
>>> with Store.open("runs.duckdb", read_only=False) as store:
...     results = ingest_paths(store, ["rollouts.jsonl.gz"], run="rl-1")
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cotwatch.analytics.errors import InputError, RejectedRecords
from cotwatch.analytics.ingest.jsonl import (
    CHUNK_BYTES,
    _jsonl_chunks,
    _Progress,
    parse_jsonl_chunk,
)
from cotwatch.analytics.ingest.records import RecordError, _Columns, _problem
from cotwatch.analytics.ingest.text import _read_text
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql

FORMATS = ("auto", "jsonl", "inspect", "text")
BATCH_RECORDS = 2000
INGEST_MEMORY = "512MB"  # DuckDB memory limit while ingesting ($COTWATCH_INGEST_MEMORY overrides)

_JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")
_INSPECT_SUFFIXES = (".eval", ".json")
_TEXT_SUFFIXES = (".txt", ".md")


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


def _read_inspect(path: Path, progress: _Progress, defaults: dict[str, Any]) -> Iterator[tuple]:
    from cotwatch.analytics.ingest.inspect import (
        read_inspect_log,  # imports inspect_ai: only when needed
    )

    yield from read_inspect_log(path, progress, defaults)


_READERS = {"text": _read_text, "inspect": _read_inspect}


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
        from cotwatch.analytics.terms import materialize as termcounts

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
