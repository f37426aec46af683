"""The reader contract: what every source gives the engine. NumPy only, never JAX.

A source is an array read in consecutive blocks along ``chunk_axis``. ``shape`` and
``dtype`` are the logical shape (after any mask) and the dtype of the blocks it yields.
``order`` says how blocks are laid out ("C", or "F" for NIfTI frames) so the engine can
stage them without a copy. ``check()`` is cheap and runs before any compute; ``chunks``
raises :class:`InputError` when the data turns out to be corrupt (a gzip CRC mismatch, a
truncated file), so that no score is ever made from data that was not verified.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["ArraySource", "ChunkedSource", "InputError", "take"]


class InputError(ValueError):
    """This input cannot be scored: its message is one line that names the problem."""


@runtime_checkable
class ChunkedSource(Protocol):
    """An array read in consecutive blocks along ``chunk_axis``.

    A source may also set ``order = "F"`` when its blocks are Fortran-ordered (NIfTI), so
    that the engine lays them out without a copy.
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    chunk_axis: int

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """Yield consecutive blocks of at most ``rows`` along ``chunk_axis``."""
        ...

    def read(self) -> np.ndarray:
        """The whole array (used only when a scalarisation cannot be chunked)."""
        ...


class ArraySource:
    """A NumPy array or memmap as a chunked source, chunked along its slowest axis."""

    def __init__(self, array: Any) -> None:
        self.array = array if isinstance(array, np.ndarray) else np.asarray(array)
        self.shape = tuple(self.array.shape)
        self.dtype = self.array.dtype
        a = self.array
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
