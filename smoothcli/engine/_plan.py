"""Planning an evaluation: which maps run per block, block sizes and the kernel spec (pure
Python and NumPy: nothing here touches JAX)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..scalarise import Decomposition, ScalarisationMap, trace

#: elements handled per step of a kernel's inner loop
STEP_ELEMENTS = 16384
#: fewest rows in a block (a NIfTI frame of 1M voxels makes a 4 MB row)
MIN_ROWS = 4
#: most elements in a block: the kernel counts non-finite differences in int32
MAX_BLOCK_ELEMENTS = (1 << 31) - 1
#: lanes a whole-row reduction is split into (:func:`lane_plan`), for rows at least
#: LANE_MIN_ROWS times as long
LANES = 4096
LANE_MIN_ROWS = 4
#: bytes a staged buffer is aligned to, so that JAX can share it without a copy
ALIGN = 64

Tally = Literal["count", "derive", "flag"]


@dataclass(frozen=True)
class Plan:
    """How a chain of maps splits around the first map that reduces the chunk axis."""

    local: tuple[ScalarisationMap, ...]  # maps that keep the chunk axis
    combiner: Decomposition | None  # the first map that reduces the chunk axis
    outer: tuple[ScalarisationMap, ...]  # maps after it, run on the small result
    chunk_pos: int  # where the chunk axis is in the local maps' output
    outer_time: int | None  # where the time axis is in the combiner's output


def plan_maps(scal: ScalarisationMap, ndim: int, time: int, chunk: int) -> Plan | None:
    """Split ``scal`` for blocks along axis ``chunk`` of an ``ndim``-d difference array
    whose differences run along ``time``; ``None`` if a matrix norm reduces the chunk axis."""
    maps = scal.chain()
    ndim_now, time_now, chunk_now = ndim, time, chunk
    for i, m in enumerate(maps):
        if chunk_now in m.reduced_axes(ndim_now, time_now):
            dec = m.decomposition(ndim_now, time_now)
            if dec is None:
                return None
            return Plan(maps[:i], dec, maps[i + 1 :], chunk_now, m.out_time(ndim_now, time_now))
        chunk_now = trace((m,), ndim_now, time_now).index(chunk_now)  # it kept the axis
        time_now, ndim_now = m.out_time(ndim_now, time_now), m.out_ndim(ndim_now, time_now)
    return Plan(maps, None, (), chunk_now, time_now)


@dataclass(frozen=True, kw_only=True)
class KernelSpec:
    """Everything a compiled kernel depends on; equal specs share one kernel."""

    block_shape: tuple[int, ...]  # canonical block shape: chunk axis first, history included
    perm: tuple[int, ...]  # the logical axis of each canonical axis
    stored_dtype: str  # dtype of the staged block
    compute_dtype: str  # dtype the differences and in-kernel reductions are computed in
    rows: int  # difference rows per block
    step: int  # difference rows per loop step (a power of two dividing ``rows``)
    n: int
    diff_axis: int  # logical
    pad: float | None
    carry: bool  # the blocks split the difference axis: each holds n rows of history
    local: tuple[ScalarisationMap, ...]
    combiner: Decomposition | None
    chunk_pos: int
    omit: bool  # leave non-finite differences out of every reduction
    #: blocks hold values as stored: the kernel computes ``stored * slope + inter`` (its
    #: last two arguments) in the compute dtype before anything else
    scaled: bool = False
    tally: Tally = field(default="count")  # how non-finite differences are noticed
    #: > 0: each row's differences are reduced by ``lane_dec`` into this many lane partials
    #: (+1 for the rest), on the host in float64 after; see :func:`lane_plan`
    lanes: int = 0
    lane_dec: Decomposition | None = None

    @property
    def diff_pos(self) -> int:
        """The canonical position of the difference axis."""
        return self.perm.index(self.diff_axis)

    def extra(self) -> int:
        """Elements a kernel's buffer holds beyond the block: the alignment slack, and the
        furthest shift of a window along the difference axis."""
        align = ALIGN // np.dtype(self.stored_dtype).itemsize
        if self.carry or self.n == 0:
            return align
        return align + self.n * math.prod(self.block_shape[self.diff_pos + 1 :])


@dataclass(frozen=True)
class Layout:
    """The local maps as the kernel applies them: on the block's own (canonical) axes, so that
    no block is ever transposed. ``to_logical`` transposes their (small, or reduced on the
    host) output into the logical order the accumulators expect; ``chunk_pos`` is where the
    chunk axis is in the kernel's output."""

    maps: tuple[ScalarisationMap, ...]
    to_logical: tuple[int, ...]
    chunk_pos: int


def kernel_layout(spec: KernelSpec) -> Layout:
    """Rewrite ``spec.local`` to act on the block's axes (``spec.perm`` order): each map's
    axes, resolved in the logical frame, renamed to the block axes that hold them, in the same
    order (a matrix norm's rows and columns keep their roles). A reduction leaves the kept axes
    in block order (``to_logical`` restores it): only the order it visits elements changes."""
    if spec.lanes:  # the kernel's output is (rows, lanes + 1), whatever the maps
        return Layout((), (0, 1), 0)
    held = list(spec.perm)  # the logical axis each kernel axis holds
    ndim, time = len(held), spec.diff_axis
    maps = []
    for m in spec.local:
        ax = m.resolved_axis(ndim, time)
        if isinstance(ax, int):
            axis: int | tuple[int, ...] | None = held.index(ax)
        elif ax is None:
            axis = None if ndim == 1 else tuple(held.index(a) for a in range(ndim))
        else:
            axis = tuple(held.index(a) for a in ax)
        maps.append(dataclasses.replace(m, inner=None, axis=axis))
        reduced = m.reduced_axes(ndim, time)
        lead = m.keepdims and m.out_ndim(ndim, time) != ndim  # an unfolded vector norm
        kept = [a for a in held if not (a in reduced and (lead or not m.keepdims))]
        new = [m.out_position(ndim, time, a) for a in kept]
        held = [0, *new] if lead else new
        ndim, time = m.out_ndim(ndim, time), m.out_time(ndim, time)
    assert sorted(held) == list(range(ndim)), (held, ndim)
    to_logical = tuple(held.index(a) for a in range(ndim))
    return Layout(tuple(maps), to_logical, held.index(spec.chunk_pos))


def merge_reduced(
    perm: tuple[int, ...], diff_axis: int, plan: Plan
) -> tuple[int, dict[int, int], Plan] | None:
    """How many leading block axes (``perm`` order) to merge into one chunk axis, the new axis of
    each logical axis, and the plan for the merged array; ``None`` if not worth it. A C-ordered 4D
    array in memory is chunked along its first axis: a block row is a whole volume, and the kernel's
    accumulator (one row's worth) streams megabytes at every step. When the only map that reduces
    the chunk axis (none before it) also reduces the axes after it, they merge with the chunk axis
    for free (a reshape), leaving short rows like a 2D array's. The kept axes must stay in order, so
    that the result does not change."""
    dec = plan.combiner
    if plan.local or dec is None or dec.keep is not None:
        return None
    k = 0
    while k < len(perm) and perm[k] in dec.axes and perm[k] != diff_axis:
        k += 1
    if k < 2:
        return None
    kept = [a for a in perm if a not in dec.axes]
    if kept != sorted(kept):
        return None
    new = {a: max(perm.index(a) - k + 1, 0) for a in perm}
    merged = dataclasses.replace(dec, axes=tuple(sorted({new[a] for a in dec.axes})))
    return k, new, Plan((), merged, plan.outer, 0, plan.outer_time)


def lane_plan(
    plan: Plan, ndim: int, diff_axis: int, chunk_axis: int, row_elems: int, carry: bool, omit: bool
) -> Decomposition | None:
    """The reduction to split into lanes, or ``None``. When blocks split the difference axis (a
    time-last F-ordered array, a NIfTI run) a row is a whole frame, and a map that reduces all of it
    sums millions of elements per row: XLA's CPU reduction to one value per row adds one scalar at a
    time, and folding frames into an accumulator streams a frame-sized array at every step. Instead
    each row is reduced into :data:`LANES` partials over strided elements (a column reduction, which
    XLA vectorises), finished on the host in float64: the first local map if it reduces every axis
    but the chunk axis, or the combiner when there is no local map and it reduces every axis."""
    if not carry or omit or row_elems < LANES * LANE_MIN_ROWS:
        return None
    if plan.local:
        dec, axes = plan.local[0].decomposition(ndim, diff_axis), set(range(ndim)) - {chunk_axis}
    else:
        dec, axes = plan.combiner, set(range(ndim))
    return dec if dec is not None and set(dec.axes) == axes else None


def _map_propagates(m: ScalarisationMap) -> bool:
    """Whether a NaN or infinity in a map's input always leaves its output non-finite."""
    if m.kind == "norm":
        return m.p == "fro" or (not isinstance(m.p, str) and m.p > 0)
    return m.kind in ("sum", "mean", "meansq", "rms")  # max hides -inf


def tally_mode(
    local: tuple[ScalarisationMap, ...], combiner: Decomposition | None, omit: bool
) -> Tally:
    """How the kernel notices non-finite differences, as cheaply as the maps allow (in the
    first two modes a block that looks non-finite is then counted by a second kernel).
    ``"derive"``: every map propagates NaN and infinity, so a block's partial result is finite
    unless a difference was not (or a sum overflowed): nothing extra in the kernel. ``"flag"``:
    a map may hide one (a max hides -inf, ``vnorm(p=0)`` counts NaN as non-zero), so the
    kernel also sums ``d - d``, NaN exactly when some ``d`` is not finite. ``"count"``: with
    ``omit``, the kernel counts them as it leaves them out."""
    if omit:
        return "count"
    if not all(_map_propagates(m) for m in local):
        return "flag"
    if combiner is None:
        return "derive"
    hides = (
        combiner.transform == "nonzero"
        or combiner.combine == "min"
        or (combiner.transform == "abspow" and combiner.power <= 0)
        or (combiner.combine == "max" and combiner.transform == "id")
    )
    return "flag" if hides else "derive"


def block_sizes(
    total_rows: int, row_elems: int, itemsize: int, chunk_rows: int | None, chunk_bytes: int
) -> tuple[int, int]:
    """Rows per block and per loop step (a power of two dividing the block's rows)."""
    step = 1 << max(0, int(math.log2(max(STEP_ELEMENTS // max(row_elems, 1), 1))))
    most = max(MAX_BLOCK_ELEMENTS // max(row_elems, 1) - 1, 1)
    if chunk_rows is not None:
        rows = min(max(int(chunk_rows), 1), most)
        while rows % step:
            step //= 2
        return rows, step
    # at least MIN_ROWS rows, so that a block's accumulator (one row's worth of values,
    # reduced on the host) is amortised over several rows even for whole-volume rows
    rows = max(step, MIN_ROWS, chunk_bytes // max(row_elems * itemsize, 1) // step * step)
    if total_rows < rows:  # small input: round up to a power of two so shapes repeat
        rows = max(1 << max(total_rows - 1, 0).bit_length(), 1)
        step = min(step, rows)
    return rows, step
