"""The lanes route: a reduction over the chunk axis kept as ``LANES`` partial results per
row (vector lanes), summed on the host in float64 and finished; and the merged view of a
C-ordered array whose leading reduced axes are one."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from ..loss import SmoothnessLoss
from ..sources._source import ArraySource
from . import _stream
from ._accumulate import Concatenator, Reducer, reduce64
from ._plan import KernelSpec, merge_reduced
from ._result import Evaluation


def merged(src: Any, diff_axis: int, plan: Any) -> tuple[ArraySource, int, Any] | None:
    """``src`` with its leading reduced axes merged into one (see :func:`merge_reduced`): the
    new source, difference axis and plan; ``None`` if that does not apply."""
    if not isinstance(src, ArraySource) or src.array.ndim < 3:
        return None
    canonical = src.canonical()
    if canonical is None:
        return None
    perm = (src.chunk_axis, *[a for a in range(canonical.ndim) if a != src.chunk_axis])
    if src.order == "F":
        perm = (src.chunk_axis, *reversed(perm[1:]))
    merged = merge_reduced(perm, diff_axis, plan)
    if merged is None:
        return None
    k, new, plan = merged
    array = canonical.reshape(-1, *canonical.shape[k:])  # a view: canonical is C-contiguous
    return ArraySource(array), new[diff_axis], plan


def evaluate_lanes(
    loss: SmoothnessLoss, src: Any, cdtype: np.dtype, omit: bool, diff_shape: list[int],
    total_rows: int, plan: Any, spec: KernelSpec, stored: bool = False,
) -> Evaluation:  # fmt: skip
    """Evaluate with the first map of the chain reduced in lanes (see :func:`lane_plan`):
    the kernel gives each row's lane partials, summed here in float64 and finished; the rest
    of the chain runs on that small result."""
    assert loss.scalarisation is not None
    chain = loss.scalarisation.chain()
    ndim, time = len(diff_shape), spec.diff_axis
    flat = dataclasses.replace(spec.lane_dec, axes=(0, 1), keep=None)
    acc: Reducer | Concatenator
    acc = Concatenator(0) if plan.local else Reducer(flat, omit)
    nonfinite = _stream.run(spec, src, acc, total_rows, stored)  # where every block goes
    count = math.prod(diff_shape) // (diff_shape[src.chunk_axis] if plan.local else 1)
    if isinstance(acc, Concatenator):  # one row of lanes per difference row
        value: Any = flat.finish(reduce64(flat, acc.result(), (1,)), count)
    else:
        value = acc.result((count, 1))
    value = np.reshape(value, _stream.shape_after(chain[:1], diff_shape, time, cdtype, omit))
    value = _stream.finish(loss, value, chain[1:], chain[0].out_time(ndim, time), cdtype, omit)
    return Evaluation(value, nonfinite, math.prod(diff_shape), cdtype)
