"""Arrow arrays to and from numpy through their buffers, so pyarrow never imports pandas.

pyarrow imports pandas (0.12–0.2 s, most of it with the GIL held) the first time ``pa.array``,
``pa.scalar``, ``Array.to_numpy`` or a compute function given a Python scalar runs — whatever the
input. The ingest and its term counts are on the path a user waits for, so they build and read
their arrays here instead (``tests/test_import_hygiene.py`` checks that an ingest with term
counts, and the first series, leave pandas unimported).

>>> import numpy as np
>>> to_numpy(numeric(np.array([3, 1, 2])))
array([3, 1, 2])
>>> to_numpy(booleans(np.array([1, 0, 1], np.uint8), valid=np.array([1, 1, 0], np.uint8)), fill=False)
array([ True, False, False])
>>> strings(["a", None, "bc"]).to_pylist()
['a', None, 'bc']
>>> byte_lengths(strings(["a", None, "bc"]))
array([1, 0, 2])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def bitmap(flags) -> Any:
    """An Arrow bitmap buffer from one byte per row (0/1: bytes or a numpy array)."""
    import pyarrow as pa

    raw = np.frombuffer(flags, np.uint8) if isinstance(flags, (bytes, bytearray, memoryview)) else np.asarray(flags)
    return pa.py_buffer(np.packbits(raw.astype(np.uint8, copy=False), bitorder="little").tobytes())


def numeric(values, type_=None, valid=None):
    """A primitive Arrow array over ``values`` (a numpy array, or bytes of ``type_``'s width;
    for booleans one byte per row), nulls where ``valid`` (one byte per row) is 0. ``type_``
    defaults to the numpy dtype's. The array views ``values``' memory when it can."""
    import pyarrow as pa

    if isinstance(values, (bytes, bytearray, memoryview)):
        values = values.cast("B") if isinstance(values, memoryview) else values
        if type_ is None:
            raise TypeError("numeric(bytes) needs the Arrow type")
        if pa.types.is_boolean(type_):
            return booleans(values, valid)
        data = pa.py_buffer(values)
    else:
        array = np.asarray(values)
        if type_ is None:
            type_ = pa.from_numpy_dtype(array.dtype)
        if pa.types.is_boolean(type_):
            return booleans(array.astype(np.uint8, copy=False), valid)
        data = pa.py_buffer(np.ascontiguousarray(_exactly(array, _numpy_dtype(type_))))
    n = data.size // (type_.bit_width // 8)
    return pa.Array.from_buffers(type_, n, [None if valid is None else bitmap(valid), data])


def _exactly(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``array`` as ``dtype``, refusing a conversion that would change a value (pa.array raises
    on those too): integers out of range, fractional floats into integers."""
    if array.dtype == dtype:
        return array
    if dtype.kind in "iu" and array.size:
        if array.dtype.kind == "f" and not np.array_equal(array, np.trunc(array)):
            raise ValueError(f"{array.dtype} values with fractions cannot become {dtype}")
        if array.dtype.kind in "iuf":
            info = np.iinfo(dtype)
            low, high = array.min(), array.max()
            if low < info.min or high > info.max:
                raise OverflowError(f"values {low}..{high} do not fit {dtype}")
    return array.astype(dtype)


def booleans(values, valid=None):
    """An Arrow boolean array from one byte (or numpy bool) per row, nulls where ``valid`` is 0."""
    import pyarrow as pa

    raw = np.frombuffer(values, np.uint8) if isinstance(values, (bytes, bytearray, memoryview)) else np.asarray(values)
    return pa.Array.from_buffers(pa.bool_(), len(raw), [None if valid is None else bitmap(valid), bitmap(raw)])


def strings(values: Sequence[str | bytes | None], type_=None):
    """An Arrow string array (``type_``: string by default, or large_string) from Python strings,
    UTF-8 ``bytes`` or None."""
    import pyarrow as pa

    encoded = [v.encode("utf-8") if isinstance(v, str) else v for v in values]
    n = len(encoded)
    sizes = np.fromiter((0 if v is None else len(v) for v in encoded), np.int64, n)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    valid = np.fromiter((v is not None for v in encoded), np.uint8, n)
    data = b"".join(v for v in encoded if v is not None)
    array = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data),
                                             None if valid.all() else bitmap(valid))
    type_ = type_ or pa.string()
    return array if type_ == pa.large_string() else array.cast(type_)


_NUMPY_OF = {}


def _numpy_dtype(type_) -> np.dtype:
    import pyarrow as pa

    if not _NUMPY_OF:
        _NUMPY_OF.update({
            pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
            pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32, pa.uint64(): np.uint64,
            pa.float32(): np.float32, pa.float64(): np.float64, pa.bool_(): np.uint8,
        })
    try:
        return np.dtype(_NUMPY_OF[type_])
    except KeyError:
        raise TypeError(f"not a primitive Arrow type: {type_}") from None


def _validity(array) -> np.ndarray | None:
    """One bool per row (True: valid) of an Arrow array, or None when it has no nulls."""
    if array.null_count == 0:
        return None
    bits = np.frombuffer(array.buffers()[0], np.uint8)
    return np.unpackbits(bits, bitorder="little")[array.offset : array.offset + len(array)].astype(bool)


def to_numpy(array, *, fill=None) -> np.ndarray:
    """A numpy copy of a primitive (numeric or boolean) Arrow array or chunked array; nulls become
    ``fill`` (an array with nulls and no ``fill`` is an error)."""
    import pyarrow as pa

    array = combined(array)
    type_ = array.type
    n = len(array)
    if pa.types.is_null(type_):  # a column of nothing but nulls (e.g. built from an empty list)
        if n and fill is None:
            raise ValueError(f"the null-typed array has {n} nulls and no fill value was given")
        return np.full(n, 0 if fill is None else fill)
    if pa.types.is_boolean(type_):
        data = array.buffers()[1]
        out = np.zeros(0, bool) if data is None else np.unpackbits(
            np.frombuffer(data, np.uint8), bitorder="little")[array.offset : array.offset + n].astype(bool)
        out = out if len(out) == n else np.zeros(n, bool)
    elif n == 0:
        out = np.zeros(0, _numpy_dtype(type_))
    else:
        out = np.frombuffer(array.buffers()[1], _numpy_dtype(type_))[array.offset : array.offset + n].copy()
    valid = _validity(array)
    if valid is not None:
        if fill is None:
            raise ValueError(f"the {type_} array has {array.null_count} nulls and no fill value was given")
        out[~valid] = fill
    return out


def combined(array):
    """One Arrow array of a chunked array (as is when given an array). ``combine_chunks`` of a
    chunked array without chunks would import pandas."""
    import pyarrow as pa

    if not isinstance(array, pa.ChunkedArray):
        return array
    if array.num_chunks == 1:
        return array.chunk(0)
    return array.combine_chunks() if array.num_chunks else pa.nulls(0, array.type)


def byte_lengths(array) -> np.ndarray:
    """The byte length of every string (or binary) of an Arrow array or chunked array; 0 for nulls."""
    import pyarrow as pa

    if isinstance(array, pa.ChunkedArray):
        parts = [byte_lengths(chunk) for chunk in array.chunks]
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)
    kind = array.type
    if pa.types.is_large_string(kind) or pa.types.is_large_binary(kind):
        width = np.int64
    elif pa.types.is_string(kind) or pa.types.is_binary(kind) or pa.types.is_null(kind):
        width = np.int32
    else:
        raise TypeError(f"byte lengths of {kind} arrays are not read from buffers here")
    if len(array) == 0 or pa.types.is_null(kind):
        return np.zeros(len(array), np.int64)
    offsets = np.frombuffer(array.buffers()[1], width)[array.offset : array.offset + len(array) + 1]
    lengths = np.diff(offsets).astype(np.int64)
    valid = _validity(array)
    if valid is not None:
        lengths[~valid] = 0
    return lengths
