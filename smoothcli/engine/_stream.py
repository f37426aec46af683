"""The stream route: every block of a source through a compiled kernel, partial results folded
on the host (:func:`run`), then the outer maps (:func:`evaluate_stream`)."""

from __future__ import annotations

import contextlib
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._jax import jax
from ..loss import SmoothnessLoss
from ..scalarise import apply_maps
from ..sources._source import ArraySource
from . import _kernel
from ._accumulate import Concatenator, Reducer
from ._blocks import Staging, blocks
from ._plan import KernelSpec, kernel_layout
from ._result import Evaluation

jnp = jax.numpy

#: blocks in a row that a reader's kernel must fall behind on before another device joins
PATIENCE = 8


def _ready(out: Any) -> bool:
    return all(leaf.is_ready() for leaf in jax.tree_util.tree_leaves(out))


@dataclass
class _Flight:
    """A block given to the kernel and not yet folded into the accumulator: the kernel's
    output, the block on its device, where its rows start and stop, and the staging buffer
    to give back (None for a view of an in-memory array)."""

    out: Any
    on_device: Any
    offset: Any
    lo: int
    hi: int
    staged: np.ndarray | None


class _Folder:
    """Folds the kernel's outputs into the accumulator, in block order, counting what was
    not finite."""

    def __init__(
        self, spec: KernelSpec, acc: Reducer | Concatenator, staging: Staging, scale: tuple
    ):
        self.spec, self.acc, self.staging, self.scale = spec, acc, staging, scale
        self.order = kernel_layout(spec).to_logical
        self.nonfinite = 0

    def logical(self, a: Any) -> np.ndarray:  # a view: the host reduces it in memory order
        a = np.asarray(a)
        return a.transpose(self.order) if a.ndim == len(self.order) else a

    def fold(self, flight: _Flight) -> None:
        spec = self.spec
        partial, tally = flight.out
        jax.block_until_ready(partial)
        if isinstance(partial, tuple):
            partial = tuple(map(self.logical, partial))
        else:
            partial = self.logical(partial)
        result = self.acc.add(partial, flight.lo, flight.hi)
        if spec.tally == "count":
            self.nonfinite += int(tally)
        elif (spec.tally == "flag" and not np.isfinite(tally)) or (
            spec.tally == "derive" and not np.isfinite(result).all()
        ):  # a block with something non-finite: count what (the buffer is still ours)
            count = _kernel.counter(spec)
            self.nonfinite += int(
                count(flight.on_device, flight.offset, flight.lo, flight.hi, *self.scale)
            )
        if flight.staged is not None:
            self.staging.give_back(flight.staged)


def run(
    spec: KernelSpec, src: Any, acc: Reducer | Concatenator, total_rows: int, stored: bool = False
) -> int:
    """Stream every block of ``src`` through the kernel into ``acc``; return how many
    differences were not finite. With ``stored``, the blocks are ``src``'s values as stored
    and the kernel scales them by ``src.scale`` when ``spec.scaled``."""
    kern = _kernel.kernel(spec)
    devices = jax.local_devices(backend="cpu")
    dtype = np.dtype(spec.stored_dtype)
    total = math.prod(spec.block_shape)
    extra = spec.extra()
    staging = Staging(total + extra, dtype, spec.block_shape, depth=len(devices) + 1)
    history = spec.n if spec.carry else 0
    cdtype = np.dtype(spec.compute_dtype)
    slope, inter = src.scale if spec.scaled else (1.0, 0.0)
    scale = (np.asarray(slope, cdtype), np.asarray(inter, cdtype))
    folder = _Folder(spec, acc, staging, scale)
    inflight: deque[_Flight] = deque()
    parts = blocks(
        src, dtype, spec.rows, history, spec.pad, spec.perm, staging, total, extra, stored
    )
    # Devices join as the kernel falls behind: a stream that arrives no faster than one device
    # computes it (a .nii.gz, inflated in the reader thread) never pays a second compilation,
    # nor takes the reader's core. An in-memory array is always ahead of the kernel; a reader
    # is only for a while, having read ahead while JAX started.
    active, turn, behind = 1, 0, 0
    patience = 1 if isinstance(src, ArraySource) else PATIENCE
    with contextlib.closing(parts):  # an error stops the reader now, not when collected
        for start, buf, offset, staged in parts:
            have = min(spec.rows, total_rows - start)
            # with a carry, block row j is difference row start - n + j (+1 with a pad): mask < 0
            lo = max(spec.n - (spec.pad is not None) - start, 0) if spec.carry else 0
            on_device = jax.device_put(buf, devices[turn % active])
            turn += 1
            out = kern(on_device, offset, lo, have, *scale)
            inflight.append(_Flight(out, on_device, offset, lo, have, buf if staged else None))
            if len(inflight) > active:  # one block queued per device, one being staged
                if active < len(devices) and not _ready(inflight[0].out):
                    behind += 1
                    if behind >= patience:
                        active, behind = active + 1, 0
                        continue
                else:
                    behind = 0
                folder.fold(inflight.popleft())
    while inflight:
        folder.fold(inflight.popleft())
    return folder.nonfinite


def evaluate_stream(
    loss: SmoothnessLoss, src: Any, cdtype: np.dtype, omit: bool, diff_shape: list[int],
    total_rows: int, plan: Any, spec: KernelSpec, stored: bool,
) -> Evaluation:  # fmt: skip
    """The stream route: every block through the kernel, into a reducer (or concatenated
    when no map reduces the chunk axis), then the outer maps."""
    acc: Reducer | Concatenator
    acc = Concatenator(plan.chunk_pos) if plan.combiner is None else Reducer(plan.combiner, omit)
    nonfinite = run(spec, src, acc, total_rows, stored)
    if isinstance(acc, Concatenator):
        value = np.asarray(loss.nu * jnp.asarray(acc.result(), cdtype))
        return Evaluation(value, nonfinite, math.prod(diff_shape), cdtype)
    value = acc.result(shape_after(plan.local, diff_shape, spec.diff_axis, cdtype, omit))
    value = finish(loss, value, plan.outer, plan.outer_time, cdtype, omit)
    return Evaluation(value, nonfinite, math.prod(diff_shape), cdtype)


def shape_after(
    maps: tuple, diff_shape: list[int], time: int, cdtype: np.dtype, omit: bool
) -> tuple[int, ...]:
    """The shape ``maps`` make of the differences (traced, not computed)."""
    return jax.eval_shape(
        lambda y: apply_maps(maps, y, time, omit=omit)[0],
        jax.ShapeDtypeStruct(tuple(diff_shape), cdtype),
    ).shape


def finish(
    loss: SmoothnessLoss, value: Any, outer: tuple, time: int | None, cdtype: np.dtype, omit: bool
) -> np.ndarray:
    """``nu`` times the ``outer`` maps of ``value`` (a small result, on the host)."""
    if not outer:
        return np.asarray(loss.nu * value, cdtype)
    rest = apply_maps(outer, jnp.asarray(value, cdtype), time, omit=omit)[0]
    return np.asarray(loss.nu * rest)
