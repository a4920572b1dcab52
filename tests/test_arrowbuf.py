"""cotwatch.analytics.arrowbuf: Arrow arrays from and to numpy through buffers, equal to what
pyarrow's own conversions give (which import pandas), on slices, chunks, nulls and empties."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cotwatch.analytics import arrowbuf

NUMERIC = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64, np.float32, np.float64]


@pytest.mark.parametrize("dtype", NUMERIC)
def test_numeric_round_trips_and_equals_pa_array(dtype):
    rng = np.random.default_rng(3)
    values = (rng.integers(0, 100, 257) if np.dtype(dtype).kind in "iu" else rng.normal(size=257)).astype(dtype)
    ours = arrowbuf.numeric(values)
    assert ours.equals(pa.array(values))
    assert np.array_equal(arrowbuf.to_numpy(ours), values)
    for start, length in ((0, 0), (5, 17), (100, 157), (256, 1)):  # slices keep their offset
        assert np.array_equal(arrowbuf.to_numpy(ours.slice(start, length)), values[start : start + length])


def test_numeric_with_nulls_and_an_explicit_type():
    values = np.arange(10, dtype=np.int8)
    valid = np.array([1, 0] * 5, np.uint8)
    ours = arrowbuf.numeric(values, pa.int64(), valid=valid)
    assert ours.type == pa.int64()
    assert ours.to_pylist() == [v if ok else None for v, ok in zip(values.tolist(), valid.tolist())]
    assert arrowbuf.to_numpy(ours, fill=-1).tolist() == [v if ok else -1 for v, ok in zip(values.tolist(), valid.tolist())]
    assert arrowbuf.to_numpy(ours.slice(3, 4), fill=-1).tolist() == [-1, 4, -1, 6]
    with pytest.raises(ValueError, match="nulls"):
        arrowbuf.to_numpy(ours)
    raw = arrowbuf.numeric(np.arange(3, dtype=np.int32).tobytes(), pa.int32(), valid=b"\x01\x00\x01")
    assert raw.to_pylist() == [0, None, 2]
    assert arrowbuf.numeric(b"\x01\x00\x01", pa.bool_(), valid=b"\x01\x01\x00").to_pylist() == [True, False, None]
    with pytest.raises(TypeError):
        arrowbuf.numeric(b"\x01")


def test_booleans_round_trip_on_every_offset():
    rng = np.random.default_rng(5)
    values = rng.integers(0, 2, 70).astype(bool)
    valid = rng.integers(0, 2, 70).astype(np.uint8)
    ours = arrowbuf.booleans(values.astype(np.uint8), valid=valid)
    expected = [bool(v) if ok else None for v, ok in zip(values, valid)]
    assert ours.to_pylist() == expected
    assert arrowbuf.numeric(values).equals(pa.array(values))
    for start in range(0, 70, 7):
        got = arrowbuf.to_numpy(ours.slice(start, 9), fill=False).tolist()
        assert got == [bool(e) for e in expected[start : start + 9]]
    computed = pc.string_is_ascii(pa.array(["a", None, "é", "b"]))
    assert arrowbuf.to_numpy(computed, fill=True).tolist() == [True, True, False, True]


def test_strings_and_byte_lengths_equal_pyarrow():
    values = ["", "a", None, "héllo wörld", "🙂" * 3, None, "x" * 1000]
    for type_ in (pa.string(), pa.large_string()):
        ours = arrowbuf.strings(values, type_)
        assert ours.equals(pa.array(values, type_))
        expected = pc.binary_length(ours).fill_null(0).to_numpy(zero_copy_only=False)
        assert np.array_equal(arrowbuf.byte_lengths(ours), expected)
        assert np.array_equal(arrowbuf.byte_lengths(ours.slice(2, 4)), expected[2:6])
    assert arrowbuf.strings([b"ab", None]).to_pylist() == ["ab", None]
    chunked = pa.chunked_array([arrowbuf.strings(["ab", None]), arrowbuf.strings(["xyz"])])
    assert arrowbuf.byte_lengths(chunked).tolist() == [2, 0, 3]


def test_chunked_arrays_of_any_number_of_chunks():
    empty = pa.chunked_array([], pa.int64())
    assert arrowbuf.combined(empty).equals(pa.array([], pa.int64()))
    assert arrowbuf.to_numpy(empty).tolist() == []
    assert arrowbuf.byte_lengths(pa.chunked_array([], pa.string())).tolist() == []
    two = pa.chunked_array([arrowbuf.numeric(np.arange(3)), arrowbuf.numeric(np.arange(2))])
    assert arrowbuf.to_numpy(two).tolist() == [0, 1, 2, 0, 1]
    assert arrowbuf.combined(pa.chunked_array([arrowbuf.numeric(np.arange(2))])).to_pylist() == [0, 1]


def test_null_typed_arrays_from_empty_or_all_null_lists():
    assert arrowbuf.to_numpy(pa.array([])).tolist() == []
    assert arrowbuf.to_numpy(pa.array([None, None]), fill=7).tolist() == [7, 7]
    with pytest.raises(ValueError, match="nulls"):
        arrowbuf.to_numpy(pa.array([None]))
    assert arrowbuf.byte_lengths(pa.array([None, None])).tolist() == [0, 0]


def test_not_a_primitive_type_is_refused():
    with pytest.raises(TypeError):
        arrowbuf.to_numpy(pa.array(["a"]))


def test_conversions_that_would_change_a_value_are_refused_like_pa_array():
    with pytest.raises(OverflowError):
        arrowbuf.numeric(np.array([2**31 + 5]), pa.int32())
    with pytest.raises(ValueError, match="fractions"):
        arrowbuf.numeric(np.array([1.5]), pa.int64())
    assert arrowbuf.numeric(np.array([2.0, -3.0]), pa.int64()).to_pylist() == [2, -3]
    assert arrowbuf.numeric(np.array([7], np.int64), pa.int8()).to_pylist() == [7]
    view = memoryview(np.arange(3, dtype=np.int64).tobytes())
    assert arrowbuf.numeric(view, pa.int64()).to_pylist() == [0, 1, 2]
    with pytest.raises(TypeError):
        arrowbuf.byte_lengths(pa.array(["a", "b", "a"]).dictionary_encode())
