"""Blocks for the kernels: aligned windows of in-memory arrays, and a pool of staging
buffers for everything else. NumPy only.

Aligned C-ordered NumPy buffers are shared with JAX, not copied: see :func:`window`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..sources._source import ArraySource
from ._plan import ALIGN


class Staging:
    """64-byte-aligned buffers for blocks that cannot be shared with JAX as they are (the
    first and last blocks of an array, and every block of a file reader). Buffers come back
    to the pool once the kernel that read them has finished, so a long file reuses a few
    buffers instead of faulting in fresh pages for every block."""

    def __init__(self, size: int, dtype: np.dtype, block_shape: tuple[int, ...], depth: int):
        self.size, self.dtype, self.block_shape = size, dtype, block_shape
        self.depth = depth  # how many blocks can be in flight at once
        self.free: list[np.ndarray] = []

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """A buffer, and its first ``prod(block_shape)`` elements viewed in that shape."""
        if self.free:
            buf = self.free.pop()
        else:
            itemsize = self.dtype.itemsize
            raw = np.empty(self.size * itemsize + ALIGN, np.uint8)
            start = (-raw.ctypes.data) % ALIGN
            buf = raw[start : start + self.size * itemsize].view(self.dtype)
            buf[math.prod(self.block_shape) :] = 0
        return buf, buf[: math.prod(self.block_shape)].reshape(self.block_shape)

    def give_back(self, buf: np.ndarray) -> None:
        if len(self.free) < self.depth:
            self.free.append(buf)


def window(flat: np.ndarray, start: int, total: int, extra: int) -> tuple[np.ndarray, int] | None:
    """A view of ``flat`` that starts 64-byte aligned at or before ``start`` and covers
    ``total + extra`` elements from there, with the offset of ``start`` in it: JAX shares
    such a buffer instead of copying it. ``None`` if there is none."""
    itemsize = flat.dtype.itemsize
    misalign = (flat.ctypes.data + start * itemsize) % ALIGN
    if misalign % itemsize:
        return None
    offset = misalign // itemsize
    if start - offset < 0 or start - offset + total + extra > flat.size:
        return None
    return flat[start - offset : start - offset + total + extra], offset


def holds(dtype: np.dtype, value: float) -> bool:
    """Whether ``dtype`` stores ``value`` exactly."""
    with np.errstate(all="ignore"):
        stored = np.asarray(value).astype(dtype)
    # compared in float64: against a Python float, NumPy casts the float to ``dtype`` first
    # (1e5 becomes inf in float16, and inf == inf)
    return bool(stored.astype(np.float64) == np.float64(value))


def blocks(
    src: Any,
    dtype: np.dtype,
    rows: int,
    history: int,
    pad: float | None,
    perm: tuple[int, ...],
    staging: Staging,
    total: int,
    extra: int,
    stored: bool = False,
) -> Iterator[tuple[int, np.ndarray, int, bool]]:
    """Yield ``(start_row, buffer, offset, staged)`` for each block: the block is
    ``buffer[offset:]`` in canonical layout (chunk axis first) and ``dtype``, preceded by
    ``history`` rows (zeros and the pad before the first row). ``staged`` buffers are the
    pool's, to give back once the kernel has read them. With ``stored``, a reader's blocks
    are its values as stored (``src.stored_chunks``), to be scaled by the kernel."""
    array = src.canonical() if isinstance(src, ArraySource) else None
    if array is not None and array.dtype != dtype:
        array = None  # staged in another dtype than stored: no buffer to share
    if array is not None:  # in memory: share aligned windows, stage only where they do not fit
        flat = array.reshape(-1)
        row_len = math.prod(array.shape[1:])
        for start in range(0, array.shape[0], rows):
            shared = window(flat, (start - history) * row_len, total, extra)
            if shared is not None:
                yield start, shared[0], shared[1], False
                continue
            buf, view = staging.take()
            body = array[max(start - history, 0) : start + rows]
            _fill(view, body, history - min(start, history), pad)
            yield start, buf, 0, True
        return
    pieces = src.stored_chunks(rows) if stored else src.chunks(rows)
    yield from _restack(pieces, rows, history, pad, perm, staging)


def _restack(
    pieces: Iterator[np.ndarray],
    rows: int,
    history: int,
    pad: float | None,
    perm: tuple[int, ...],
    staging: Staging,
) -> Iterator[tuple[int, np.ndarray, int, bool]]:
    """Copy a reader's pieces, whatever their length, into staged blocks of ``rows`` rows
    after ``history`` rows carried over from the block before (zeros and the pad before the
    first). A piece is done with once the next is asked for; the reader is closed as soon
    as this stops, on an error too."""
    try:
        buf, view = staging.take()
        _fill(view, view[:0], history, pad)  # the history before the first row
        filled, start = 0, 0
        for piece in pieces:
            block = np.transpose(np.asarray(piece), perm)  # free for F-ordered frames
            used = 0
            while used < block.shape[0]:
                k = min(rows - filled, block.shape[0] - used)
                # converts to the staging dtype as it copies
                view[history + filled : history + filled + k] = block[used : used + k]
                filled, used = filled + k, used + k
                if filled == rows:
                    yield start, buf, 0, True
                    start += rows
                    tail = view[rows : rows + history]
                    buf, view = staging.take()
                    view[:history] = tail  # the staged buffer before is not reused yet
                    filled = 0
        if filled:
            view[history + filled :] = 0
            yield start, buf, 0, True
        else:
            staging.give_back(buf)
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


def _fill(view: np.ndarray, body: np.ndarray, head: int, pad: float | None) -> None:
    """Write ``head`` rows of history (zeros, the pad last) then ``body`` into ``view``,
    zeroing the rest."""
    view[:head] = 0
    if head and pad is not None:
        view[head - 1] = pad
    view[head : head + body.shape[0]] = body
    view[head + body.shape[0] :] = 0
