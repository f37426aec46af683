"""Exact order statistics (the k-th smallest value) of a large array in bounded memory.

``np.median`` partitions a copy of its input; for the masked data of a long fMRI run that
copy is as large as the data. Here the values are mapped to unsigned integer keys that sort
as the values do (the IEEE-754 trick for floats: flip every bit of a negative number, the
sign bit of a positive one), and the k-th key is found digit by digit, 16 bits at a time,
from a histogram per digit (a radix select). Each pass reads the array in pieces, so memory
stays at one piece of keys plus a 65536-bin histogram; 8- and 16-bit integers take one pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: elements turned into keys at a time
PIECE = 1 << 20
#: bits of the key resolved per pass
DIGIT = 16


def _key_type(dtype: np.dtype) -> tuple[np.dtype, int]:
    if dtype.kind not in "biuf":
        raise TypeError(f"no order statistics for {dtype}")
    bits = 8 * dtype.itemsize
    return np.dtype(f"u{dtype.itemsize}"), bits


def _keys(values: np.ndarray) -> np.ndarray:
    """Unsigned keys that sort as ``values`` do (a NaN sorts past the infinities)."""
    dtype = values.dtype
    utype, bits = _key_type(dtype)
    if dtype.kind == "b":
        return values.view(np.uint8)
    if dtype.kind == "u":
        return values
    top = utype.type(1 << (bits - 1))
    raw = values.view(utype)
    return raw ^ top if dtype.kind == "i" else np.where(raw & top, ~raw, raw | top)


def _value(key: int, dtype: np.dtype) -> np.generic:
    """The value of ``dtype`` whose key is ``key`` (the inverse of :func:`_keys`)."""
    utype, bits = _key_type(dtype)
    top = 1 << (bits - 1)
    if dtype.kind == "b":
        return np.bool_(key)
    if dtype.kind == "i":
        key ^= top
    elif dtype.kind == "f":
        key = key ^ top if key & top else ~key & ((1 << bits) - 1)
    return np.array([key], utype).view(dtype)[0]


def kth_values(a: np.ndarray, ks: Sequence[int]) -> list[np.generic]:
    """The ``k``-th smallest element of ``a`` (0-based, over all its elements) for each
    ``k`` in ``ks``, exactly, as ``np.sort(a, axis=None)[k]`` would give it."""
    flat = a.reshape(-1)  # a view for the contiguous arrays this is used on
    n = flat.size
    for k in ks:
        if not 0 <= k < n:
            raise IndexError(f"order statistic {k} of {n} values")
    flat = flat.astype(flat.dtype.newbyteorder("="), copy=False)
    dtype = flat.dtype
    _, bits = _key_type(dtype)
    digit = min(DIGIT, bits)
    histograms: dict[tuple[int, int], np.ndarray] = {}  # shared by ks with the same prefix
    out = []
    for k in ks:
        prefix, rank = 0, k  # the key's bits found so far; k's rank among keys with them
        for shift in range(bits - digit, -1, -digit):
            counts = histograms.get((shift, prefix))
            if counts is None:
                counts = histograms[shift, prefix] = _histogram(flat, shift, digit, bits, prefix)
            below = np.cumsum(counts)
            d = int(np.searchsorted(below, rank, side="right"))
            rank -= int(below[d - 1]) if d else 0
            prefix = (prefix << digit) | d
        out.append(_value(prefix, dtype))
    return out


def _histogram(flat: np.ndarray, shift: int, digit: int, bits: int, prefix: int) -> np.ndarray:
    """How many keys have each value of the ``digit`` bits at ``shift``, among the keys whose
    bits above them are ``prefix``."""
    counts = np.zeros(1 << digit, np.int64)
    for start in range(0, flat.size, PIECE):
        keys = _keys(flat[start : start + PIECE])
        if shift + digit < bits:  # only keys that share the bits found so far
            keys = keys.astype(np.uint64, copy=False)
            keys = keys[(keys >> np.uint64(shift + digit)) == np.uint64(prefix)]
        part = (keys >> keys.dtype.type(shift)) & keys.dtype.type((1 << digit) - 1)
        counts += np.bincount(part.astype(np.intp), minlength=1 << digit)
    return counts


def middle(a: np.ndarray) -> tuple[np.generic, np.generic]:
    """The two middle elements of ``a`` in sorted order (the same one twice for an odd
    count): ``np.median`` is their mean, and so is the median of any affine map of ``a``."""
    n = a.size
    if n == 0:
        raise ValueError("the median of no values")
    lo, hi = kth_values(a, [(n - 1) // 2, n // 2])
    return lo, hi
