"""Materialized term counts: every transcript's token counts, computed once and kept current.

``materialize(store)`` counts the transcripts that have not been counted yet (incremental), in
batches of whole transcripts, with one kernel (:func:`count_kernel`) that every engine uses (this
module in one or several processes, and the Ray path of issue 7), so results are identical by
construction. Counts land in ``doc_terms`` / ``doc_tokens`` (per transcript) and
``step_term_counts`` / ``step_token_counts`` (per run, step, environment, scope); the schemas are
in ``analytics/migrations/0002_terms.sql`` and ``docs/terms.md``.

Why the kernel is fast and still exactly the token contract (``analytics.tokens``):

* For text that is ASCII once the curly apostrophe U+2019 (and a few punctuation marks that are
  separators in every engine: dashes, curly double quotes, ellipsis, bullets, arrows...) are
  replaced, the contract reduces to bytes: lowercase ``A-Z``, every byte other than ``a-z0-9'`` is
  a separator, and an apostrophe is part of a token exactly when both neighbours are letters or
  digits of the same string (the regex is greedy, so ``a'b`` always joins). That is one table
  lookup over the batch's byte buffer with numpy, a whitespace split in Arrow, a dictionary
  encoding of the tokens and one sort of integer (document, token) keys for the per-document
  counts — no regex engine, no Python loop per token.
* Any other text (a transcript with letters outside ASCII: accents, Turkish dotted I, Greek
  final sigma, combining marks...) is counted by the contract itself, ``re`` on ``str.lower()``,
  so the edge cases of Unicode case mapping can never diverge. A transcript's scope goes to one
  path whole, so its counts are never split between the two.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import numpy as np

from analytics.store import Store, load_sql
from analytics.tokens import TOKEN_RE, normalize

SCOPE_OF_KIND = {
    "reasoning": "reasoning",
    "reasoning_summary": "reasoning",
    "output": "output",
    "user": "other",
    "system": "other",
    "tool": "other",
}
SCOPE_NAMES = ("reasoning", "output", "other")
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
#: Below this much pending text, counting stays in this process (no worker start-up cost).
PARALLEL_MIN_BYTES = 48_000_000

#: Non-ASCII characters that are separators under the contract in every engine (not letters or
#: digits, lowercase to themselves): replaced by a space before the byte path. U+2019 is not
#: here: it becomes an apostrophe. tests/test_tokens.py checks each against the contract.
SEPARATOR_PUNCTUATION = (
    "\u2018\u201c\u201d\u2013\u2014\u2026\u2022\u00a0\u2192\u2190\u00b7\u00d7\u2264\u2265"
    "\u2260\u00b1\u00b0\u00ab\u00bb\u2212\u2248"
)

_SPACE = 32
_APOSTROPHE = 39
_LOWER = np.full(256, _SPACE, np.uint8)
for _c in range(256):
    if 48 <= _c <= 57 or 97 <= _c <= 122:
        _LOWER[_c] = _c
    elif 65 <= _c <= 90:
        _LOWER[_c] = _c + 32
_ALNUM = _LOWER != _SPACE
_TRANSLATE = bytes(_LOWER.tolist())
del _c


# --------------------------------------------------------------------------------------------
# The kernel
# --------------------------------------------------------------------------------------------
def count_kernel(batch):
    """Arrow table (transcript_pk, kind, text) → (doc_terms, doc_tokens) Arrow tables.

    doc_terms: (transcript_pk int64, scope string, term string, n int32), one row per token
    occurring in a (transcript, scope), ordered by transcript and scope; doc_tokens:
    (transcript_pk int64, scope string, tokens int64) with a row for every scope of every transcript in the batch (0 when it has no such
    text). A transcript must not span two batches; then partials from any split of a corpus sum
    to the same result. ``scope`` and ``term`` are dictionary-encoded strings (compact to ship
    between processes; ``to_pylist()``, Parquet and DuckDB see plain strings). ``kind`` outside the known segment kinds (or null) counts as ``other``,
    null text as empty.

    >>> import pyarrow as pa
    >>> t, d = count_kernel(pa.table({"transcript_pk": [7], "kind": ["reasoning"], "text": ["Wait, wait."]}))
    >>> t.to_pylist()
    [{'transcript_pk': 7, 'scope': 'reasoning', 'term': 'wait', 'n': 2}]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    batch = batch.select(["transcript_pk", "kind", "text"]).combine_chunks()
    n_rows = batch.num_rows
    pks = batch.column("transcript_pk").to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    kind_idx = pc.index_in(batch.column("kind").cast(pa.string()), value_set=pa.array(_KIND_NAMES))
    kind_idx = pc.fill_null(kind_idx, len(_KIND_NAMES)).to_numpy(zero_copy_only=False)
    scope_codes = _KIND_SCOPE_CODES[kind_idx]

    # one group per (transcript, scope) that has rows; every transcript gets all three scopes
    doc_pks, doc_inverse = np.unique(pks, return_inverse=True)
    group_of_row = doc_inverse.astype(np.int64) * 3 + scope_codes
    n_groups = len(doc_pks) * 3

    text = batch.column("text").cast(pa.large_string()).chunk(0) if n_rows else pa.array([], pa.large_string())
    text = pc.fill_null(text, "")
    ascii_rows = pc.string_is_ascii(text).to_numpy(zero_copy_only=False)
    if not ascii_rows.all():
        text = _replace_separator_punctuation(text, ascii_rows)
        ascii_rows = pc.string_is_ascii(text).to_numpy(zero_copy_only=False)
    # a (transcript, scope) goes to one path whole: the byte path only if all its rows are ASCII
    group_ascii = np.ones(n_groups, bool)
    group_ascii[group_of_row[~ascii_rows]] = False
    fast_rows = group_ascii[group_of_row]

    term_parts, group_parts, n_parts = [], [], []
    if fast_rows.any():
        fast_text = text.filter(pa.array(fast_rows)) if not fast_rows.all() else text
        groups, terms, counts = _count_ascii(fast_text, group_of_row[fast_rows])
        term_parts.append(terms)
        group_parts.append(groups)
        n_parts.append(counts)
    if not fast_rows.all():
        groups, terms, counts = _count_python(
            text.filter(pa.array(~fast_rows)).to_pylist(), group_of_row[~fast_rows]
        )
        term_parts.append(terms)
        group_parts.append(groups)
        n_parts.append(counts)
    groups = np.concatenate(group_parts) if group_parts else np.zeros(0, np.int64)
    counts = np.concatenate(n_parts) if n_parts else np.zeros(0, np.int32)
    if len(term_parts) == 1:
        encoded = term_parts[0]  # already dictionary-encoded, rows ordered by (transcript, scope)
    else:  # both routes (or none): one dictionary, rows ordered by (transcript, scope)
        plain = [t.cast(pa.string()) for t in term_parts]
        terms = pa.concat_arrays(plain) if plain else pa.array([], pa.string())
        order = np.argsort(groups, kind="stable")
        groups, counts = groups[order], counts[order]
        encoded = pc.dictionary_encode(terms.take(pa.array(order, pa.int64())))
    tokens_per_group = np.bincount(groups, weights=counts, minlength=n_groups).astype(np.int64)

    scope_labels = pa.array(SCOPE_NAMES, pa.string())
    doc_terms = pa.table({
        "transcript_pk": pa.array(doc_pks[groups // 3], pa.int64()),
        "scope": pa.DictionaryArray.from_arrays(pa.array((groups % 3).astype(np.int8)), scope_labels),
        "term": encoded,
        "n": pa.array(counts, pa.int32()),
    })
    all_groups = np.arange(n_groups)
    doc_tokens = pa.table({
        "transcript_pk": pa.array(doc_pks[all_groups // 3], pa.int64()),
        "scope": pa.DictionaryArray.from_arrays(pa.array((all_groups % 3).astype(np.int8)), scope_labels),
        "tokens": pa.array(tokens_per_group, pa.int64()),
    })
    return doc_terms, doc_tokens


def _replace_separator_punctuation(text, ascii_rows: np.ndarray):
    """In the non-ASCII rows only: U+2019 becomes an apostrophe, separator punctuation a space."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = np.flatnonzero(~ascii_rows)
    sub = pc.replace_substring(text.take(pa.array(rows)), "\u2019", "'")
    for ch in SEPARATOR_PUNCTUATION:
        sub = pc.replace_substring(sub, ch, " ")
    if len(rows) == len(text):
        return sub
    return pc.replace_with_mask(text, pa.array(~ascii_rows), sub)


def _count_ascii(text, group_of_row: np.ndarray):
    """(group, term, n) for ASCII rows: byte table lookup, split, per-group counts by sorting."""
    import pyarrow as pa
    import pyarrow.compute as pc

    offsets = np.frombuffer(text.buffers()[1], np.int64)[text.offset : text.offset + len(text) + 1]
    start, end = int(offsets[0]), int(offsets[-1])
    raw = text.buffers()[2]
    data = np.frombuffer(raw, np.uint8)[start:end] if raw is not None else np.zeros(0, np.uint8)
    out = bytearray(data.tobytes().translate(_TRANSLATE))  # lowercase; separators -> space
    apostrophes = np.flatnonzero(data == _APOSTROPHE)
    if len(apostrophes):
        # an apostrophe joins a token only between two letters/digits of the same row
        last = len(data) - 1
        prev_ok = _ALNUM[data[np.maximum(apostrophes - 1, 0)]] & (apostrophes > 0)
        next_ok = _ALNUM[data[np.minimum(apostrophes + 1, last)]] & (apostrophes < last)
        local = offsets - start
        row = np.searchsorted(local, apostrophes, side="right") - 1
        inside = (apostrophes != local[row]) & (apostrophes != local[row + 1] - 1)
        keep = apostrophes[prev_ok & next_ok & inside]
        np.frombuffer(out, np.uint8)[keep] = _APOSTROPHE
    cleaned = pa.LargeStringArray.from_buffers(len(text), pa.py_buffer(offsets - start), pa.py_buffer(out))
    pieces = pc.ascii_split_whitespace(cleaned)  # may yield "" at the ends of a row: dropped below
    per_row = pc.list_value_length(pieces).to_numpy(zero_copy_only=False)
    flat = pieces.flatten()
    if len(flat) == 0:
        return np.zeros(0, np.int64), pc.dictionary_encode(pa.array([], pa.string())), np.zeros(0, np.int32)
    encoded = pc.dictionary_encode(flat)
    vocab = encoded.dictionary
    width = len(vocab)
    key = np.repeat(group_of_row, per_row)
    key *= width
    key += encoded.indices.to_numpy()
    key.sort()
    first = np.empty(len(key), bool)
    first[0] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(starts, append=len(key)).astype(np.int32)
    uniq = key[starts]
    term_index = uniq % width
    empty = pc.index(vocab, "").as_py()
    if empty >= 0:
        real = term_index != empty
        uniq, term_index, counts = uniq[real], term_index[real], counts[real]
    terms = pa.DictionaryArray.from_arrays(pa.array(term_index.astype(np.int32)), vocab.cast(pa.string()))
    return uniq // width, terms, counts


def _count_python(texts: list[str], group_of_row: np.ndarray):
    """(group, term, n) by the contract itself: ``re`` on ``str.lower()`` text, per group."""
    import pyarrow as pa
    import pyarrow.compute as pc

    counters: dict[int, Counter] = {}
    for group, text in zip(group_of_row.tolist(), texts):
        counter = counters.setdefault(group, Counter())
        if text:
            counter.update(TOKEN_RE.findall(normalize(text)))
    groups, terms, counts = [], [], []
    for group, counter in counters.items():
        for term, n in counter.items():
            groups.append(group)
            terms.append(term)
            counts.append(n)
    return np.array(groups, np.int64), pc.dictionary_encode(pa.array(terms, pa.string())), np.array(counts, np.int32)


# --------------------------------------------------------------------------------------------
# Materializing into the store
# --------------------------------------------------------------------------------------------
def pending_transcripts(store: Store) -> int:
    """How many transcripts have no materialized counts yet."""
    return store.rows(load_sql("termcounts_pending_count"))[0][0]


def _read_batch(store: Store, lo: int, hi: int):
    return store.con.sql(load_sql("termcounts_batch"), params={"lo": lo, "hi": hi}).to_arrow_table()


def materialize(store: Store, *, workers: int | None = None, batch_bytes: int = BATCH_BYTES) -> int:
    """Count every transcript not yet counted; returns how many were counted.

    Each batch of whole transcripts is merged in its own transaction (memory stays flat however
    large the backlog); an interrupted run leaves whole batches counted and the rest pending.

    ``workers``: kernel processes (default: the number of CPUs, at most 4, and only when there
    is more than ``PARALLEL_MIN_BYTES`` of text to count; 1 = in this process). The store
    connection stays in this process, which merges each batch while the workers count the next.
    """
    before = pending_transcripts(store)
    if not before:
        return 0
    previous = store.rows("select current_setting('memory_limit')")[0][0]
    store.con.execute("set memory_limit = $limit", {"limit": os.environ.get("COTWATCH_TERMS_MEMORY", TERMS_MEMORY)})
    try:
        _materialize(store, workers, batch_bytes)
    finally:
        store.con.execute("set memory_limit = $limit", {"limit": previous})
    return before - pending_transcripts(store)


def _materialize(store: Store, workers: int | None, batch_bytes: int) -> None:
    # Transactions of about COMMIT_BYTES of text: DuckDB keeps a transaction's appends in memory
    # until commit, so one transaction for everything would grow with the backlog, while a
    # commit per small batch pays the commit's fixed cost too often. Each batch is
    # self-contained (its transcripts' rows and their per-cell sums), so an interrupted run
    # leaves whole batches counted and the rest pending.
    ranges = store.rows(load_sql("termcounts_pending"), {"target": batch_bytes})
    total_bytes = sum(r[2] for r in ranges)
    sizes = [r[2] for r in ranges]
    ranges = [(lo, hi) for lo, hi, _ in ranges]
    if workers is None:
        workers = min(os.cpu_count() or 1, 4) if total_bytes > PARALLEL_MIN_BYTES else 1
    if workers <= 1 or len(ranges) <= 1:
        results = (_count_and_prepare(_read_batch(store, lo, hi)) for lo, hi in ranges)
    else:
        results = _parallel_counts(store, ranges, workers)
    pending_bytes = 0
    store.con.execute("begin transaction")
    try:
        for size, prepared in zip(sizes, results):
            _insert_prepared(store, prepared)
            pending_bytes += size
            if pending_bytes >= COMMIT_BYTES:
                store.con.execute("commit")
                store.con.execute("begin transaction")
                pending_bytes = 0
        _compact(store)
    except BaseException:
        store.con.execute("rollback")
        raise
    store.con.execute("commit")


#: glibc malloc settings for kernel processes: keep large buffers in the heap for reuse instead
#: of mmap/munmap per batch (page faults were ~15% of a worker's CPU). Only where unset.
_WORKER_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 31)}


def _parallel_counts(store: Store, ranges: list[tuple[int, int]], workers: int) -> Iterator[dict]:
    """Prepared partials in batch order, computed by ``workers`` processes, a few batches ahead."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    ctx = multiprocessing.get_context("spawn")  # never fork a process that holds DuckDB threads
    added = [k for k in _WORKER_MALLOC_ENV if k not in os.environ]
    os.environ.update({k: _WORKER_MALLOC_ENV[k] for k in added})  # read by the workers at start
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
            pending = []
            queue = iter(ranges)
            for lo, hi in queue:
                pending.append(pool.submit(_count_and_prepare, _read_batch(store, lo, hi)))
                if len(pending) >= workers + 1:
                    break
            while pending:
                result = pending.pop(0).result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.append(pool.submit(_count_and_prepare, _read_batch(store, *nxt)))
                yield result
    finally:
        for k in added:
            os.environ.pop(k, None)


def _worker_init() -> None:
    """Kernel processes use one thread each: the processes are the parallelism."""
    import pyarrow as pa

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)


def merge_partials(store: Store, doc_terms, doc_tokens) -> int:
    """Add kernel output (Arrow tables) to the store; returns how many transcripts it added.

    Safe to repeat: rows of transcripts that are already counted, or that the store does not
    hold, are ignored, so a re-run or a retried job never double-counts. Call inside
    ``store.atomic()`` to make several merges one transaction; the step tables are compacted
    (one row per key) at the end of each call. Columns may be plain or dictionary-encoded
    strings, in any row order.
    """
    added = _merge(store, doc_terms, doc_tokens, checked=False)
    _compact(store)
    return added


def _scope_codes(column) -> np.ndarray:
    import pyarrow as pa
    import pyarrow.compute as pc

    codes = pc.index_in(column.cast(pa.string()), value_set=pa.array(SCOPE_NAMES))
    if codes.null_count:
        from analytics.errors import InputError

        bad = pc.filter(column.cast(pa.string()), pc.is_null(codes))[0]
        raise InputError(f"term-count partial: unknown scope {bad.as_py()!r} (expected one of {SCOPE_NAMES})")
    return codes.to_numpy(zero_copy_only=False).astype(np.int64)


def _merge(store: Store, doc_terms, doc_tokens, *, checked: bool) -> int:
    """Append one kernel result; ``checked`` = the caller knows every transcript is new."""
    import pyarrow as pa

    con = store.con
    pks = np.unique(doc_tokens.column("transcript_pk").to_numpy().astype(np.int64))
    con.register("_batch_pks", pa.table({"pk": pa.array(pks, pa.int64())}))
    try:
        cells = con.sql(load_sql("termcounts_batch_cells"), params={"trusted": checked}).to_arrow_table()
    finally:
        con.unregister("_batch_pks")
    if cells.num_rows == 0:
        return 0
    prepared = _prepare(doc_terms, doc_tokens, cells)
    _insert_prepared(store, prepared)
    return prepared["transcripts"]


def _count_and_prepare(batch) -> dict:
    """Worker task: the kernel, then everything of the merge that needs no store (per-transcript
    lists with batch-local term ids, per-cell sums). ``batch`` carries run, step, environment."""
    doc_terms, doc_tokens = count_kernel(batch)
    return _prepare(doc_terms, doc_tokens, _batch_cells(batch))


def _batch_cells(batch):
    """(pk, cell, run, step, environment) of a batch's transcripts, ordered by pk."""
    import pyarrow as pa

    keys = batch.select(["transcript_pk", "run", "step", "environment"]).to_pydict()
    first: dict[int, tuple] = {}
    for pk, run, step, env in zip(keys["transcript_pk"], keys["run"], keys["step"], keys["environment"]):
        first.setdefault(pk, (run, step, env))
    pks = sorted(first)
    cell_ids: dict[tuple, int] = {key: i for i, key in enumerate(sorted(set(first.values()), key=lambda k: (k[0], k[1], k[2] is None, k[2] or "")))}
    return pa.table({
        "pk": pa.array(pks, pa.int64()),
        "cell": pa.array([cell_ids[first[pk]] for pk in pks], pa.int64()),
        "run": pa.array([first[pk][0] for pk in pks], pa.string()),
        "step": pa.array([first[pk][1] for pk in pks], pa.int64()),
        "environment": pa.array([first[pk][2] for pk in pks], pa.string()),
    })


def _prepare(doc_terms, doc_tokens, cells) -> dict | None:
    """Kernel output restricted to the transcripts in ``cells`` (pk, cell, run, step,
    environment; ordered by pk), shaped for the store: per-transcript term lists (batch-local
    term ids) and per-cell sums, computed with numpy (a batch spans few cells, so per-cell term
    sums are bincounts over cell x batch-vocabulary bins). No store access: runs in workers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if cells.num_rows == 0:
        return None
    tok_pk = doc_tokens.column("transcript_pk").to_numpy().astype(np.int64)
    tok_scope = _scope_codes(doc_tokens.column("scope"))
    tok_n = doc_tokens.column("tokens").to_numpy().astype(np.int64)
    new_pks = cells.column("pk").to_numpy()
    cell_of_new = cells.column("cell").to_numpy().astype(np.int64)
    n_cells = int(cell_of_new.max()) + 1
    cell_keys = _cell_keys(cells, n_cells)

    # group index = position of the pk among new_pks * 3 + scope; -1 when not new
    def group_of(pk_values: np.ndarray, scopes: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(new_pks, pk_values)
        pos = np.minimum(pos, len(new_pks) - 1)
        found = new_pks[pos] == pk_values
        return np.where(found, pos * 3 + scopes, -1)

    tok_group = group_of(tok_pk, tok_scope)
    keep = tok_group >= 0
    tok_group, tok_n = tok_group[keep], tok_n[keep]
    tokens_of_group = np.zeros(len(new_pks) * 3, np.int64)
    tokens_of_group[tok_group] = tok_n
    tok_cell = cell_of_new[tok_group // 3] * 3 + tok_group % 3
    part_tokens = pa.table({
        "transcript_pk": pa.array(new_pks[tok_group // 3], pa.int64()),
        "scope": pa.array(np.array(SCOPE_NAMES, object)[tok_group % 3], pa.string()),
        "tokens": pa.array(tok_n, pa.int64()),
    })
    bins = n_cells * 3
    step_tokens = _cell_table(cell_keys, np.arange(bins), {
        "transcripts": np.bincount(tok_cell, minlength=bins),
        "docs": np.bincount(tok_cell, weights=tok_n > 0, minlength=bins),
        "tokens": np.bincount(tok_cell, weights=tok_n, minlength=bins),
        "sum_tokens2": np.bincount(tok_cell, weights=tok_n.astype(np.float64) ** 2, minlength=bins),
    }, present=np.bincount(tok_cell, minlength=bins) > 0)

    term_col = doc_terms.column("term")
    term_col = term_col.combine_chunks() if isinstance(term_col, pa.ChunkedArray) else term_col
    if not pa.types.is_dictionary(term_col.type):
        term_col = pc.dictionary_encode(term_col)
    elif isinstance(doc_terms.column("term"), pa.ChunkedArray) and doc_terms.column("term").num_chunks > 1:
        term_col = pc.dictionary_encode(term_col.cast(term_col.type.value_type))
    vocab = term_col.dictionary.cast(pa.string())
    local = term_col.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    row_group = group_of(doc_terms.column("transcript_pk").to_numpy().astype(np.int64),
                         _scope_codes(doc_terms.column("scope")))
    n = doc_terms.column("n").to_numpy().astype(np.int64)
    keep = row_group >= 0
    if not keep.all():
        row_group, local, n = row_group[keep], local[keep], n[keep]
    if len(row_group) and np.any(np.diff(row_group) < 0):
        order = np.argsort(row_group, kind="stable")
        row_group, local, n = row_group[order], local[order], n[order]
    used = np.bincount(local, minlength=len(vocab)) > 0 if len(local) else np.zeros(len(vocab), bool)
    starts = np.flatnonzero(np.r_[True, row_group[1:] != row_group[:-1]]) if len(row_group) else np.zeros(0, np.int64)
    head = row_group[starts]
    row_cell = cell_of_new[row_group // 3] * 3 + row_group % 3
    return {
        "transcripts": len(new_pks),
        "tokens": part_tokens,
        "step_tokens": step_tokens,
        "list_pk": new_pks[head // 3],
        "list_scope": head % 3,
        "list_offsets": np.r_[starts, len(row_group)].astype(np.int32),
        "local_ids": local.astype(np.int32),
        "counts": n.astype(np.int32),
        "vocab": vocab,
        "used": used,
        "step_terms": _step_terms(cell_keys, row_cell, local, n, tokens_of_group[row_group], vocab, bins),
    }


def _insert_prepared(store: Store, prepared: dict | None) -> None:
    """Map a prepared partial's batch-local term ids to global ones and append it to the store."""
    import pyarrow as pa

    if prepared is None:  # no transcript to add
        return
    con = store.con
    global_id = _global_term_ids(con, prepared["vocab"], prepared["used"]).astype(np.int32)
    offsets = pa.array(prepared["list_offsets"])
    con.register("_part_terms", pa.table({
        "transcript_pk": pa.array(prepared["list_pk"], pa.int64()),
        "scope": pa.array(np.array(SCOPE_NAMES, object)[prepared["list_scope"]], pa.string()),
        "term_ids": pa.ListArray.from_arrays(offsets, pa.array(global_id[prepared["local_ids"]], pa.int32())),
        "counts": pa.ListArray.from_arrays(offsets, pa.array(prepared["counts"], pa.int32())),
    }))
    con.register("_part_tokens", prepared["tokens"])
    con.register("_part_step_tokens", prepared["step_tokens"])
    con.register("_part_step_terms", prepared["step_terms"])
    try:
        con.execute(load_sql("termcounts_merge")).fetchall()
    finally:
        for name in ("_part_tokens", "_part_step_tokens", "_part_terms", "_part_step_terms"):
            con.unregister(name)


def _cell_keys(cells, n_cells: int) -> dict:
    """(run, step, environment) of each cell id, as Python lists indexed by cell id."""
    cell = cells.column("cell").to_numpy()
    first_row = np.zeros(n_cells, np.int64)
    first_row[cell[::-1]] = np.arange(len(cell))[::-1]  # any row of the cell will do
    return {name: cells.column(name).take(first_row).to_pylist() for name in ("run", "step", "environment")}


def _cell_table(cell_keys: dict, bin_ids: np.ndarray, sums: dict, present: np.ndarray):
    """Rows (run, step, environment, scope, **sums) for the bins (cell * 3 + scope) present."""
    import pyarrow as pa

    bins = bin_ids[present]
    cell, scope = bins // 3, bins % 3
    columns = {
        "run": pa.array([cell_keys["run"][c] for c in cell.tolist()], pa.string()),
        "step": pa.array([cell_keys["step"][c] for c in cell.tolist()], pa.int64()),
        "environment": pa.array([cell_keys["environment"][c] for c in cell.tolist()], pa.string()),
        "scope": pa.array(np.array(SCOPE_NAMES, object)[scope], pa.string()),
    }
    for name, values in sums.items():
        columns[name] = pa.array(np.rint(values[present]).astype(np.int64), pa.int64())
    return pa.table(columns)


def _step_terms(cell_keys: dict, row_cell: np.ndarray, local: np.ndarray, n: np.ndarray,
                row_tokens: np.ndarray, vocab, cell_bins: int):
    """Per (cell, scope, term) sums of one partial: occurrences, docs_with_term, sum_n2, sum_n_tokens."""
    import pyarrow as pa

    width = max(len(vocab), 1)
    key = row_cell * width + local
    n_f = n.astype(np.float64)
    if cell_bins * width <= 1 << 25:  # dense bins: bincount is O(rows)
        size = cell_bins * width
        docs = np.bincount(key, minlength=size)
        present = np.flatnonzero(docs)
        sums = {
            "occurrences": np.bincount(key, weights=n_f, minlength=size)[present],
            "docs_with_term": docs[present],
            "sum_n2": np.bincount(key, weights=n_f * n_f, minlength=size)[present],
            "sum_n_tokens": np.bincount(key, weights=n_f * row_tokens, minlength=size)[present],
        }
    else:  # many cells in one partial: sort-based segment sums
        order = np.argsort(key, kind="stable")
        key_sorted = key[order]
        starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
        present = key_sorted[starts]
        sums = {
            "occurrences": np.add.reduceat(n_f[order], starts),
            "docs_with_term": np.diff(np.r_[starts, len(key)]),
            "sum_n2": np.add.reduceat((n_f * n_f)[order], starts),
            "sum_n_tokens": np.add.reduceat((n_f * row_tokens)[order], starts),
        }
    bin_of = present // width
    cell, scope = bin_of // 3, bin_of % 3
    cells = cell.tolist()
    columns = {
        "run": pa.array([cell_keys["run"][c] for c in cells], pa.string()),
        "step": pa.array([cell_keys["step"][c] for c in cells], pa.int64()),
        "environment": pa.array([cell_keys["environment"][c] for c in cells], pa.string()),
        "scope": pa.array(np.array(SCOPE_NAMES, object)[scope], pa.string()),
        "term": vocab.take(pa.array(present % width)),
    }
    for name, values in sums.items():
        columns[name] = pa.array(np.rint(values).astype(np.int64), pa.int64())
    return pa.table(columns)


def _global_term_ids(con, vocab, used: np.ndarray) -> np.ndarray:
    """Global term_id for each entry of a partial's vocabulary (new terms are added)."""
    import pyarrow as pa

    idx = np.flatnonzero(used)
    con.register("_batch_vocab", pa.table({"idx": pa.array(idx, pa.int64()), "term": vocab.take(pa.array(idx))}))
    try:
        rows = con.sql(load_sql("termcounts_vocab")).to_arrow_table()
    finally:
        con.unregister("_batch_vocab")
    ids = np.full(len(vocab), -1, np.int64)
    ids[rows.column("idx").to_numpy()] = rows.column("term_id").to_numpy()
    return ids


def _compact(store: Store) -> None:
    """One row per key in the step tables (merges append per-batch partial sums)."""
    store.con.execute(load_sql("termcounts_compact")).fetchall()
