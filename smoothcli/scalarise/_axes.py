"""Axes of the maps: checking and resolving ``int | tuple | None | "time" | "space"``, and
one walk that traces where each output axis of a chain of maps came from."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

AxisSpec = int | str | tuple[int | str, ...] | None
AXIS_NAMES = ("time", "space")


def check_axis(axis: Any) -> AxisSpec:
    if axis is None or isinstance(axis, str):
        if isinstance(axis, str) and axis not in AXIS_NAMES:
            raise ValueError(f"axis name {axis!r} is not one of {', '.join(AXIS_NAMES)}")
        return axis
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        return int(axis)
    if isinstance(axis, (tuple, list)):
        return tuple(check_axis(a) for a in axis)  # type: ignore[misc]
    raise TypeError(f"axis must be an int, a tuple, None, 'time' or 'space', not {axis!r}")


def resolve_axis(axis: AxisSpec, ndim: int, time: int | None) -> int | tuple[int, ...] | None:
    """Turn names and negative ints into concrete axes of an ``ndim``-d array."""

    def one(a: int | str) -> tuple[int, ...]:
        if isinstance(a, str):
            if time is None:
                raise ValueError(
                    f"axis {a!r} needs a time axis, and there is none here "
                    "(pass time_axis=, or an inner map reduced it away)"
                )
            return (time,) if a == "time" else tuple(i for i in range(ndim) if i != time)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a {ndim}-d array")
        return (a % ndim,)

    if axis is None:
        return None
    if axis == "time" or isinstance(axis, int):
        return one(axis)[0]
    flat = [i for a in (axis if isinstance(axis, tuple) else (axis,)) for i in one(a)]
    if len(set(flat)) != len(flat):
        raise ValueError(f"axis {axis!r} names the same axis twice")
    return tuple(flat)


def trace(chain: Sequence[Any], ndim: int, time: int | None) -> tuple[int | None, ...]:
    """For each axis of what ``chain`` (maps, innermost first, each without its inner map) makes of
    an ``ndim``-d array whose time axis is ``time``: the input axis it came from. A reduced axis
    kept with ``keepdims`` still comes from its input axis; the single leading axis of a multi-axis
    vector norm with ``keepdims`` comes from none (``None``)."""
    origin: list[int | None] = list(range(ndim))
    for m in chain:
        out: list[int | None] = [None] * m.out_ndim(ndim, time)
        reduced = m.reduced_axes(ndim, time)
        for pos, came_from in enumerate(origin):
            where = m.out_position(ndim, time, pos)
            if where is None:
                continue
            if pos in reduced and not (m.keepdims and m.out_ndim(ndim, time) == ndim):
                continue  # folded into the leading axis of an unfolded vector norm
            out[where] = came_from
        ndim, time, origin = len(out), m.out_time(ndim, time), out
    return tuple(origin)
