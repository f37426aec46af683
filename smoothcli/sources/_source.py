"""The source contract: an array read in consecutive blocks along ``chunk_axis``
(:class:`Source`), what another library's chunked source is put behind (:class:`Foreign`), an
in-memory array as one (:class:`ArraySource`), and a source without its first frames
(:class:`Trimmed`). NumPy only, never JAX.

``shape`` and ``dtype`` are the logical shape (after any mask) and the dtype of the blocks a
source yields; ``chunks`` raises :class:`~smoothcli.sources._errors.InputError` when the data
turn out to be corrupt (a gzip CRC mismatch, a truncated file): no score is ever made from data
that were not verified.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class ChunkedSource(Protocol):
    """An array read in consecutive blocks along ``chunk_axis`` (with ``order = "F"`` when
    they are Fortran-ordered, so that the engine lays them out without a copy)."""

    shape: tuple[int, ...]
    dtype: np.dtype
    chunk_axis: int

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """Yield consecutive blocks of at most ``rows`` along ``chunk_axis``."""

    def read(self) -> np.ndarray:
        """The whole array (used only when a scalarisation cannot be chunked)."""


class Source:
    """The reader contract every smoothcli source keeps (a :class:`ChunkedSource` with its
    optional parts spelt out, so that nobody has to ask a source what it can do):

    - ``shape``, ``dtype`` (of the values), ``chunk_axis``; :meth:`chunks` gives consecutive
      blocks of values along it, :meth:`read` the whole array;
    - ``order``: ``"F"`` when the blocks are Fortran-ordered (NIfTI), so that the engine
      lays them out without a copy;
    - ``stored``: the dtype of :meth:`stored_chunks`' blocks when the source can give its
      values as stored (a NIfTI image's int16), with ``scale`` = (slope, intercept) to turn
      them into values; None when the blocks are the values;
    - :meth:`start` begins reading ahead, :meth:`close` stops and lets go of the file.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    chunk_axis: int = 0
    order: str = "C"
    stored: np.dtype | None = None
    scale: tuple[float, float] | None = None

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def stored_chunks(self, rows: int) -> Iterator[np.ndarray]:
        return self.chunks(rows)

    def read(self) -> np.ndarray:
        """All the blocks joined along ``chunk_axis`` (zeros of the shape when there are none)."""
        blocks = list(self.chunks(max(self.shape[self.chunk_axis], 1)))
        if not blocks:
            return np.zeros(self.shape, self.dtype, order=self.order)
        return np.concatenate(blocks, axis=self.chunk_axis)

    def start(self) -> None:
        """Begin reading ahead (nothing to do for a source that does not)."""

    def close(self) -> None:
        """Let go of what the source holds open (nothing, for most)."""


class Foreign(Source):
    """A :class:`ChunkedSource` written elsewhere, behind the contract of :class:`Source`:
    its values in C-ordered blocks, nothing read ahead."""

    def __init__(self, source: ChunkedSource) -> None:
        self._inner = source
        self.shape = tuple(source.shape)
        self.dtype = np.dtype(source.dtype)
        self.chunk_axis = source.chunk_axis

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        return self._inner.chunks(rows)

    def read(self) -> np.ndarray:
        return self._inner.read()


def as_source(source: Any) -> Source:
    """``source`` as a :class:`Source`: itself, a foreign chunked source behind the contract,
    or an array (a memmap, a list) as an :class:`ArraySource`."""
    if isinstance(source, Source):
        return source
    if isinstance(source, ChunkedSource) and not isinstance(source, np.ndarray):
        return Foreign(source)
    return ArraySource(source)


class ArraySource(Source):
    """A NumPy array or memmap as a chunked source, chunked along its slowest axis."""

    def __init__(self, array: Any) -> None:
        a = self.array = array if isinstance(array, np.ndarray) else np.asarray(array)
        self.shape, self.dtype = tuple(a.shape), a.dtype
        f_only = a.ndim > 1 and a.flags.f_contiguous and not a.flags.c_contiguous
        self.chunk_axis = a.ndim - 1 if f_only else 0
        self.order = "F" if f_only else "C"

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        total = self.shape[self.chunk_axis]
        for s in range(0, total, rows):
            yield take(self.array, self.chunk_axis, s, min(s + rows, total))

    def read(self) -> np.ndarray:
        return self.array

    def canonical(self) -> np.ndarray | None:
        """A C-contiguous view with the chunk axis first, if the array has one."""
        a = self.array
        if a.ndim == 0 or not a.dtype.isnative:
            return None
        if self.chunk_axis == 0 and a.flags.c_contiguous:
            return a
        if self.chunk_axis == a.ndim - 1 and a.flags.f_contiguous:
            return a.T
        return None


def take(a: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    """``a[..., start:stop, ...]`` along ``axis``, as a view."""
    index = [slice(None)] * a.ndim
    index[axis] = slice(start, stop)
    return a[tuple(index)]


class Trimmed(Source):
    """``source`` without its first ``drop`` elements along ``axis`` (a run's dummy volumes): a
    chunked source of the same kind (its blocks as stored, with its scale, when it has them),
    whose blocks are views of the source's."""

    def __init__(self, source: Source, axis: int, drop: int) -> None:
        self._inner, self._axis, self._drop = source, axis, drop
        shape = list(source.shape)
        shape[axis] = max(shape[axis] - drop, 0)
        self.shape = tuple(shape)
        self.dtype = source.dtype
        self.chunk_axis = source.chunk_axis
        self.order, self.stored, self.scale = source.order, source.stored, source.scale

    def _trim(self, pieces: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        axis, left = self._axis, self._drop
        try:
            for piece in pieces:
                size = piece.shape[axis]
                if axis != self.chunk_axis:
                    yield take(piece, axis, min(left, size), size)
                elif left >= size:
                    left -= size
                else:
                    yield take(piece, axis, left, size)
                    left = 0
        finally:
            close = getattr(pieces, "close", None)  # a generator's, when it is one
            if close is not None:
                close()

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        return self._trim(self._inner.chunks(rows))

    def stored_chunks(self, rows: int) -> Iterator[np.ndarray]:
        return self._trim(self._inner.stored_chunks(rows))

    def read(self) -> np.ndarray:
        whole = self._inner.read()
        return take(whole, self._axis, self._drop, whole.shape[self._axis])

    def start(self) -> None:
        self._inner.start()

    def close(self) -> None:
        self._inner.close()


def trim(source: Any, axis: int, drop: int) -> Any:
    """``source`` without its first ``drop`` elements along ``axis``: an array source's
    view, or a :class:`Trimmed` reader."""
    if drop <= 0:
        return source
    if isinstance(source, ArraySource):
        array = source.array
        return ArraySource(take(array, axis, min(drop, array.shape[axis]), array.shape[axis]))
    return Trimmed(source, axis, drop)
