"""Materialized term counts: every transcript's token counts, computed once and kept current.

``materialize(store)`` counts the transcripts that have not been counted yet (incremental), in
batches of whole transcripts, with one kernel that every engine uses (this module, threaded, and
the Ray path of issue 7 through :func:`count_kernel`), so results are identical by construction.
Counts land in ``doc_term_lists`` / ``doc_tokens`` (per transcript; ``doc_terms`` is the
documented view) and ``step_term_counts`` / ``step_token_counts`` (per run, step, environment,
scope); the schemas are in ``analytics/store/migrations/0002_terms.sql``, ``0007_sparse_counts.sql``
and ``docs/terms.md``.

Why the kernel is fast and still exactly the token contract (``cotwatch.analytics.terms.tokens``):

* For text that is ASCII once the curly apostrophe U+2019 (and a few punctuation marks that are
  separators in every engine: dashes, curly double quotes, ellipsis, bullets, arrows...) are
  replaced, the contract reduces to bytes: lowercase ``A-Z``, every byte other than ``a-z0-9'`` is
  a separator, and an apostrophe is part of a token exactly when both neighbours are letters or
  digits of the same string (the regex is greedy, so ``a'b`` always joins). The compiled kernel
  (``analytics/terms/_tokcount.c``) does that in one pass over the batch's bytes with one hash table
  of the batch's tokens, and sums the per-transcript counts per cell on the way.
* Any other text (letters outside ASCII: accents, Turkish dotted I, Greek final sigma, combining
  marks...) is cut by the contract itself, ``re`` on ``str.lower()``, and handed to the same
  kernel as pre-cut tokens, so the edge cases of Unicode case mapping can never diverge.

``materialize`` reads and counts batches in threads (DuckDB and the kernel release the GIL)
while the calling thread appends the results and commits every ``COMMIT_BYTES`` of text. The
ingest counts the chunks it stores the same way, in the same transaction (:class:`StoreCounter`),
and the shard merge hands its partials to the same merger: per-cell sums are aggregated in one
place, the compiled sums table (``sums_add``), whichever path produced the counts.

A transcript is *pending* (not counted) exactly when it has no ``doc_tokens`` rows: counts are
written in the same transaction as what they count, so a crash leaves whole transcripts either
counted or pending, and :func:`materialize` (run by every writing command, see
:func:`resume_pending`) picks up whatever is pending. A huge segment is counted in pieces of
``PIECE_BYTES`` cut at whitespace (which the token contract never joins across), so counting
memory stays bounded per piece, not per transcript.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import numpy as np
from cotwatch.analytics.arrowbuf import byte_lengths, combined, numeric, strings, to_numpy
from cotwatch.analytics.kinds import SCOPE_OF_KIND
from cotwatch.analytics.kinds import STORED_SCOPES as SCOPE_NAMES
from cotwatch.analytics.store.database import Store, registered
from cotwatch.analytics.store.sqlfiles import load_sql
from cotwatch.analytics.terms.tokens import TOKEN_RE, normalize

_SCOPE_CODE = {name: i for i, name in enumerate(SCOPE_NAMES)}
_KIND_NAMES = tuple(SCOPE_OF_KIND)
_KIND_SCOPE_CODES = np.array([_SCOPE_CODE[SCOPE_OF_KIND[k]] for k in _KIND_NAMES] + [2], np.int64)

#: Text per batch (bytes). Batches hold whole transcripts; memory per worker is ~15x this.
BATCH_BYTES = 8_000_000
#: DuckDB memory limit while materializing ($COTWATCH_TERMS_MEMORY overrides): the buffer pool
#: would otherwise cache the whole segments table it scans.
TERMS_MEMORY = "256MB"
#: Text merged per transaction while materializing (bytes).
COMMIT_BYTES = 96_000_000
#: Below this much pending text, counting stays in the calling thread (threads gain little there).
PARALLEL_MIN_BYTES = 16_000_000
#: Segments longer than this (bytes) are counted in pieces cut after whitespace.
PIECE_BYTES = 1 << 20

#: Non-ASCII characters that are separators under the contract in every engine (not letters or
#: digits, lowercase to themselves): replaced by a space before the byte path. U+2019 is not
#: here: it becomes an apostrophe. tests/test_tokens.py checks each against the contract.
SEPARATOR_PUNCTUATION = (
    "\u2018\u201c\u201d\u2013\u2014\u2026\u2022\u00a0\u2192\u2190\u00b7\u00d7\u2264\u2265"
    "\u2260\u00b1\u00b0\u00ab\u00bb\u2212\u2248"
)

# --------------------------------------------------------------------------------------------
# The kernel
# --------------------------------------------------------------------------------------------
def _compiled():
    try:
        from cotwatch.analytics.terms import _tokcount
    except ImportError as exc:  # a source tree whose extension was never built
        raise ImportError(
            "cotwatch.analytics.terms._tokcount (the compiled counting kernel, analytics/terms/_tokcount.c) is not built: "
            "install the package with `pip install -e .` (needs a C compiler and the Python headers)"
        ) from exc
    return _tokcount


def count_kernel(batch):
    """Arrow table (transcript_pk, kind, text) → (doc_terms, doc_tokens) Arrow tables.

    doc_terms: (transcript_pk int64, scope string, term string, n int32), one row per token
    occurring in a (transcript, scope), ordered by transcript and scope; doc_tokens:
    (transcript_pk int64, scope string, tokens int64) with a row for every scope of every
    transcript in the batch (0 when it has no such text). A transcript must not span two
    batches; then partials from any split of a corpus sum to the same result. ``scope`` and
    ``term`` are dictionary-encoded strings (compact to ship between processes; ``to_pylist()``,
    Parquet and DuckDB see plain strings). ``kind`` outside the known segment kinds (or null)
    counts as ``other``, null text as empty.

    >>> import pyarrow as pa
    >>> t, d = count_kernel(pa.table({"transcript_pk": [7], "kind": ["reasoning"], "text": ["Wait, wait."]}))
    >>> t.to_pylist()
    [{'transcript_pk': 7, 'scope': 'reasoning', 'term': 'wait', 'n': 2}]
    """
    import pyarrow as pa

    k = _count_arrays(batch, with_cells=False)
    scope_labels = _scope_names()
    lengths = np.diff(k["list_offsets"])
    list_groups = k["list_groups"]
    doc_terms = pa.table({
        "transcript_pk": numeric(np.repeat(k["doc_pks"][list_groups // 3], lengths), pa.int64()),
        "scope": pa.DictionaryArray.from_arrays(numeric(np.repeat(list_groups % 3, lengths), pa.int8()), scope_labels),
        "term": pa.DictionaryArray.from_arrays(numeric(k["terms"]), k["vocab"]),
        "n": numeric(k["counts"], pa.int32()),
    })
    all_groups = np.arange(len(k["doc_pks"]) * 3)
    doc_tokens = pa.table({
        "transcript_pk": numeric(k["doc_pks"][all_groups // 3], pa.int64()),
        "scope": pa.DictionaryArray.from_arrays(numeric(all_groups % 3, pa.int8()), scope_labels),
        "tokens": numeric(k["group_tokens"], pa.int64()),
    })
    return doc_terms, doc_tokens


def _count_arrays(batch, *, with_cells: bool) -> dict:
    """The kernel proper: a batch of rows (transcript_pk, kind, text[, run, step, environment])
    counted by ``cotwatch.analytics.terms._tokcount.count_batch`` (see analytics/terms/_tokcount.c for the arrays).

    ASCII rows (after U+2019 becomes an apostrophe and separator punctuation a space) are cut by
    the compiled byte path of the contract; any other row is cut by the contract itself (``re``
    on ``str.lower()`` text, :mod:`cotwatch.analytics.terms.tokens`) and handed over as pre-cut tokens, so the
    edge cases of Unicode case mapping can never diverge. ``with_cells``: documents are grouped
    into cells by (run, step, environment) for the per-cell sums; otherwise one cell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    names = ["transcript_pk", "kind", "text"] + (["run", "step", "environment"] if with_cells else [])
    batch = _in_pieces(batch.select(names).combine_chunks())
    pks = to_numpy(batch.column("transcript_pk")).astype(np.int64, copy=False)
    if len(pks) > 1 and np.any(pks[1:] < pks[:-1]):  # the compiled kernel wants documents ascending
        order = np.argsort(pks, kind="stable")
        batch, pks = batch.take(numeric(order)), pks[order]
    starts = np.flatnonzero(np.r_[True, pks[1:] != pks[:-1]]) if len(pks) else np.zeros(0, np.int64)
    doc_pks = pks[starts]
    doc_of_row = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(pks)]))
    kind_idx = pc.index_in(batch.column("kind").cast(pa.string()), value_set=strings(_KIND_NAMES))
    kind_idx = to_numpy(kind_idx, fill=len(_KIND_NAMES))
    groups = doc_of_row * 3 + _KIND_SCOPE_CODES[kind_idx]

    text = batch.column("text").cast(pa.large_string()).chunk(0) if batch.num_rows else pa.nulls(0, pa.large_string())
    # modes of analytics/terms/_tokcount.c: 0 ASCII text, 1 pre-cut tokens, 2 null, 3 rewritten ASCII
    modes = np.zeros(len(text), np.uint8)
    if text.null_count:
        modes[to_numpy(text.is_null())] = 2
    offsets = np.frombuffer(text.buffers()[1], np.int64)[text.offset : text.offset + len(text) + 1]
    first = int(offsets[0]) if len(offsets) else 0
    raw = text.buffers()[2]
    data = memoryview(raw)[first : int(offsets[-1])] if raw is not None and len(offsets) else b""
    row_starts, row_ends = offsets[:-1] - first, offsets[1:] - first
    extra = b""
    ascii_rows = to_numpy(pc.string_is_ascii(text), fill=True)
    if not ascii_rows.all():  # rewrite these rows into `extra`; the rest stays in place
        other = np.flatnonzero(~ascii_rows)
        rewritten = _replace_separator_punctuation(text.take(numeric(other)))
        still = ~to_numpy(pc.string_is_ascii(rewritten), fill=True)
        if byte_lengths(rewritten).sum() <= PIECE_BYTES * 4:  # the usual small batch: all at once
            rows = rewritten.to_pylist()
            for i in np.flatnonzero(still).tolist():
                rows[i] = "\n".join(TOKEN_RE.findall(normalize(rows[i])))
            encoded = [row.encode() for row in rows]
            sizes = np.fromiter(map(len, encoded), np.int64, len(encoded))
            extra = b"".join(encoded)
            del rows, encoded
        else:  # a lot of such text: one row at a time, so only one row's Python strings live
            buffer, sizes = bytearray(), np.zeros(len(other), np.int64)
            for i in range(len(other)):
                row = rewritten[i].as_py() or ""
                piece = ("\n".join(TOKEN_RE.findall(normalize(row))) if still[i] else row).encode()
                buffer += piece
                sizes[i] = len(piece)
                del row, piece
            extra = bytes(buffer)
            del buffer
        del rewritten
        row_starts, row_ends = row_starts.copy(), row_ends.copy()
        row_ends[other] = np.cumsum(sizes)
        row_starts[other] = row_ends[other] - sizes
        modes[other] = np.where(still, 1, 3)
    if with_cells:
        cell_of_doc, cell_keys = _cells_of_docs(batch, starts)
    else:
        cell_of_doc, cell_keys = np.zeros(len(doc_pks), np.int64), None
    out = _compiled().count_batch(data, extra, np.ascontiguousarray(row_starts), np.ascontiguousarray(row_ends),
                                  np.ascontiguousarray(groups, np.int64), modes,
                                  np.ascontiguousarray(cell_of_doc, np.int64))
    (list_groups, list_offsets, terms, counts, group_tokens, step_bins, step_terms, occurrences, docs_with_term,
     sum_n2, sum_n_tokens, vocab_offsets, vocab_data) = out
    n_vocab = len(vocab_offsets) // 8 - 1
    vocab = pa.LargeStringArray.from_buffers(n_vocab, pa.py_buffer(vocab_offsets), pa.py_buffer(vocab_data)).cast(pa.string())
    i64 = lambda b: np.frombuffer(b, np.int64)  # noqa: E731
    i32 = lambda b: np.frombuffer(b, np.int32)  # noqa: E731
    return {
        "doc_pks": doc_pks, "cell_of_doc": cell_of_doc, "cell_keys": cell_keys,
        "list_groups": i64(list_groups), "list_offsets": i64(list_offsets), "terms": i32(terms), "counts": i32(counts),
        "group_tokens": i64(group_tokens), "vocab": vocab,
        "step_bins": i64(step_bins), "step_terms": i32(step_terms), "occurrences": i64(occurrences),
        "docs_with_term": i64(docs_with_term), "sum_n2": i64(sum_n2), "sum_n_tokens": i64(sum_n_tokens),
    }


_WHITESPACE_BYTE = __import__("re").compile(rb"[ \t\n\r\x0b\x0c]")


def _in_pieces(batch, piece: int | None = None):
    """``batch`` with every text longer than ``piece`` bytes (default :data:`PIECE_BYTES`) cut
    into several rows of the same transcript and kind, each cut right after an ASCII whitespace
    byte. Under the token contract whitespace separates tokens and ends every context that
    lowercasing looks at (the final sigma), so the pieces count exactly as the whole; a row without
    whitespace stays whole. Rows keep their order, so a transcript's rows stay together."""
    import pyarrow as pa
    import pyarrow.compute as pc

    piece = piece or PIECE_BYTES
    if batch.num_rows == 0:
        return batch
    lengths = byte_lengths(batch.column("text"))
    long_rows = np.flatnonzero(lengths > piece)
    if len(long_rows) == 0:
        return batch
    # ASCII rows are counted in place by the compiled byte path, whatever their length
    ascii_long = to_numpy(pc.string_is_ascii(batch.column("text").take(numeric(long_rows))), fill=True)
    long_rows = long_rows[~ascii_long]
    if len(long_rows) == 0:
        return batch
    parts, start = [], 0
    text_index = batch.schema.get_field_index("text")
    for row in long_rows.tolist():
        if row > start:
            parts.append(batch.slice(start, row - start))
        data = memoryview(batch.column("text")[row].as_buffer())
        cuts, pos = [0], piece
        while pos < len(data):
            found = _WHITESPACE_BYTE.search(data, pos)
            if found is None:
                break
            cuts.append(found.end())
            pos = found.end() + piece
        cuts.append(len(data))
        texts = [str(data[a:b], "utf-8") for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
        del data
        rest = batch.slice(row, 1).remove_column(text_index).take(numeric(np.zeros(len(texts), np.int64)))
        parts.append(rest.add_column(text_index, batch.schema.field("text"),
                                     strings(texts, batch.schema.field("text").type)))
        del texts
        start = row + 1
    if start < batch.num_rows:
        parts.append(batch.slice(start))
    return pa.concat_tables(parts).combine_chunks()


def _cells_of_docs(batch, starts: np.ndarray):
    """Cell id of each document (its first row's run, step, environment) and the cells' keys."""
    keys = batch.select(["run", "step", "environment"]).take(numeric(starts)).to_pydict()
    ids: dict[tuple, int] = {}
    cell_of_doc = np.fromiter(
        (ids.setdefault(key, len(ids)) for key in zip(keys["run"], keys["step"], keys["environment"])),
        np.int64, len(starts),
    )
    cell_keys = {"run": [k[0] for k in ids], "step": [k[1] for k in ids], "environment": [k[2] for k in ids]}
    return cell_of_doc, cell_keys


def _replace_separator_punctuation(text):
    """U+2019 becomes an apostrophe, separator punctuation a space (non-ASCII rows only)."""
    import pyarrow.compute as pc

    text = pc.replace_substring(text, "\u2019", "'")
    for ch in SEPARATOR_PUNCTUATION:
        text = pc.replace_substring(text, ch, " ")
    return text


# --------------------------------------------------------------------------------------------
# Materializing into the store
# --------------------------------------------------------------------------------------------
def pending_transcripts(store: Store) -> int:
    """How many transcripts have no materialized counts yet."""
    return store.rows(load_sql("termcounts_pending_count"))[0][0]


def pending_note(store: Store) -> str | None:
    """One line for reading commands when counts are incomplete (else None): answers from term
    counts then leave those transcripts out until a writing command or `terms materialize` runs."""
    pending = pending_transcripts(store)
    if not pending:
        return None
    return (f"term counts are incomplete: {pending:,} transcript(s) not counted yet; token and term "
            "figures leave them out until `cotwatch terms materialize` (or any ingest) counts them")


def resume_pending(store: Store, *, workers: int | None = None) -> int:
    """Count whatever is pending (an interrupted or deferred count); every writing command calls
    this, so counts never stay stale. Returns how many transcripts it counted."""
    if store.read_only or not pending_transcripts(store):
        return 0
    return materialize(store, workers=workers)


def _read_batch(store: Store, lo: int, hi: int, clean: bool = False):
    """Segments of the uncounted transcripts with lo <= pk <= hi (``clean``: all of them are)."""
    sql = load_sql("termcounts_batch_clean" if clean else "termcounts_batch")
    return store.con.sql(sql, params={"lo": lo, "hi": hi}).to_arrow_table()


def counting_memory(store: Store):
    """Context manager: DuckDB's memory limit while counting ($COTWATCH_TERMS_MEMORY overrides
    TERMS_MEMORY), restored afterwards."""
    import contextlib

    @contextlib.contextmanager
    def limited():
        previous = store.rows("select current_setting('memory_limit')")[0][0]
        store.con.execute("set memory_limit = $limit", {"limit": os.environ.get("COTWATCH_TERMS_MEMORY", TERMS_MEMORY)})
        try:
            yield
        finally:
            store.con.execute("set memory_limit = $limit", {"limit": previous})

    return limited()


def materialize(store: Store, *, workers: int | None = None, batch_bytes: int = BATCH_BYTES) -> int:
    """Count every transcript not yet counted; returns how many were counted.

    Batches of whole transcripts are merged in transactions of about ``COMMIT_BYTES`` of text
    (memory stays flat however large the backlog); an interrupted run leaves whole batches
    counted and the rest pending.

    ``workers``: counting threads (default: the number of CPUs, at most 4, and only when there
    is more than ``PARALLEL_MIN_BYTES`` of text to count; 1 = in the calling thread). The
    calling thread merges each batch while the threads read and count the next ones.
    """
    before = pending_transcripts(store)
    if not before:
        return 0
    with counting_memory(store):
        _materialize(store, workers, batch_bytes)
    return before - pending_transcripts(store)


def _materialize(store: Store, workers: int | None, batch_bytes: int) -> None:
    # Transactions of about COMMIT_BYTES of text: DuckDB keeps a transaction's appends in memory
    # until commit, so one transaction for everything would grow with the backlog, while a
    # commit per small batch pays the commit's fixed cost too often. Each batch is
    # self-contained (its transcripts' rows and their per-cell sums), so an interrupted run
    # leaves whole batches counted and the rest pending.
    block = store.rows(load_sql("termcounts_block"), {"target": batch_bytes})[0][0]
    ranges = store.rows(load_sql("termcounts_pending"), {"target": batch_bytes, "block": block})
    total_bytes = sum(r[2] for r in ranges)
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if total_bytes > PARALLEL_MIN_BYTES else 1
    if workers <= 1 or len(ranges) <= 1:
        results = (_count_and_prepare(_read_batch(store, lo, hi, clean)) for lo, hi, _, clean in ranges)
    else:
        results = _parallel_counts(store, ranges, workers)
    merger = StoreMerger(store, expected_bytes=total_bytes)
    pending_bytes = 0
    store.con.execute("begin transaction")
    try:
        for (_, _, size, _), prepared in zip(ranges, results):
            merger.merge(prepared)
            pending_bytes += size
            if pending_bytes >= COMMIT_BYTES:
                merger.flush()
                store.con.execute("commit")
                store.con.execute("begin transaction")
                pending_bytes = 0
        merger.flush()
        _compact(store)
    except BaseException:
        store.con.execute("rollback")
        raise
    finally:
        if hasattr(results, "close"):  # stop the counting threads now, not when collected
            results.close()
    store.con.execute("commit")


def _parallel_counts(store: Store, ranges: list[tuple], workers: int) -> Iterator[dict]:
    """Prepared partials in batch order, read and counted by ``workers`` threads a few batches
    ahead, each reading through its own cursor on the store.

    Threads, not processes: DuckDB and the compiled kernel release the GIL, so a batch's text
    never has to be copied to another process, while this thread appends and commits results.
    The cursors see the committed store: enough, since ranges are disjoint and a range only has
    to skip transcripts counted before this run."""
    from concurrent.futures import ThreadPoolExecutor

    def task(lo: int, hi: int, clean: bool):
        cursor = store.con.cursor()
        try:
            batch = cursor.sql(load_sql("termcounts_batch_clean" if clean else "termcounts_batch"),
                               params={"lo": lo, "hi": hi}).to_arrow_table()
        finally:
            cursor.close()
        return _count_and_prepare(batch)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cotwatch-terms") as pool:
        queue = iter(ranges)
        pending = [pool.submit(task, lo, hi, clean) for lo, hi, _, clean in itertools.islice(queue, workers + 1)]
        try:
            while pending:
                result = pending.pop(0).result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.append(pool.submit(task, nxt[0], nxt[1], nxt[3]))
                yield result
        finally:
            for future in pending:
                future.cancel()


class StoreCounter:
    """Counting overlapped with storing: the ingest hands each chunk's new transcripts (rows
    transcript_pk, kind, text, run, step, environment, every transcript whole) to :meth:`submit`;
    a thread counts them with the kernel while the ingest stores the next chunk, and the results
    are appended in the caller's open transaction (the one that stores the transcripts), so a
    file's transcripts and their counts commit together. :meth:`finish` waits for the last
    results and appends the file's per-cell sums; :meth:`discard` forgets everything since the
    last finish (the file's transaction is being rolled back)."""

    #: Text per counted batch (bytes): the kernel holds several times a batch, so the ingest's
    #: chunks are counted in slices of whole transcripts about this large.
    BATCH_BYTES = 2_000_000

    def __init__(self, store: Store, *, expected_bytes: int = 0, workers: int = 1, ahead: int = 2):
        from concurrent.futures import ThreadPoolExecutor

        self.store = store
        self.expected_bytes = expected_bytes
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="cotwatch-count")
        self.ahead = max(1, ahead)
        self.pending: list = []
        self.merger: StoreMerger | None = None

    def submit(self, batch) -> None:
        """Count ``batch`` (rows of whole transcripts, ordered by transcript) in the background,
        in slices of about ``BATCH_BYTES`` of text; merge whatever is counted already."""
        for piece in _slices_of_whole_transcripts(batch, self.BATCH_BYTES):
            self.pending.append(self.pool.submit(_count_and_prepare, piece))
            while len(self.pending) > self.ahead:
                self._merge(self.pending.pop(0).result())
        while self.pending and self.pending[0].done():
            self._merge(self.pending.pop(0).result())

    def _merge(self, prepared) -> None:
        if self.merger is None:
            self.merger = StoreMerger(self.store, expected_bytes=self.expected_bytes)
        self.merger.merge(prepared)

    def finish(self) -> None:
        """Append every pending result and the per-cell sums (in the caller's transaction)."""
        while self.pending:
            self._merge(self.pending.pop(0).result())
        if self.merger is not None:
            self.merger.flush()

    def discard(self) -> None:
        for future in self.pending:
            future.cancel()
        for future in self.pending:
            if not future.cancelled():
                try:
                    future.result()
                except BaseException:  # noqa: BLE001 - the file is abandoned anyway
                    pass
        self.pending = []
        self.merger = None  # its vocabulary ids and sums belong to the rolled-back transaction

    def close(self) -> None:
        self.discard()
        self.pool.shutdown(wait=True, cancel_futures=True)


def _slices_of_whole_transcripts(batch, target: int):
    """``batch`` cut into consecutive slices of about ``target`` bytes of text, never inside a
    transcript (rows of one transcript are consecutive)."""
    if batch.num_rows == 0:
        return []
    sizes = byte_lengths(batch.column("text"))
    if sizes.sum() <= target:
        return [batch]
    pks = to_numpy(batch.column("transcript_pk"))
    boundary = np.r_[True, pks[1:] != pks[:-1]]  # rows that start a transcript
    cumulative = np.cumsum(sizes)
    slices, start = [], 0
    while start < batch.num_rows:
        end = int(np.searchsorted(cumulative, cumulative[start] - sizes[start] + target, side="right"))
        end = max(end, start + 1)
        while end < batch.num_rows and not boundary[end]:
            end += 1
        slices.append(batch.slice(start, end - start))
        start = end
    return slices


class StoreMerger:
    """Appends counted batches to the store: per-transcript term lists and tokens as they come,
    per-cell sums folded in the compiled sums table (``_tokcount.sums_*``) and appended by
    :meth:`flush` — the one aggregation path of per-cell sums for materialize, the ingest and
    the shard merge. Runs in the caller's transaction; after a rollback, make a new one."""

    def __init__(self, store: Store, *, expected_bytes: int = 0) -> None:
        self.store = store
        vocab_rows = store.rows(load_sql("termcounts_vocab_size"))[0][0]
        self.vocab_ids = _VocabIds(store.con, complete=vocab_rows * 64 < expected_bytes)
        self.step_sums = _StepSums()

    def merge(self, prepared: dict | None) -> None:
        if prepared is None:
            return
        global_id = self.vocab_ids.ids(prepared["vocab"], prepared["used"])
        _insert_docs(self.store, prepared, global_id)
        self.step_sums.add(prepared, global_id)

    def flush(self) -> None:
        self.step_sums.flush(self.store)


def merge_partials(store: Store, doc_terms, doc_tokens) -> int:
    """Add kernel output (Arrow tables) to the store; returns how many transcripts it added.

    Safe to repeat: rows of transcripts that are already counted, or that the store does not
    hold, are ignored, so a re-run or a retried job never double-counts. Call inside
    ``store.atomic()`` to make several merges one transaction; the step tables are compacted
    (one row per key) at the end of each call. Columns may be plain or dictionary-encoded
    strings, in any row order. Per-cell sums go through the same merger as ``materialize``.
    """
    import pyarrow as pa

    con = store.con
    pks = np.unique(to_numpy(doc_tokens.column("transcript_pk")).astype(np.int64))
    with registered(con, _batch_pks=pa.table({"pk": numeric(pks, pa.int64())})):
        cells = con.sql(load_sql("termcounts_batch_cells"), params={"trusted": False}).to_arrow_table()
    if cells.num_rows == 0:
        return 0
    prepared = _prepared_from_partials(doc_terms, doc_tokens, cells)
    merger = StoreMerger(store)
    merger.merge(prepared)
    merger.flush()
    _compact(store)
    return prepared["transcripts"]


def _scope_codes(column) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = pc.index_in(column.cast(pa.string()), value_set=_scope_names())
    if codes.null_count:
        from cotwatch.analytics.errors import InputError

        bad = pc.filter(column.cast(pa.string()), pc.is_null(codes))[0]
        raise InputError(f"term-count partial: unknown scope {bad.as_py()!r} (expected one of {SCOPE_NAMES})")
    return to_numpy(codes).astype(np.int64)


def _prepared_from_partials(doc_terms, doc_tokens, cells) -> dict:
    """Kernel output (per-transcript term counts and tokens, any order, any string encoding)
    restricted to the transcripts in ``cells`` (pk, cell, run, step, environment; ordered by pk)
    in the shape :func:`_count_and_prepare` gives the merger: per-transcript lists with local term
    ids (terms with n > 1 first), per-row step keys and values for the compiled sums table, per-bin
    token sums. No store access."""
    import pyarrow as pa
    import pyarrow.compute as pc

    new_pks = to_numpy(cells.column("pk")).astype(np.int64)
    cell_of_new = to_numpy(cells.column("cell")).astype(np.int64)
    n_cells = int(cell_of_new.max()) + 1 if len(cell_of_new) else 0
    first_row = np.zeros(n_cells, np.int64)
    first_row[cell_of_new[::-1]] = np.arange(len(cell_of_new))[::-1]
    cell_keys = {name: cells.column(name).take(numeric(first_row)).to_pylist() for name in ("run", "step", "environment")}

    def group_of(pk_values: np.ndarray, scopes: np.ndarray) -> np.ndarray:
        """position of the pk among new_pks * 3 + scope; -1 when not new"""
        pos = np.minimum(np.searchsorted(new_pks, pk_values), len(new_pks) - 1)
        return np.where(new_pks[pos] == pk_values, pos * 3 + scopes, -1)

    tok_group = group_of(to_numpy(doc_tokens.column("transcript_pk")).astype(np.int64),
                         _scope_codes(doc_tokens.column("scope")))
    tok_n = to_numpy(doc_tokens.column("tokens")).astype(np.int64)
    keep = tok_group >= 0
    group_tokens = np.zeros(len(new_pks) * 3, np.int64)
    group_tokens[tok_group[keep]] = tok_n[keep]

    term_col = doc_terms.column("term")
    term_col = combined(term_col)
    if pa.types.is_dictionary(term_col.type):
        term_col = term_col.cast(term_col.type.value_type)
    term_col = pc.dictionary_encode(term_col)
    vocab = term_col.dictionary.cast(pa.string())
    local = to_numpy(term_col.indices).astype(np.int64)
    row_group = group_of(to_numpy(doc_terms.column("transcript_pk")).astype(np.int64),
                         _scope_codes(doc_terms.column("scope")))
    n = to_numpy(doc_terms.column("n")).astype(np.int64)
    keep = row_group >= 0
    row_group, local, n = row_group[keep], local[keep], n[keep]
    order = np.lexsort((n == 1, row_group))  # by (transcript, scope); terms with n > 1 first
    row_group, local, n = row_group[order], local[order], n[order]
    starts = np.flatnonzero(np.r_[True, row_group[1:] != row_group[:-1]]) if len(row_group) else np.zeros(0, np.int64)
    head = row_group[starts]
    bins = n_cells * 3
    all_groups = np.arange(len(new_pks) * 3)
    group_bin = cell_of_new[all_groups // 3] * 3 + all_groups % 3
    return {
        "transcripts": len(new_pks),
        "tokens": _tokens_table(new_pks[all_groups // 3], all_groups % 3, group_tokens),
        "list_pk": new_pks[head // 3],
        "list_scope": head % 3,
        "list_offsets": np.r_[starts, len(row_group)].astype(np.int32),
        "local_ids": local.astype(np.int32),
        "counts": n.astype(np.int32),
        "vocab": vocab,
        "used": np.bincount(local, minlength=len(vocab)) > 0 if len(local) else np.zeros(len(vocab), bool),
        "cell_keys": cell_keys,
        # one row per (transcript, scope, term): the sums table folds them per (cell, scope, term)
        "step_bins": group_bin[row_group],
        "step_terms": local.astype(np.int32),
        "step_sums": (n, np.ones(len(n), np.int64), n * n, n * group_tokens[row_group]),
        "token_sums": _token_sums(group_bin, group_tokens, bins),
    }


def _scope_names():
    """The stored scopes as an Arrow string array (their codes are positions in it)."""
    return strings(SCOPE_NAMES)


def _tokens_table(pks: np.ndarray, scope_codes: np.ndarray, tokens: np.ndarray):
    """Tokens per (transcript, scope) as the doc_tokens rows are appended."""
    import pyarrow as pa

    return pa.table({"transcript_pk": numeric(pks, pa.int64()), "scope": _scope_names().take(numeric(scope_codes)),
                     "tokens": numeric(tokens, pa.int64())})


def _token_sums(group_bin: np.ndarray, group_tokens: np.ndarray, bins: int) -> np.ndarray:
    """Per bin (cell * 3 + scope): transcripts, docs (with tokens), tokens, sum of tokens^2."""
    return np.stack([
        np.bincount(group_bin, minlength=bins),
        np.bincount(group_bin, weights=group_tokens > 0, minlength=bins),
        np.bincount(group_bin, weights=group_tokens, minlength=bins),
        np.bincount(group_bin, weights=group_tokens.astype(np.float64) ** 2, minlength=bins),
    ]).round().astype(np.int64)


def _count_and_prepare(batch) -> dict | None:
    """Count one batch of whole transcripts (rows transcript_pk, kind, text, run, step,
    environment; every transcript in it is new) and shape it for the store: per-transcript lists
    with batch-local term ids, and per-cell sums with batch-local cell and term ids (folded per
    commit by :class:`_StepSums`), all from the compiled kernel. No store access: runs in the
    counting threads."""
    if batch.num_rows == 0:
        return None
    k = _count_arrays(batch, with_cells=True)
    doc_pks, cell_of_doc = k["doc_pks"], k["cell_of_doc"]
    n_docs, bins = len(doc_pks), len(k["cell_keys"]["run"]) * 3
    group_tokens = k["group_tokens"]
    all_groups = np.arange(n_docs * 3)
    group_bin = cell_of_doc[all_groups // 3] * 3 + all_groups % 3
    list_groups = k["list_groups"]
    return {
        "transcripts": n_docs,
        "tokens": _tokens_table(doc_pks[all_groups // 3], all_groups % 3, group_tokens),
        "list_pk": doc_pks[list_groups // 3],
        "list_scope": list_groups % 3,
        "list_offsets": k["list_offsets"].astype(np.int32),
        "local_ids": k["terms"],  # per list: terms with n > 1 first (the kernel orders them so)
        "counts": k["counts"],
        "vocab": k["vocab"],
        "used": np.ones(len(k["vocab"]), bool),
        "cell_keys": k["cell_keys"],
        "step_bins": k["step_bins"],
        "step_terms": k["step_terms"],
        "step_sums": (k["occurrences"], k["docs_with_term"], k["sum_n2"], k["sum_n_tokens"]),
        "token_sums": _token_sums(group_bin, group_tokens, bins),
    }


class _StepSums:
    """The step-table sums of the batches of one commit, folded to one row per key before they
    are appended (per batch, they would be one partial row per batch and key: tens of millions of
    rows on a large vocabulary, all folded again at the end). Cells are numbered here, across
    batches; term ids are the global ``term_vocab`` ids."""

    def __init__(self) -> None:
        self.terms = _compiled().sums_new()
        self.cells: dict[tuple, int] = {}
        self.tokens: dict[int, np.ndarray] = {}

    def add(self, prepared: dict, global_id: np.ndarray) -> None:
        keys = prepared["cell_keys"]
        cell = np.array([self.cells.setdefault(key, len(self.cells))
                         for key in zip(keys["run"], keys["step"], keys["environment"])], np.int64)
        bins = np.asarray(prepared["step_bins"], np.int64)
        key = ((cell[bins // 3] * 3 + bins % 3) << 32) | global_id[prepared["step_terms"]]
        _compiled().sums_add(self.terms, np.ascontiguousarray(key),
                             *(np.ascontiguousarray(v, np.int64) for v in prepared["step_sums"]))
        token_sums = prepared["token_sums"]
        for local in np.flatnonzero(token_sums[0]).tolist():
            global_bin = int(cell[local // 3]) * 3 + local % 3
            self.tokens[global_bin] = self.tokens.get(global_bin, 0) + token_sums[:, local]

    def flush(self, store: Store) -> None:
        """Append the folded sums (in the caller's transaction) and start over."""
        import pyarrow as pa

        if not self.tokens:
            return
        key, occurrences, docs, n2, n_tokens = (np.frombuffer(b, np.int64) for b in _compiled().sums_drain(self.terms))
        scopes = _scope_names()
        cells = list(self.cells)
        token_bins = np.array(list(self.tokens), np.int64)
        token_sums = np.stack(list(self.tokens.values()), axis=1)
        bins = key >> 32
        with registered(
            store.con,
            _part_cells=pa.table({
                "cell": numeric(np.arange(len(cells)), pa.int64()),
                "run": strings([c[0] for c in cells]),
                "step": numeric(np.array([c[1] for c in cells], np.int64)),
                "environment": strings([c[2] for c in cells]),
            }),
            _part_step_terms=pa.table({
                "cell": numeric(bins // 3), "scope": scopes.take(numeric(bins % 3)),
                "term_id": numeric((key & 0xFFFFFFFF).astype(np.int32)),
                "occurrences": numeric(occurrences), "docs_with_term": numeric(docs),
                "sum_n2": numeric(n2), "sum_n_tokens": numeric(n_tokens),
            }),
            _part_step_tokens=pa.table({
                "cell": numeric(token_bins // 3), "scope": scopes.take(numeric(token_bins % 3)),
                **{name: numeric(token_sums[i]) for i, name in enumerate(("transcripts", "docs", "tokens", "sum_tokens2"))},
            }),
        ) as con:
            con.execute(load_sql("termcounts_merge_step_ids")).fetchall()
        self.tokens = {}
        self.cells = {}


def _insert_docs(store: Store, prepared: dict, global_id: np.ndarray) -> None:
    """Append a prepared partial's per-transcript rows: term lists with global term ids (sparse
    counts: each list's terms with n > 1 come first — the producers order them so — and only
    their counts are stored, migration 0007) and tokens per transcript and scope."""
    import pyarrow as pa

    offsets = prepared["list_offsets"]
    counts = prepared["counts"]
    multi = counts > 1
    per_list = np.add.reduceat(multi, offsets[:-1]) if len(counts) else np.zeros(len(offsets) - 1, np.int64)
    lists = pa.table({
        "transcript_pk": numeric(prepared["list_pk"], pa.int64()),
        "scope": _scope_names().take(numeric(prepared["list_scope"])),
        "term_ids": pa.ListArray.from_arrays(numeric(offsets, pa.int32()),
                                             numeric(global_id[prepared["local_ids"]], pa.int32())),
        "counts": pa.ListArray.from_arrays(numeric(np.r_[0, np.cumsum(per_list)], pa.int32()),
                                           numeric(counts[multi], pa.int32())),
    })
    with registered(store.con, _part_terms=lists, _part_tokens=prepared["tokens"]) as con:
        con.execute(load_sql("termcounts_merge_docs")).fetchall()


class _VocabIds:
    """term → global term_id: a compiled map (``cotwatch.analytics.terms._tokcount.ids_*``) in front of
    ``term_vocab``. ``complete``: the whole table is loaded first (worth it for a large backlog),
    so new terms are numbered here and appended without a lookup; otherwise a term not seen yet
    in this run is looked up, or added, in the store (``termcounts_vocab``)."""

    def __init__(self, con, *, complete: bool = False) -> None:
        import pyarrow as pa

        self.con = con
        self.map = _compiled().ids_new()
        self.complete = complete
        if complete:
            known = con.sql(load_sql("termcounts_vocab_all")).to_arrow_table()
            terms = combined(known.column("term")).cast(pa.string())
            known_ids = to_numpy(known.column("term_id")).astype(np.int64)
            if len(terms):
                _compiled().ids_put(self.map, *_string_buffers(terms), known_ids)
            self.next_id = int(known_ids.max()) + 1 if len(known_ids) else 1  # as termcounts_vocab numbers

    def ids(self, vocab, used: np.ndarray) -> np.ndarray:
        import pyarrow as pa

        ids = np.frombuffer(_compiled().ids_get(self.map, *_string_buffers(vocab)), np.int64).copy()
        missing = np.flatnonzero((ids < 0) & used)
        if len(missing):
            terms = vocab.take(numeric(missing))
            if self.complete:
                new = np.arange(self.next_id, self.next_id + len(missing), dtype=np.int64)
                self.next_id += len(missing)
                with registered(self.con, _new_terms=pa.table({"term_id": numeric(new, pa.int32()), "term": terms})):
                    self.con.execute(load_sql("termcounts_vocab_append")).fetchall()
            else:
                mask = np.zeros(len(vocab), bool)
                mask[missing] = True
                new = _global_term_ids(self.con, vocab, mask)[missing]
            ids[missing] = new
            _compiled().ids_put(self.map, *_string_buffers(terms), np.ascontiguousarray(new, np.int64))
        return ids


def _string_buffers(strings) -> tuple[np.ndarray, memoryview | bytes]:
    """(int32 offsets, data) of an Arrow string array without nulls, as ``ids_*`` take them."""
    offsets = np.frombuffer(strings.buffers()[1], np.int32)[strings.offset : strings.offset + len(strings) + 1]
    data = strings.buffers()[2]
    return np.ascontiguousarray(offsets), (memoryview(data) if data is not None else b"")


def _global_term_ids(con, vocab, used: np.ndarray) -> np.ndarray:
    """Global term_id for each entry of a partial's vocabulary (new terms are added)."""
    import pyarrow as pa

    idx = np.flatnonzero(used)
    with registered(con, _batch_vocab=pa.table({"idx": numeric(idx, pa.int64()), "term": vocab.take(numeric(idx))})):
        rows = con.sql(load_sql("termcounts_vocab")).to_arrow_table()
    ids = np.full(len(vocab), -1, np.int64)
    ids[to_numpy(rows.column("idx"))] = to_numpy(rows.column("term_id"))
    return ids


def _compact(store: Store) -> None:
    """One row per key in the step tables (merges append per-batch partial sums)."""
    store.con.execute(load_sql("termcounts_compact")).fetchall()


def compact(store: Store) -> None:
    """:func:`_compact` in its own transaction (after an ingest that appended per-file sums)."""
    with store.atomic():
        _compact(store)


# --------------------------------------------------------------------------------------------
# Materializing (for the CLI: one call, one summary row)
# --------------------------------------------------------------------------------------------
def materialize_counts(store: Store, workers: int | None = None):
    """Count every transcript not counted yet (:func:`materialize`); one summary row:
    counted, pending (after), transcripts, terms (vocabulary size), seconds."""
    import time

    import polars as pl

    start = time.perf_counter()
    counted = materialize(store, workers=workers)
    seconds = time.perf_counter() - start
    pending = pending_transcripts(store)
    total = store.rows("select count(*) from transcripts")[0][0]
    vocab = store.rows("select count(*) from term_vocab")[0][0]
    return pl.DataFrame({"counted": [counted], "pending": [pending], "transcripts": [total],
                         "terms": [vocab], "seconds": [round(seconds, 3)]})
