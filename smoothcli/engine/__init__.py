"""Evaluate a :class:`~smoothcli.loss.SmoothnessLoss` over a source in bounded memory.

The source is read in blocks along its cheap axis (``chunk_axis``). Each block goes to a
compiled kernel (:mod:`._kernel`) that forms the n-fold differences of a few rows at a time
(carrying the last ``n`` samples across block borders when the blocks split the difference
axis), applies the maps that keep the chunk axis and folds the first map that reduces it into
an accumulator. Accumulators are merged in float64 on the host (:mod:`._accumulate`),
finalised, and any outer maps run on the small result. Blocks have a fixed shape (the last
one is zero-padded and masked), so a kernel is compiled once per block shape, not per file.
Blocks alternate between JAX's CPU devices so that every core works.

Precision follows the input (:func:`smoothcli.precision.compute_dtype`): float64 and 32/64-bit
integers are computed in float64, under a scoped ``jax.enable_x64`` that leaves a library
user's JAX configuration as it was; smaller types in float32. NaN and infinity follow IEEE
arithmetic, as NumPy float64 would on the same formula.

The routes (:func:`_evaluate` picks one), each a module: :mod:`._whole` (a map that cannot be
chunked: the whole array in memory), :mod:`._lanes` (the first map reduces the chunk axis in
vector lanes), :mod:`._stream` (every block through the kernel into an accumulator); and no
differences at all, where the maps on an empty array decide.

The words:

- *source*: an array read in blocks along its ``chunk_axis``
  (:class:`smoothcli.sources._source.Source`); *stored* blocks are as the file keeps them
  (int16), scaled inside the kernel; *converted* blocks are values already.
- *block*, *rows*, *step*: a block is ``rows`` rows of the chunk axis, of a fixed shape (the
  last one padded and masked); the kernel walks it ``step`` rows at a time.
- *carry*, *history*: when blocks split the differenced axis, the last ``n`` rows of a block
  are carried to the next as history rows, so that no difference is lost at a border.
- *plan*: the scalarisation split into local maps (per block), the *combiner* (the first map
  that reduces the chunk axis) and outer maps (on the small result) (:mod:`._plan`).
- *lanes*: a chunk-axis reduction kept as ``LANES`` partial results per row, combined on the
  host, so that the kernel's loop does not wait on one accumulator.
- *tally*: how non-finite differences are counted: ``count`` each, ``flag`` a block (then
  count it again), or ``derive`` it from the result.
- *accumulator*: :class:`._accumulate.Reducer` (sum, max or min of partials, with counts when
  NaN are omitted) or :class:`._accumulate.Concatenator` (the blocks' results side by side,
  when nothing reduces the chunk axis).
"""

from __future__ import annotations

import contextlib
import math
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._jax import enable_x64, jax
from .._nan import NanPolicy
from .._warnings import SmoothcliWarning
from ..loss import SmoothnessLoss, check_options
from ..precision import compute_dtype
from ..sources._base import verify
from ..sources._source import ArraySource, ChunkedSource, Source, as_source
from . import _kernel, _plan
from ._blocks import holds
from ._lanes import evaluate_lanes as _evaluate_lanes
from ._lanes import merged as _merged
from ._plan import KernelSpec, block_sizes, lane_plan, plan_maps, tally_mode
from ._result import Evaluation
from ._stream import evaluate_stream as _evaluate_stream
from ._whole import whole as _whole

jnp = jax.numpy

__all__ = [
    "ArraySource", "CacheInfo", "ChunkedSource", "Source", "DEFAULT_CHUNK_BYTES", "Evaluation",
    "SmoothcliWarning", "cache_info", "clear_caches", "evaluate", "evaluate_info",
]  # fmt: skip

#: bytes of input per kernel call; big enough to hide dispatch, small enough for cache
DEFAULT_CHUNK_BYTES = 8 << 20

_warned: set[str] = set()
_warned_lock = threading.Lock()  # two inputs may be scored at once, in two threads


def _warn_once(message: str) -> None:
    """Said once per process (with two inputs at once, by whichever gets there first)."""
    with _warned_lock:
        first = message not in _warned
        _warned.add(message)
    if first:
        warnings.warn(message, SmoothcliWarning, stacklevel=4)


def clear_caches() -> None:
    """Forget the compiled kernels and the notices already given (each is said once)."""
    _kernel.clear_kernels()
    _warned.clear()


@dataclass(frozen=True)
class CacheInfo:
    """``kernels``: kernel specs cached; ``compilations``: XLA compilations they hold (one
    per CPU device and precision a kernel ran on)."""

    kernels: int
    compilations: int


def cache_info() -> CacheInfo:
    """How many kernels are cached, and how many times XLA compiled them."""
    return CacheInfo(_kernel.kernel.cache_info().currsize, _kernel.compilations())


def evaluate(
    loss: SmoothnessLoss,
    source: Any,
    *,
    chunk_rows: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    nan: NanPolicy | str = NanPolicy.propagate,
) -> np.ndarray:
    """Return what ``loss(X)`` returns, as NumPy (in the compute dtype), without holding all of
    ``X`` at once. ``source``: a NumPy array or memmap (chunked along its slowest axis) or a
    :class:`ChunkedSource`, read in blocks of ``chunk_rows`` rows, else about ``chunk_bytes``.
    ``nan="omit"`` leaves non-finite differences out of every reduction (not IEEE propagation)."""
    return evaluate_info(
        loss, source, chunk_rows=chunk_rows, chunk_bytes=chunk_bytes, nan=nan
    ).value


def evaluate_info(
    loss: SmoothnessLoss,
    source: Any,
    *,
    chunk_rows: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    nan: NanPolicy | str = NanPolicy.propagate,
) -> Evaluation:
    """Like :func:`evaluate`, and also say how many differences there were, how many of them
    were not finite, and the dtype they were computed in. Same parameters."""
    omit = NanPolicy.of(nan) is NanPolicy.omit
    src = as_source(source)
    dtype = np.dtype(src.dtype).newbyteorder("=")  # blocks are staged in native order
    cdtype = compute_dtype(dtype)
    x64 = enable_x64(True) if cdtype == np.float64 else contextlib.nullcontext()
    with x64, np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # IEEE, quietly
        return _evaluate(loss, src, dtype, cdtype, omit, chunk_rows, chunk_bytes)


def _diff_shape(shape: tuple[int, ...], n: int, diff_axis: int, pad: Any) -> list[int]:
    """The shape of the differences: ``n`` fewer along the differenced axis (one more
    element there with a pad)."""
    out = list(shape)
    if n > 0:
        out[diff_axis] = max(shape[diff_axis] + (pad is not None) - n, 0)
    return out


def _staged_dtype(
    src: Any, dtype: np.dtype, cdtype: np.dtype, carry: bool, pad: Any
) -> tuple[bool, np.dtype]:
    """Whether blocks are staged as stored (a NIfTI image's int16, scaled in the kernel, where
    the cores are), and their dtype. A pad is staged with the history rows, in values: in the
    compute dtype if the dtype cannot hold it (an integer would truncate 0.5, float16 1e5)."""
    stored = src.stored is not None and not (carry and pad is not None)
    if stored:
        dtype = np.dtype(src.stored)
    if carry and pad is not None and not holds(dtype, pad):
        dtype = cdtype
    return stored, dtype


def _kernel_settings(
    src: Any, shape: tuple[int, ...], dtype: np.dtype, cdtype: np.dtype, diff: tuple[int, int, Any],
    carry: bool, omit: bool, sizes: tuple[int | None, int], stored: bool,
) -> dict[str, Any]:  # fmt: skip
    """What every kernel of this source shares: the block's shape and axis order, dtypes,
    rows per block and per step, the difference settings (``diff``: n, axis and pad)."""
    chunk_axis = src.chunk_axis
    n, diff_axis, pad = diff
    total_rows = shape[chunk_axis]
    row_elems = math.prod(shape) // max(total_rows, 1)
    itemsize = max(dtype.itemsize, 4)
    rows, step = block_sizes(total_rows, row_elems, itemsize, *sizes)
    others = [a for a in range(len(shape)) if a != chunk_axis]
    if src.order == "F":  # keep the fastest axis last: a free transpose
        others.reverse()
    perm = (chunk_axis, *others)
    history = n if carry else 0
    return {
        "block_shape": (rows + history, *[shape[a] for a in perm[1:]]),
        "perm": perm,
        "stored_dtype": dtype.str,
        "compute_dtype": cdtype.str,
        "rows": rows,
        "step": step,
        "n": n,
        "diff_axis": diff_axis,
        "pad": pad if n > 0 else None,
        "carry": carry,
        "omit": omit,
        "scaled": stored and src.scale is not None,
    }


def _evaluate(
    loss: SmoothnessLoss,
    src: Any,
    dtype: np.dtype,
    cdtype: np.dtype,
    omit: bool,
    chunk_rows: int | None,
    chunk_bytes: int,
) -> Evaluation:
    """The routes: the whole array in memory (a map that cannot be chunked), no differences
    at all, lanes (a reduction over the chunk axis in vector lanes), or a stream of blocks."""
    shape = tuple(int(s) for s in src.shape)
    n, diff_axis = check_options(shape, loss.n, loss.axis)
    scal, pad = loss.scalarisation, loss.pad_value
    assert scal is not None
    if pad is not None and not isinstance(pad, float):
        _warn_once("an array pad_value is evaluated on the whole array")
        return _whole(loss, src, cdtype, omit)
    diff_shape = _diff_shape(shape, n, diff_axis, pad)
    if math.prod(diff_shape) == 0:  # no differences: the maps on an empty array decide
        verify(src, chunk_bytes)  # but only from data that was verified (a CRC, a truncation)
        empty = jnp.zeros(diff_shape, cdtype)
        value = np.asarray(loss.nu * scal.reduce(empty, time_axis=diff_axis, omit=omit), cdtype)
        return Evaluation(value, 0, 0, cdtype)
    plan = plan_maps(scal, len(shape), diff_axis, src.chunk_axis)
    if plan is None:
        _warn_once(
            f"scalarisation {scal} reduces the chunk axis with a matrix norm, which cannot "
            "be chunked; evaluating the whole array in memory"
        )
        return _whole(loss, src, cdtype, omit)
    carry = src.chunk_axis == diff_axis and n > 0
    merge = _merged(src, diff_axis, plan) if not carry else None
    if merge is not None:  # an in-memory array whose leading axes are reduced together
        src, diff_axis, plan = merge
        shape = tuple(int(s) for s in src.shape)
        diff_shape = _diff_shape(shape, n, diff_axis, pad)
    stored, dtype = _staged_dtype(src, dtype, cdtype, carry, pad)
    common = _kernel_settings(
        src, shape, dtype, cdtype, (n, diff_axis, pad), carry, omit, (chunk_rows, chunk_bytes),
        stored,
    )  # fmt: skip
    total_rows = shape[src.chunk_axis]
    row_elems = math.prod(shape) // max(total_rows, 1)
    lane_dec = lane_plan(plan, len(shape), diff_axis, src.chunk_axis, row_elems, carry, omit)
    if lane_dec is not None:
        local = plan.local[:1]
        combiner = plan.combiner if not plan.local else None
        lanes = KernelSpec(
            **common, local=local, combiner=combiner, chunk_pos=0,
            tally=tally_mode(local, combiner, omit), lanes=_plan.LANES, lane_dec=lane_dec,
        )  # fmt: skip
        return _evaluate_lanes(loss, src, cdtype, omit, diff_shape, total_rows, plan, lanes, stored)
    spec = KernelSpec(
        **common, local=plan.local, combiner=plan.combiner, chunk_pos=plan.chunk_pos,
        tally=tally_mode(plan.local, plan.combiner, omit),
    )  # fmt: skip
    return _evaluate_stream(loss, src, cdtype, omit, diff_shape, total_rows, plan, spec, stored)
