"""One file into the store, in one transaction: staging, judging, storing, counting.

:class:`FileIngest` opens a transaction, takes the file's records chunk by chunk — JSONL lines
through DuckDB (``sql/ingest_jsonl_*.sql``) or records parsed in Python — and for every chunk:
makes metadata canonical, hashes (``sql/ingest_hash*.sql``), decides new / duplicate / bad
against the file so far and the store (``sql/ingest_chunk_check.sql``), stores the new records
(``sql/ingest_chunk_insert.sql``) and hands them to the term counter, which counts them in a
thread while the next chunk is staged and appends the counts in the same transaction. The file
is committed whole, or — with a bad record and no ``skip_bad``, on an error or an interrupt —
rolled back whole. Memory is bounded by the chunk size: staged chunks live in temp tables that
DuckDB spills beyond its memory limit, and the transaction's appends are written out by DuckDB
as they grow.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from cotwatch.analytics import arrowbuf
from cotwatch.analytics.ingest.jsonl import LineChunk, Limits, scan_problem
from cotwatch.analytics.ingest.records import (
    NONBLANK_PATTERN,
    RECORD_FIELDS,
    FieldMap,
    Record,
    RecordError,
    canonical_json,
    parse_json_record,
    record_from_json,
    records_table,
)
from cotwatch.analytics.store.database import Store
from cotwatch.analytics.store.sqlfiles import load_sql

#: Python records staged per batch (Inspect samples, text files, JSONL lines of rare shapes).
BATCH_RECORDS = 2000

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
    #: set when the file was not read at all (a folder walk met a file it cannot take)
    skipped: str | None = None
    #: JSONL/JSON lines parsed in Python (rare shapes, or not valid JSON for DuckDB)
    python_lines: int = 0

    def summary(self) -> str:
        if self.skipped is not None:
            return f"{self.file}: skipped ({self.skipped})"
        state = "" if self.committed else " — file rejected, nothing stored"
        return (
            f"{self.file}: {self.added} added, {self.duplicates} duplicates, "
            f"{self.rejected} rejected{state}"
        )


def prepare_connection(store: Store) -> None:
    """The hash macros on the store's connection (once)."""
    con = store.con
    if getattr(store, "_ingest_ready", False):
        return
    con.execute(load_sql("ingest_hash_macros"))
    store._ingest_ready = True


def _canonical_metadata(meta, extra):
    """The canonical metadata text (records.canonical_json) of every record of a chunk, from its
    raw metadata JSON and the keys --field maps into it; null where it cannot be read (the record
    is then rejected). Runs in the reading thread, beside DuckDB's work."""
    import orjson

    metas = meta.to_pylist()
    if extra.null_count == len(extra):  # no --field into the metadata: the common, fast case
        loads, dumps, option = orjson.loads, orjson.dumps, orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
        try:
            return arrowbuf.strings([None if m is None else dumps(loads(m), option=option) for m in metas])
        except (orjson.JSONDecodeError, TypeError):
            pass  # one of them needs the careful path (a huge integer, an infinite number...)
    return arrowbuf.strings([None if m is None else m.encode("utf-8")
                          for m in (canonical_merge(m, e) for m, e in zip(metas, extra.to_pylist()))])


def canonical_merge(meta: str | None, extra: str | None) -> str | None:
    """Canonical metadata JSON of ``meta`` with the keys of ``extra`` (``--field …=metadata.KEY``)
    merged over it; None when either cannot be read (the record is then rejected)."""
    import orjson

    from cotwatch.analytics.ingest.records import canonical_json_text

    if extra is None or extra == "{}":
        return canonical_json_text(meta)
    try:
        base = {} if meta is None else orjson.loads(meta)
        more = orjson.loads(extra)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(base, dict) or not isinstance(more, dict):
        return None
    return canonical_json({**base, **more})


class FileIngest:
    """One file in one transaction (see the module docstring).

    ``defaults``: run/step/environment for records that lack them; ``counter``: a
    :class:`cotwatch.analytics.terms.materialize.StoreCounter` (None: do not count now).
    """

    #: JSONL lines of the common shapes go through the compiled extractor; False sends every
    #: line through records.record_from_json (the two must store the same: a test compares).
    use_compiled = True

    def __init__(self, store: Store, path: Path, fmt: str, *, defaults: dict[str, Any], skip_bad: bool = False,
                 field_map: FieldMap | None = None, counter=None, limits: Limits | None = None,
                 display: str | None = None):
        self.store = store
        self.path = path
        self.display = display or str(path)
        self.defaults = defaults
        self.skip_bad = skip_bad
        self.field_map = field_map or FieldMap()
        self.counter = counter
        self.limits = limits or Limits()
        self.result = FileResult(self.display, fmt)
        self.next_key = 0
        self.record_keys = False  # JSON record files: report "[record N]"
        prepare_connection(store)
        self.base = store.rows("select coalesce(max(pk), 0) from transcripts")[0][0]
        self.params = {
            "run": defaults.get("run"), "step": defaults.get("step"), "environment": defaults.get("environment"),
            "nonblank": NONBLANK_PATTERN, "base": self.base, "file": self.display,
        }
        #: the record fields' keys (after --field) for the scanner and the extractor, and the
        #: keys --field maps into the metadata (the extractor returns their raw JSON)
        self.scan_fields = tuple(self.field_map.source_of(f).encode("utf-8") for f in RECORD_FIELDS)
        self.extra_fields = tuple(f"{src}".encode("utf-8") for src in self.field_map.metadata.values())
        self.extra_names = tuple(self.field_map.metadata)
        store.con.execute("begin transaction")
        self.open = True
        try:
            self._script("ingest_file_begin")
        except BaseException:
            self._rollback()
            raise

    # -- staging ------------------------------------------------------------------------------
    def _script(self, name: str) -> list[tuple]:
        return self.store.script(load_sql(name), self.params)

    @property
    def storing(self) -> bool:
        """False once a bad record dooms the file (no --skip-bad): judge the rest, store nothing."""
        return self.skip_bad or not self.result.bad

    def add_chunks(self, chunks: Iterable[LineChunk]) -> None:
        """Stage, judge and store chunks of JSONL lines (or JSON records), reading, scanning and
        extracting the next chunk in a thread (compiled code, the GIL released) while DuckDB
        stores this one. At most one chunk waits, so memory stays bounded."""
        import queue
        import threading

        ready: queue.Queue = queue.Queue(maxsize=1)
        stop = threading.Event()
        done = object()

        def produce():
            try:
                for chunk in chunks:
                    item = (chunk, *self._extracted(chunk))
                    while not stop.is_set():
                        try:
                            ready.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
                ready.put(done)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
                ready.put(exc)

        producer = threading.Thread(target=produce, name="cotwatch-read", daemon=True)
        producer.start()
        try:
            while True:
                item = ready.get()
                if item is done:
                    break
                if isinstance(item, BaseException):
                    raise item
                self.add_chunk(*item)
        finally:
            stop.set()
            producer.join(timeout=5)

    def _extracted(self, chunk: LineChunk):
        """(line numbers, compiled extraction, which candidates it took) of a chunk."""
        n = len(chunk.status)
        numbers = chunk.first_line + np.arange(n, dtype=np.int64)
        candidates = np.flatnonzero(chunk.status == 0) if self.use_compiled else np.zeros(0, np.int64)
        extracted, taken = _extract(chunk, candidates, numbers, self.scan_fields, self.extra_fields)
        return numbers, candidates, extracted, taken

    def add_chunk(self, chunk: LineChunk, numbers=None, candidates=None, extracted=None, taken=None) -> None:
        """Stage, judge and store one chunk of JSONL lines (or JSON records)."""
        self.record_keys = chunk.records
        for line, reason in chunk.skipped:
            self._bad(line, None, reason)
        status = chunk.status
        n = len(status)
        if n == 0:
            return
        if numbers is None:
            numbers, candidates, extracted, taken = self._extracted(chunk)
        for i in np.flatnonzero(((status >= 2) & (status <= 4)) | (status == 6)).tolist():
            self._bad(int(numbers[i]), None, self._scan_reason(chunk, i))
        slow = sorted(set(np.flatnonzero((status == 0) | (status == 5)).tolist()) - set(candidates[taken].tolist()))
        items: list[tuple[Record, int]] = []
        self.result.python_lines += len(slow)
        for i in slow:
            line = int(numbers[i])
            try:
                value = parse_json_record(chunk.line_bytes(i), check_repeated_keys=bool(status[i] == 5), utf8_checked=True)
                rec = record_from_json(value, self.field_map)
            except RecordError as exc:
                self._bad(line, None, str(exc))
                continue
            if chunk.records:
                rec.entry = f"record {line}"
            else:
                rec.line = line
            items.append((rec, line))
            del value
        self._stage(extracted, items, int(numbers[0]), int(numbers[-1]))

    def add_records(self, items: Iterable[tuple[Record | RecordError, int | None, str | None]]) -> None:
        """Stage, judge and store records read in Python (Inspect samples, text files)."""
        batch: list[tuple[Record, int]] = []
        for item, line, entry in items:
            if isinstance(item, RecordError):
                self._bad(line, entry, str(item))
                continue
            self.next_key += 1
            item.line, item.entry = line, entry or item.entry
            batch.append((item, self.next_key))
            if len(batch) >= BATCH_RECORDS:
                self._stage(None, batch, batch[0][1], batch[-1][1])
                batch = []
        if batch:
            self._stage(None, batch, batch[0][1], batch[-1][1])

    def _stage(self, extracted, items: list[tuple[Record, int]], lo: int, hi: int) -> None:
        """Judge and store a chunk's records (compiled ``extracted``, Python ``items``).

        Every intermediate result stays an Arrow table in this process, handed to the next
        statement by name (:func:`_sql`): inside the file's open transaction DuckDB keeps every
        temp table or registered object alive until the commit, so per-chunk temp tables would
        make memory grow with the file."""
        import pyarrow as pa

        rt, rs = self._records_tables(items)
        del items
        xt, xs = extracted if extracted is not None else _EMPTY_EXTRACTED()
        con, params = self.store.con, self.params
        ct = _sql(con, load_sql("ingest_chunk_create"), params, _xt=xt, _rt=rt).to_arrow_table()
        rs = rs.append_column("text_md5", pa.nulls(rs.num_rows, pa.string()))
        cs = pa.concat_tables([xs.cast(_segment_schema()), rs.cast(_segment_schema())])
        del xt, rt, xs, rs
        chash = _sql(con, load_sql("ingest_hash"), params, _ct=ct, _cs=cs).to_arrow_table()
        cd = _sql(con, load_sql("ingest_chunk_check"), params, _ct=ct, _chash=chash).to_arrow_table()
        del chash
        decisions = cd.column("decision").to_pylist()
        if "bad" in decisions:
            for row in cd.filter(pa.compute.equal(cd.column("decision"), "bad")).sort_by("pk").to_pylist():
                self._bad(row["line"], row["entry"], row["reason"])
        _sql(con, load_sql("ingest_chunk_keys"), params, _cd=cd)
        self.result.duplicates += decisions.count("duplicate")
        new = decisions.count("new")
        if not self.storing or not new:
            return
        _sql(con, load_sql("ingest_chunk_insert"), params, _ct=ct, _cd=cd, _cs=cs)
        self.result.added += new
        del ct, cd, cs
        if self.counter is not None:
            batch = con.sql(load_sql("ingest_chunk_counting"),
                            params={"lo": self.base + lo, "hi": self.base + hi}).to_arrow_table()
            self.counter.submit(batch)

    def _records_tables(self, items: list[tuple[Record, int]]):
        while True:
            try:
                return records_table(items)
            except RecordError as exc:  # text that is not valid Unicode: that record is bad
                key = exc.key
                rec = next(r for r, k in items if k == key)
                self._bad(rec.line, rec.entry, str(exc))
                items = [(r, k) for r, k in items if k != key]

    # -- bad records ---------------------------------------------------------------------------
    def _bad(self, line: int | None, entry: str | None, reason: str) -> None:
        if self.record_keys and line is not None and entry is None:
            line, entry = None, f"record {line}"
        self.result.bad.append((line, entry, reason))

    def _scan_reason(self, chunk: LineChunk, i: int) -> str:
        status, detail = int(chunk.status[i]), int(chunk.detail[i])
        return scan_problem(status, detail, chunk.line_bytes(i) if status == 4 else b"", self.limits)

    # -- the end -------------------------------------------------------------------------------
    def finish(self) -> FileResult:
        """Commit the file (or roll it back when it holds bad records and not skip_bad)."""
        result = self.result
        result.bad.sort(key=lambda b: (b[0] or 0, b[1] or ""))
        result.rejected = len(result.bad)
        result.problems = [f"{_where(self.display, ln, ent)}: {reason}" for ln, ent, reason in result.bad]
        try:
            if result.bad and not self.skip_bad:
                self._rollback()
                result.added = 0
                return result
            if self.counter is not None:
                self.counter.finish()
            self.params.update(format=result.format, added=result.added, duplicates=result.duplicates,
                               rejected=result.rejected)
            self._script("ingest_file_finish")
            if result.bad:
                import pyarrow as pa

                rejects = pa.table({
                    "file": arrowbuf.strings([self.display] * len(result.bad)),
                    "line": arrowbuf.numeric(np.array([b[0] or 0 for b in result.bad], np.int64), pa.int64(),
                                             valid=np.array([b[0] is not None for b in result.bad], np.uint8)),
                    "entry": arrowbuf.strings([b[1] for b in result.bad]),
                    "reason": arrowbuf.strings([b[2] for b in result.bad]),
                })
                with registered(self.store.con, _rejects=rejects) as con:
                    con.execute("insert into rejects (file, line, entry, reason) select * from _rejects")
            try:
                self._commit()
            except BaseException as exc:
                if not self._still_open():  # Ctrl-C arrived as DuckDB committed: the file is stored
                    self.open = False
                    result.committed = True
                    exc.committed_result = result  # the caller reports it before the interrupt
                raise
            self.open = False
            result.committed = True
            return result
        except BaseException:
            self._rollback()
            raise

    def _commit(self) -> None:
        self.store.con.execute("commit")

    def _still_open(self) -> bool:
        """Whether the file's transaction is still open: a commit that raised may have gone
        through (a Ctrl-C during it is raised once DuckDB returns). DuckDB refuses to begin a
        transaction inside one (or inside an aborted one), which is the answer."""
        try:
            self.store.con.execute("begin transaction")
        except Exception:  # noqa: BLE001 - "cannot start a transaction within a transaction"
            return True
        self.store.con.execute("rollback")
        return False

    def abort(self) -> None:
        """Roll the file back (an error or an interrupt while reading it)."""
        self._rollback()

    def _rollback(self) -> None:
        if self.counter is not None:
            self.counter.discard()
        if self.open:
            self.open = False
            try:
                self.store.con.execute("rollback")
            except Exception:  # noqa: BLE001 - the connection may already have rolled back
                pass


@contextlib.contextmanager
def registered(con, **tables):
    """Arrow tables visible to ``con`` under the given names for the block. Unregistering is
    best effort when the block failed: in an aborted transaction DuckDB refuses every statement,
    and the error that aborted it is the one to report."""
    for name, table in tables.items():
        con.register(name, table)
    failed = True
    try:
        yield con
        failed = False
    finally:
        for name in tables:
            try:
                con.unregister(name)
            except duckdb.Error:
                if not failed:
                    raise


def _sql(con, sql: str, params: dict, *, _xt=None, _rt=None, _ct=None, _cs=None, _chash=None, _cd=None):
    """Run ``sql`` (one SELECT: returns its relation; or statements: runs them) with the Arrow
    tables given here visible under their parameter names: DuckDB's replacement scan finds them
    among this frame's locals, with no catalog entry, so nothing outlives the chunk."""
    statements = con.extract_statements(sql)
    if len(statements) == 1 and statements[0].type == duckdb.StatementType.SELECT:
        wanted = {k: params[k] for k in statements[0].named_parameters}
        return con.sql(sql, params=wanted or None)
    for statement in statements:
        con.execute(statement, {k: params[k] for k in statement.named_parameters}).fetchall()
    return None


@functools.lru_cache(maxsize=1)
def _segment_schema():
    """The segments' columns, as both sources (extractor and Python records) are cast to."""
    import pyarrow as pa

    return pa.schema([("pk", pa.int64()), ("ordinal", pa.int32()), ("role", pa.string()), ("kind", pa.string()),
                      ("text", pa.large_string()), ("redacted", pa.bool_()), ("text_md5", pa.string())])


#: segment kinds (kinds.SEGMENT_KINDS order) and roles as _jsonscan.c codes them
_ROLES = ("assistant", "user", "human", "system", "developer", "tool", "function", "ipython")


def _EMPTY_EXTRACTED():
    import pyarrow as pa

    xt = pa.table({"ok": pa.nulls(0, pa.bool_()), "pk": pa.nulls(0, pa.int64()), "line": pa.nulls(0, pa.int64()),
                   "entry": pa.nulls(0, pa.string()), "id": pa.nulls(0, pa.large_string()),
                   "run": pa.nulls(0, pa.large_string()), "step": pa.nulls(0, pa.int64()),
                   "environment": pa.nulls(0, pa.large_string()), "epoch": pa.nulls(0, pa.int32()),
                   "covert_action": pa.nulls(0, pa.bool_()), "score": pa.nulls(0, pa.float64()),
                   "metadata": pa.nulls(0, pa.string()), "has_metadata": pa.nulls(0, pa.bool_())})
    xs = pa.table({"pk": pa.nulls(0, pa.int64()), "ordinal": pa.nulls(0, pa.int32()), "role": pa.nulls(0, pa.string()),
                   "kind": pa.nulls(0, pa.string()), "text": pa.nulls(0, pa.large_string()),
                   "redacted": pa.nulls(0, pa.bool_()), "text_md5": pa.nulls(0, pa.string())})
    return xt, xs


def _md5s(offsets: bytes, data: bytes):
    """The md5 (hex) of every segment text in a (offsets, data) buffer pair, computed here, in the
    reading thread, with hashlib (OpenSSL; the GIL is released for long texts), so DuckDB does not
    hash the text while it stores the chunk. The same value DuckDB's md5(text) gives."""
    import hashlib

    bounds = np.frombuffer(offsets, np.int64).tolist()
    view = memoryview(data)
    md5 = hashlib.md5
    return arrowbuf.strings([md5(view[a:b]).hexdigest().encode() for a, b in zip(bounds[:-1], bounds[1:])])


def _extract(chunk: LineChunk, candidates, numbers, keys: tuple[bytes, ...], extra_keys: tuple[bytes, ...]):
    """The compiled extractor over the chunk's ``candidates`` (line indexes): ((_xt, _xs) Arrow
    tables, mask of the candidates it took). The tables view its buffers without copying."""
    import pyarrow as pa

    from cotwatch.analytics.ingest import _jsonscan
    from cotwatch.analytics.kinds import SEGMENT_KINDS

    if len(candidates) == 0:
        return _EMPTY_EXTRACTED(), np.zeros(0, bool)
    out = _jsonscan.extract_records(chunk.data, chunk.bounds, np.ascontiguousarray(candidates, np.int64),
                                    list(keys), list(extra_keys))
    ok_b, id_c, run_c, env_c, meta_c, extra_c, step, step_v, epoch, epoch_v, covert, covert_v, score, score_v, segs = out
    k = len(candidates)
    ok = np.frombuffer(ok_b, np.bool_)

    def strings(col):
        offsets, data, valid = col
        return pa.LargeStringArray.from_buffers(k, pa.py_buffer(offsets), pa.py_buffer(data), arrowbuf.bitmap(valid))

    keys_of = np.ascontiguousarray(numbers[candidates], np.int64)
    if chunk.records:  # JSON record files: a record's position, not a line
        line_col, entry_col = pa.nulls(k, pa.int64()), arrowbuf.strings([f"record {n}" for n in keys_of.tolist()])
    else:
        line_col, entry_col = arrowbuf.numeric(keys_of, pa.int64()), pa.nulls(k, pa.string())
    xt = pa.table({
        "ok": arrowbuf.booleans(ok_b), "pk": arrowbuf.numeric(keys_of, pa.int64()), "line": line_col, "entry": entry_col,
        "id": strings(id_c), "run": strings(run_c), "step": arrowbuf.numeric(step, pa.int64(), valid=step_v),
        "environment": strings(env_c), "epoch": arrowbuf.numeric(epoch, pa.int32(), valid=epoch_v),
        "covert_action": arrowbuf.booleans(covert, covert_v), "score": arrowbuf.numeric(score, pa.float64(), valid=score_v),
        "metadata": _canonical_metadata(strings(meta_c), strings(extra_c)),
        "has_metadata": arrowbuf.booleans((np.frombuffer(meta_c[2], np.uint8) | np.frombuffer(extra_c[2], np.uint8)).tobytes()),
    })
    rec, ordinal, kind, role, redacted, (text_offsets, text_data) = segs
    n = len(rec) // 8
    pks = np.ascontiguousarray(keys_of[np.frombuffer(rec, np.int64)])
    xs = pa.table({
        "pk": arrowbuf.numeric(pks, pa.int64()),
        "ordinal": arrowbuf.numeric(ordinal, pa.int32()),
        # codes into names by Arrow (arrowbuf: pa.array would make pyarrow import pandas)
        "role": arrowbuf.strings(_ROLES).take(arrowbuf.numeric(role, pa.uint8())),
        "kind": arrowbuf.strings(SEGMENT_KINDS).take(arrowbuf.numeric(kind, pa.uint8())),
        "text": pa.LargeStringArray.from_buffers(n, pa.py_buffer(text_offsets), pa.py_buffer(text_data)),
        "redacted": arrowbuf.booleans(redacted),
        "text_md5": _md5s(text_offsets, text_data),
    })
    return (xt, xs), ok


def _where(path: str, line: int | None, entry: str | None) -> str:
    if line is not None:
        return f"{path}:{line}"
    return f"{path} [{entry}]" if entry else path
