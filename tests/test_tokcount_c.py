"""The compiled helpers of analytics/terms/_tokcount.c against plain-Python references: the Sums
accumulator (sums_*), the string -> id map (ids_*), and count_batch's per-document lists (tokens
with count > 1 first, then count-1 tokens, each part in first-occurrence order) with the step sums
computed alongside. Error paths must raise, never crash; tables must grow past their initial sizes
(65,536 slots for sums/ids, 16,384 for count_batch's vocabulary and step tables)."""

from __future__ import annotations

import sys
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from cotwatch.analytics.terms import _tokcount as tc
from cotwatch.analytics.terms.materialize import _string_buffers
from cotwatch.analytics.terms.tokens import tokenize
from hypothesis import given, settings
from hypothesis import strategies as st

i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
u8 = lambda *v: np.array(v, np.uint8)  # noqa: E731
I64_MIN, I64_MAX = -(2**63), 2**63 - 1


def wrap(v: int) -> int:
    """int64 two's-complement wrap (the sums wrap instead of overflowing)."""
    return (v + 2**63) % 2**64 - 2**63


# ---------------------------------------------------------------------------------------------
# sums_*
# ---------------------------------------------------------------------------------------------
class RefSums:
    def __init__(self):
        self.rows: dict[int, list[int]] = {}

    def add(self, keys, cols):
        for r, key in enumerate(keys):
            v = self.rows.setdefault(int(key), [0, 0, 0, 0])
            for c in range(4):
                v[c] += int(cols[c][r])

    def drain(self):
        out = [list(self.rows)] + [[wrap(v[c]) for v in self.rows.values()] for c in range(4)]
        self.rows = {}
        return out


def drain(table):
    return [np.frombuffer(b, np.int64).tolist() for b in tc.sums_drain(table)]


def add(table, keys, *cols):
    tc.sums_add(table, np.ascontiguousarray(keys, np.int64), *(np.ascontiguousarray(c, np.int64) for c in cols))


KEYS = st.one_of(st.integers(0, 50), st.integers(0, I64_MAX),
                 st.tuples(st.integers(0, 3 * 2**29), st.integers(0, 2**31 - 1)).map(lambda p: p[0] << 32 | p[1]))
ROWS = st.lists(st.tuples(KEYS, *[st.integers(I64_MIN, I64_MAX)] * 4), max_size=30)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(ROWS, st.just("drain")), max_size=8))
def test_sums_match_a_dict_in_first_seen_order(ops):
    table, ref = tc.sums_new(), RefSums()
    for op in ops + ["drain"]:
        if op == "drain":
            assert drain(table) == ref.drain()
            continue
        keys = [r[0] for r in op]
        cols = [[r[c] for r in op] for c in range(1, 5)]
        add(table, keys, *cols)
        ref.add(keys, cols)


def test_sums_grow_past_the_initial_table_and_keep_first_seen_order():
    rng = np.random.default_rng(7)
    table, ref = tc.sums_new(), RefSums()
    # 100k distinct keys (initial table: 65,536 slots at most half full), with repeats across calls
    keys = rng.permutation(np.arange(100_000, dtype=np.int64) * 7919 + (5 << 32))
    for chunk in (keys[:60_000], keys[30_000:], keys[::3]):
        cols = [rng.integers(-1000, 1000, len(chunk)) for _ in range(4)]
        add(table, chunk, *cols)
        ref.add(chunk.tolist(), [c.tolist() for c in cols])
    assert drain(table) == ref.drain()
    assert drain(table) == [[]] * 5  # drained means empty
    add(table, [3, 3, 1], [1, 2, 3], [0, 0, 0], [0, 0, 0], [5, 5, 5])  # and usable again
    assert drain(table) == [[3, 1], [3, 3], [0, 0], [0, 0], [10, 5]]


def test_sums_of_one_term_over_many_bins():
    """Keys bin << 32 | term with one term and many bins (they once collided in a few probe runs
    because the hash dropped the key's high bits): every key kept, summed, in first-seen order."""
    keys = np.arange(1_000_000, dtype=np.int64) << 32
    ones = np.ones(len(keys), np.int64)
    table = tc.sums_new()
    tc.sums_add(table, keys, ones, ones, ones, ones)
    tc.sums_add(table, keys, ones, ones, ones, ones)
    out = tc.sums_drain(table)
    assert np.array_equal(np.frombuffer(out[0], np.int64), keys)
    assert (np.frombuffer(out[1], np.int64) == 2).all()


def test_sums_wrap_instead_of_overflowing():
    table = tc.sums_new()
    add(table, [9, 9, 9], [I64_MAX, 1, 0], [I64_MIN, -1, 0], [2**62, 2**62, 2**62], [1, 2, 3])
    assert drain(table) == [[9], [I64_MIN], [I64_MAX], [wrap(3 * 2**62)], [6]]


def test_sums_reject_bad_arguments_without_side_effects():
    table, ids = tc.sums_new(), tc.ids_new()
    z = np.zeros(2, np.int64)
    for wrong in (ids, None, object(), 5):  # a capsule of the other kind, or no capsule at all
        with pytest.raises((TypeError, ValueError)):
            tc.sums_add(wrong, z, z, z, z, z)
        with pytest.raises((TypeError, ValueError)):
            tc.sums_drain(wrong)
    for c in range(5):  # any column of another length
        args = [z] * 5
        args[c] = np.zeros(3, np.int64)
        with pytest.raises(ValueError, match="one length"):
            tc.sums_add(table, *args)
    with pytest.raises(ValueError, match="one length"):  # not a whole number of int64
        tc.sums_add(table, b"\1" * 12, b"\1" * 12, b"\1" * 12, b"\1" * 12, b"\1" * 12)
    with pytest.raises(ValueError, match="negative key"):
        tc.sums_add(table, i64(4, -1), z, z, z, z)
    with pytest.raises(TypeError):
        tc.sums_add(table, z, z, z, z, "not a buffer")
    with pytest.raises(TypeError):
        tc.sums_add(table, z, z, z, z)
    assert drain(table) == [[]] * 5  # nothing was added by the rejected calls
    add(table, [], [], [], [], [])
    assert drain(table) == [[]] * 5


# ---------------------------------------------------------------------------------------------
# ids_*
# ---------------------------------------------------------------------------------------------
def pack(strings: list[bytes], lead: bytes = b"", tail: bytes = b"") -> tuple[np.ndarray, bytes]:
    """int32 Arrow-style offsets (starting at len(lead)) and data."""
    offsets = np.cumsum([len(lead)] + [len(s) for s in strings]).astype(np.int32)
    return offsets, lead + b"".join(strings) + tail


def get(m, strings, lead=b"", tail=b""):
    return np.frombuffer(tc.ids_get(m, *pack(strings, lead, tail)), np.int64).tolist()


def put(m, strings, ids, lead=b""):
    tc.ids_put(m, *pack(strings, lead), np.asarray(ids, np.int64))


STRINGS = st.lists(st.one_of(st.binary(max_size=10), st.sampled_from([b"", b"a", b"A", b"\x00", b"\xff"])), max_size=20)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), STRINGS, st.binary(max_size=4)), max_size=8))
def test_ids_match_a_dict_where_the_first_id_stays(ops):
    m, ref, next_id = tc.ids_new(), {}, -5
    for is_put, strings, lead in ops:
        if is_put:
            ids = list(range(next_id, next_id + len(strings)))
            next_id += len(strings)
            put(m, strings, ids, lead)
            for s, i in zip(strings, ids):
                ref.setdefault(s, i)  # duplicates in one call too: the first keeps its id
        else:
            assert get(m, strings, lead, tail=b"zz") == [ref.get(s, -1) for s in strings]
    assert get(m, list(ref)) == list(ref.values())


def test_ids_empty_string_and_empty_inputs():
    m = tc.ids_new()
    assert get(m, []) == [] and get(m, [b""]) == [-1]
    put(m, [], [])
    put(m, [b""], [42])  # the first string of an empty map is the empty string
    put(m, [b"", b"x"], [1, 2])
    assert get(m, [b"", b"x", b"y"]) == [42, 2, -1]


def test_ids_grow_past_the_initial_table():
    m = tc.ids_new()
    strings = [f"term{i}".encode() for i in range(150_000)]
    put(m, strings[:100_000], np.arange(100_000) * 2)
    put(m, strings[50_000:], np.arange(50_000, 150_000) * -1)  # the first 50k of these are known
    expected = [i * 2 if i < 100_000 else -i for i in range(150_000)]
    assert get(m, strings) == expected
    assert get(m, [b"term150000", b"term", b""]) == [-1, -1, -1]


def test_ids_through_arrow_string_buffers_of_a_sliced_array():
    """_string_buffers hands over the offsets of a slice as they are (first offset not 0)."""
    m = tc.ids_new()
    words = pa.array(["zero", "one", "", "three", "naïve", "one"])
    tc.ids_put(m, *_string_buffers(words.slice(1)), i64(1, 2, 3, 4, 5))
    assert np.frombuffer(tc.ids_get(m, *_string_buffers(words)), np.int64).tolist() == [-1, 1, 2, 3, 4, 1]
    assert np.frombuffer(tc.ids_get(m, *_string_buffers(words.slice(4, 2))), np.int64).tolist() == [4, 1]
    assert tc.ids_get(m, *_string_buffers(pa.array([], pa.string()))) == b""


def test_ids_reject_bad_arguments_without_side_effects():
    m, sums = tc.ids_new(), tc.sums_new()
    off, data = pack([b"ab", b"c"])
    for wrong in (sums, None, object(), "ids"):
        with pytest.raises((TypeError, ValueError)):
            tc.ids_get(wrong, off, data)
        with pytest.raises((TypeError, ValueError)):
            tc.ids_put(wrong, off, data, i64(1, 2))
    bad_offsets = [
        np.array([0, 2, 1], np.int32),  # descending
        np.array([0, 4], np.int32),  # past the data
        np.array([-1, 1], np.int32),  # negative
        np.array([], np.int32),  # not even the first offset
        b"\0\0\0\0\1\0",  # not a whole number of int32
    ]
    for bad in bad_offsets:
        with pytest.raises(ValueError, match="offsets"):
            tc.ids_get(m, bad, b"abc")
        with pytest.raises(ValueError, match="offsets"):
            tc.ids_put(m, bad, b"abc", i64(7))
    with pytest.raises(ValueError, match="one int64 id per string"):
        tc.ids_put(m, off, data, i64(1))
    with pytest.raises(ValueError, match="one int64 id per string"):
        tc.ids_put(m, off, data, b"\0" * 12)
    with pytest.raises(TypeError):
        tc.ids_put(m, off, data)
    assert get(m, [b"ab", b"c", b""]) == [-1, -1, -1]  # nothing was added by the rejected calls


# ---------------------------------------------------------------------------------------------
# count_batch: list order and step sums
# ---------------------------------------------------------------------------------------------
def run_batch(docs, cells):
    """docs: per document, a list of (scope, ASCII text) rows. Returns the decoded outputs."""
    data, starts, ends, groups = b"", [], [], []
    for d, rows in enumerate(docs):
        for scope, text in rows:
            starts.append(len(data))
            data += text.encode()
            ends.append(len(data))
            groups.append(d * 3 + scope)
    out = tc.count_batch(data, b"", np.array(starts, np.int64), np.array(ends, np.int64), np.array(groups, np.int64),
                         np.zeros(len(starts), np.uint8), np.array(cells, np.int64))
    assert len(out) == 13 and all(type(b) is bytes for b in out)
    voff = np.frombuffer(out[11], np.int64)
    vocab = [out[12][voff[i]:voff[i + 1]].decode() for i in range(len(voff) - 1)]
    lo = np.frombuffer(out[1], np.int64)
    terms, counts = np.frombuffer(out[2], np.int32), np.frombuffer(out[3], np.int32)
    lists = {g: [(vocab[t], int(c)) for t, c in zip(terms[lo[i]:lo[i + 1]], counts[lo[i]:lo[i + 1]])]
             for i, g in enumerate(np.frombuffer(out[0], np.int64).tolist())}
    cols = [np.frombuffer(out[k], np.int32 if k == 6 else np.int64).tolist() for k in range(5, 11)]
    steps = {}
    for b, t, *sums in zip(*cols):
        assert (b, vocab[t]) not in steps
        steps[(b, vocab[t])] = sums
    return vocab, lists, np.frombuffer(out[4], np.int64).tolist(), steps


def reference(docs, cells):
    lists, tokens, steps = {}, [0] * (3 * len(docs)), {}
    for d, rows in enumerate(docs):
        per_scope: dict[int, list[str]] = {}
        for scope, text in rows:
            per_scope.setdefault(scope, []).extend(tokenize(text))
        for scope, found in sorted(per_scope.items()):
            tokens[d * 3 + scope] = len(found)
            if not found:
                continue
            n, order = Counter(found), list(dict.fromkeys(found))
            lists[d * 3 + scope] = [(t, n[t]) for t in order if n[t] > 1] + [(t, 1) for t in order if n[t] == 1]
            for t in order:
                v = steps.setdefault((cells[d] * 3 + scope, t), [0, 0, 0, 0])
                for c, add_ in enumerate((n[t], 1, n[t] * n[t], n[t] * len(found))):
                    v[c] += add_
    return lists, tokens, steps


def test_list_partition_order():
    vocab, lists, tokens, steps = run_batch([[(0, "e b a c a b d b"), (2, "x"), (0, "c")]], [0])
    assert lists == {0: [("b", 3), ("a", 2), ("c", 2), ("e", 1), ("d", 1)], 2: [("x", 1)]}
    assert vocab == ["e", "b", "a", "c", "d", "x"]
    assert tokens == [9, 0, 1]
    assert steps[(0, "b")] == [3, 1, 9, 27] and steps[(0, "e")] == [1, 1, 1, 9] and steps[(2, "x")] == [1, 1, 1, 1]


WORDS = st.lists(st.sampled_from(["a", "b", "Cc", "d'e", "x9", "wait", "WAIT", "--", " ", "''"]), max_size=12).map(" ".join)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 2), WORDS), max_size=4), max_size=6), st.data())
def test_count_batch_lists_and_step_sums_match_the_contract(docs, data):
    cells = [data.draw(st.integers(0, 2)) for _ in docs]
    _, lists, tokens, steps = run_batch(docs, cells)
    assert (lists, tokens, steps) == reference(docs, cells)


def test_count_batch_grows_past_its_initial_tables():
    """40k distinct tokens (vocabulary table: 16,384 slots) and 80k (bin, token) sums."""
    docs = [[(d % 3, f"w{d} w{d} v{d}")] for d in range(40_000)]
    cells = [d // 2 for d in range(40_000)]
    vocab, lists, tokens, steps = run_batch(docs, cells)
    assert len(vocab) == 80_000 and vocab[:4] == ["w0", "v0", "w1", "v1"]
    assert (lists, tokens, steps) == reference(docs, cells)


def test_count_batch_empty_inputs_and_fresh_results():
    out = tc.count_batch(b"", b"", i64(), i64(), i64(), u8(), i64())
    assert [len(b) for b in out] == [0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 8, 0]
    out = tc.count_batch(b"abc", b"", i64(0, 0), i64(3, 0), i64(0, 4), u8(2, 0), i64(0, 0))  # null + empty rows
    assert [len(b) for b in out] == [0, 8, 0, 0, 48, 0, 0, 0, 0, 0, 0, 8, 0]
    out = tc.count_batch(b"hello hello", b"", i64(0), i64(11), i64(0), u8(0), i64(3))
    # the tuple is owned by `out` only, each item by the tuple only (+ getrefcount's argument);
    # counted outside `assert`, whose rewriting holds references of its own
    refs = [sys.getrefcount(out)] + [sys.getrefcount(out[i]) for i in range(len(out))]
    assert refs == [2] * 14


def test_count_batch_rejects_bad_arguments():
    ok = (b"abc", b"", i64(0), i64(3), i64(0), u8(0), i64(0))
    tc.count_batch(*ok)
    with pytest.raises(TypeError):
        tc.count_batch(*ok[:6])
    with pytest.raises(TypeError):
        tc.count_batch("abc", *ok[1:])
    with pytest.raises(ValueError, match="int64 arrays"):  # groups / cells not whole int64
        tc.count_batch(b"abc", b"", i64(0), i64(3), b"\0" * 12, u8(0), i64(0))
    with pytest.raises(ValueError, match="int64 arrays"):
        tc.count_batch(b"abc", b"", i64(0), i64(3), i64(0), u8(0), b"\0" * 12)
    with pytest.raises(ValueError, match="one value per row"):
        tc.count_batch(b"abc", b"", i64(0), i64(3), i64(0), u8(0, 0), i64(0))
    with pytest.raises(ValueError, match="one value per row"):
        tc.count_batch(b"abc", b"", i64(0, 0), i64(3), i64(0), u8(0), i64(0))
    for starts, ends, groups, cells in [(-1, 3, 0, 0), (2, 1, 0, 0), (0, 3, -1, 0), (0, 3, 3, 0)]:
        with pytest.raises(ValueError, match="row 0"):
            tc.count_batch(b"abc", b"", i64(starts), i64(ends), i64(groups), u8(0), i64(cells))
    for cell in (-1, 2**62):
        with pytest.raises(ValueError, match="cell id"):
            tc.count_batch(b"abc", b"", i64(0), i64(3), i64(0), u8(0), i64(cell))
    with pytest.raises(ValueError, match="ascending"):  # found only after counting the first document
        tc.count_batch(b"ab cd", b"", i64(0, 3, 0), i64(2, 5, 2), i64(3, 0, 3), u8(0, 0, 0), i64(0, 0))
