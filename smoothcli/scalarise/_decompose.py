"""How a map reduces in pieces, which is what lets the engine stream it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np


@dataclass(frozen=True)
class Decomposition:
    """How a map reduces in pieces: ``finalise(combine(transform(x) over chunks))``. ``axes`` are
    the reduced axes of the map's input; ``combine`` is ``sum``, ``max`` or ``min``; ``finalise`` is
    applied to the combined float64 result, given the number of reduced elements. ``keep`` says how
    reduced axes are kept: ``None``, ``"dims"`` (size-1 axes in place) or ``"lead"`` (one size-1
    leading axis, hypercoil's multi-axis vnorm)."""

    axes: tuple[int, ...]
    transform: Literal["id", "abs", "sq", "nonzero", "abspow"]
    combine: Literal["sum", "max", "min"]
    finalise: Literal["id", "mean", "sqrt", "sqrtmean", "root"]
    power: float = 1.0
    keep: Literal["dims", "lead"] | None = None

    @property
    def identity(self) -> float:
        return {"sum": 0.0, "max": -math.inf, "min": math.inf}[self.combine]

    def apply_transform(self, x: Any, xp: Any) -> Any:
        if self.transform == "abs":
            return xp.abs(x)
        if self.transform == "sq":
            return x * x
        if self.transform == "nonzero":
            return (x != 0).astype(x.dtype)
        if self.transform == "abspow":
            return xp.abs(x) ** self.power
        return x

    def reduce(self, x: Any, axes: tuple[int, ...] | None, xp: Any) -> Any:
        fn = {"sum": xp.sum, "max": xp.max, "min": xp.min}[self.combine]
        return fn(x, axis=axes)

    def merge(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        fn = {"sum": np.add, "max": np.maximum, "min": np.minimum}[self.combine]
        return fn(a, b)

    def finish(self, acc: Any, count: Any, xp: Any = np) -> Any:
        """Finalise a combined accumulator; ``count`` (a number, or an array of per-output
        counts when missing values are omitted) is how many elements went into each value.
        A max or min over no elements is NaN."""
        if self.combine != "sum" and not np.isscalar(count):
            acc = xp.where(count == 0, xp.nan, acc)
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.finalise == "mean":
                acc = acc / count
            elif self.finalise == "sqrt":
                acc = xp.sqrt(acc)
            elif self.finalise == "sqrtmean":
                acc = xp.sqrt(acc / count)
            elif self.finalise == "root":
                acc = acc ** (1.0 / self.power)
        if self.keep == "dims":
            acc = xp.expand_dims(acc, self.axes)
        elif self.keep == "lead":
            acc = acc[None]
        return acc
