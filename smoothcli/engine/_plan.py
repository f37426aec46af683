"""Planning an evaluation: which maps run per block, block sizes and the kernel spec.

Pure Python and NumPy: nothing here touches JAX.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ..scalarise import Decomposition, ScalarisationMap, trace

__all__ = ["ALIGN", "KernelSpec", "Plan", "block_sizes", "plan_maps", "tally_mode"]

#: elements handled per step of a kernel's inner loop
STEP_ELEMENTS = 16384
#: fewest rows in a block (a NIfTI frame of 1M voxels makes a 4 MB row)
MIN_ROWS = 4
#: most elements in a block: the kernel counts non-finite differences in int32
MAX_BLOCK_ELEMENTS = (1 << 31) - 1
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
    tally: Tally = field(default="count")  # how non-finite differences are noticed

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


def _map_propagates(m: ScalarisationMap) -> bool:
    """Whether a NaN or infinity in a map's input always leaves its output non-finite."""
    if m.kind in ("sum", "mean", "meansq", "rms"):
        return True
    if m.kind == "norm":
        if m.p == "fro":
            return True
        return not isinstance(m.p, str) and m.p > 0
    return False  # max hides -inf


def tally_mode(
    local: tuple[ScalarisationMap, ...], combiner: Decomposition | None, omit: bool
) -> Tally:
    """How the kernel notices non-finite differences, as cheaply as the maps allow.

    ``"derive"``: every map propagates NaN and infinity, so a block's partial result is
    finite unless a difference was not (or a sum overflowed): nothing extra in the kernel.
    ``"flag"``: a map may hide one (a max hides -inf, ``vnorm(p=0)`` counts NaN as
    non-zero), so the kernel also sums ``d - d``, NaN exactly when some ``d`` is not finite.
    ``"count"``: with ``omit``, the kernel counts them as it leaves them out.
    In the first two modes, a block that looks non-finite is counted by a second kernel.
    """
    if omit:
        return "count"
    if not all(_map_propagates(m) for m in local):
        return "flag"
    if combiner is None:
        return "derive"
    if combiner.transform == "nonzero" or combiner.combine == "min":
        return "flag"
    if combiner.transform == "abspow" and combiner.power <= 0:
        return "flag"
    if combiner.combine == "max" and combiner.transform == "id":
        return "flag"
    return "derive"


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
