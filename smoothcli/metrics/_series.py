"""A source gathered as a (space, time) matrix of its values *as stored*, in bounded pieces.

Metrics whose statistics need each element's whole series (percentiles, autocorrelation)
hold the data once, at its stored type (int16 for most fMRI), and convert a few rows at a
time to float64. NIfTI sources give their blocks unscaled (``stored_chunks``) with the
header's ``scale``; every other source gives its values as they are.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..sources._source import Source

#: bytes of a source read at a time
BLOCK_BYTES = 8 << 20
#: float64 bytes of rows converted at a time by :meth:`Series.rows`
ROW_BYTES = 4 << 20


@dataclass
class Series:
    """``data``: (space, time) values as stored; a value is ``data * slope + inter``."""

    data: np.ndarray
    slope: float | None = None
    inter: float = 0.0

    @property
    def shape(self) -> tuple[int, int]:
        return self.data.shape  # type: ignore[return-value]

    def scaled(self, stored: Any) -> Any:
        """``stored`` (an array or a scalar) as values, in float64."""
        out = np.asarray(stored, np.float64)
        return out * self.slope + self.inter if self.slope is not None else out

    def rows(self, row_bytes: int = ROW_BYTES) -> Iterator[tuple[slice, np.ndarray]]:
        """``(rows, values)``: consecutive rows of ``data`` as float64 values."""
        space, time = self.shape
        step = max(row_bytes // max(8 * time, 1), 1)
        for start in range(0, space, step):
            rows = slice(start, min(start + step, space))
            yield rows, self.scaled(self.data[rows])


def gather(source: Source, time_axis: int) -> Series:
    """All of ``source``'s values as a :class:`Series`: the time axis last, the other axes
    flattened into one (C order over them), read in blocks of about :data:`BLOCK_BYTES`."""
    shape = tuple(source.shape)
    ndim = len(shape)
    time_axis %= ndim
    chunk_axis = source.chunk_axis
    stored = source.stored is not None
    dtype = np.dtype(source.stored if stored else source.dtype).newbyteorder("=")
    moved = [a for a in range(ndim) if a != time_axis] + [time_axis]
    full = np.empty([shape[a] for a in moved], dtype)
    at = moved.index(chunk_axis)  # where the blocks' axis is in ``full``
    unit = dtype.itemsize * math.prod(shape) // max(shape[chunk_axis], 1)
    rows = max(BLOCK_BYTES // max(unit, 1), 1)
    blocks = source.stored_chunks(rows) if stored else source.chunks(rows)
    start = 0
    for block in blocks:
        k = block.shape[chunk_axis]
        index = (slice(None),) * at + (slice(start, start + k),)
        full[index] = np.moveaxis(block, time_axis, -1)
        start += k
    if start != shape[chunk_axis]:
        raise ValueError(f"the source gave {start} of {shape[chunk_axis]} rows")
    scale = source.scale if stored else None
    data = full.reshape(-1, shape[time_axis])
    return Series(data) if scale is None else Series(data, float(scale[0]), float(scale[1]))
