"""Host-side accumulators for the kernels' per-block results. NumPy only.

A :class:`Reducer` merges partial reductions in float64 and finalises them; a
:class:`Concatenator` collects per-row results when no map reduces the chunk axis.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..scalarise import Decomposition
from ..sources._source import take


def reduce64(dec: Decomposition, x: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``x`` reduced over ``axes`` by ``dec``'s combine, in float64."""
    if dec.combine == "sum":  # converts to float64 as it sums, without a copy
        return np.sum(x, axis=axes, dtype=np.float64)
    return dec.reduce(x, axes, np).astype(np.float64)  # max and min: exact in any precision


class Reducer:
    """Merges the partial results of the map that reduces the chunk axis, in float64."""

    def __init__(self, combiner: Decomposition, omit: bool) -> None:
        self.combiner, self.omit = combiner, omit
        self.acc: np.ndarray | None = None
        self.counts: Any = 0  # per output element, when omitting

    def add(self, partial: Any, lo: int, hi: int) -> np.ndarray:
        """Merge one block's ``(accumulator, counts)``; return the block's accumulator, reduced
        over the combiner's axes (non-finite if a difference in it was)."""
        dec = self.combiner
        part, counts = reduce64(dec, np.asarray(partial[0]), dec.axes), partial[1]
        self.acc = part if self.acc is None else dec.merge(self.acc, part)
        if self.omit:
            self.counts = self.counts + np.asarray(counts).sum(axis=dec.axes, dtype=np.int64)
        return part

    def result(self, reduced_shape: tuple[int, ...]) -> Any:
        """The finalised value; ``reduced_shape`` is the shape of the combiner's input."""
        assert self.acc is not None
        dec = self.combiner
        count = self.counts if self.omit else math.prod(reduced_shape[a] for a in dec.axes)
        return dec.finish(self.acc, count)


class Concatenator:
    """Collects the kernels' per-row results along the chunk axis."""

    def __init__(self, chunk_pos: int) -> None:
        self.chunk_pos = chunk_pos
        self.pieces: list[np.ndarray] = []

    def add(self, out: Any, lo: int, hi: int) -> np.ndarray:
        piece = take(np.asarray(out), self.chunk_pos, lo, max(hi, lo))
        self.pieces.append(piece)
        return piece

    def result(self) -> np.ndarray:
        return np.concatenate(self.pieces, axis=self.chunk_pos)
