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
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import warnings
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._jax import jax
from .._nan import NanPolicy
from .._warnings import SmoothcliWarning
from ..loss import SmoothnessLoss, check_options, smoothness
from ..precision import compute_dtype
from ..scalarise import apply_maps
from ..sources._base import ArraySource, ChunkedSource
from . import _kernel, _plan
from ._accumulate import Concatenator, Reducer
from ._blocks import Staging, blocks, holds
from ._plan import (
    KernelSpec,
    block_sizes,
    kernel_layout,
    lane_plan,
    merge_reduced,
    plan_maps,
    tally_mode,
)

jnp = jax.numpy

__all__ = [
    "ArraySource",
    "CacheInfo",
    "ChunkedSource",
    "DEFAULT_CHUNK_BYTES",
    "Evaluation",
    "SmoothcliWarning",
    "cache_info",
    "clear_caches",
    "evaluate",
    "evaluate_info",
]

#: bytes of input per kernel call; big enough to hide dispatch, small enough for cache
DEFAULT_CHUNK_BYTES = 8 << 20

_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
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


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate_info` found.

    Attributes
    ----------
    value
        The score, as :func:`evaluate` returns it (in the compute dtype).
    nonfinite
        How many difference elements were NaN or infinite (what ``nan="omit"`` leaves out).
    differences
        How many difference elements there were; 0 when ``n`` left none.
    dtype
        The dtype the differences and reductions were computed in.
    """

    value: np.ndarray
    nonfinite: int
    differences: int
    dtype: np.dtype


def evaluate(
    loss: SmoothnessLoss,
    source: Any,
    *,
    chunk_rows: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    nan: NanPolicy | str = NanPolicy.propagate,
) -> np.ndarray:
    """Return what ``loss(X)`` returns, as NumPy, without holding all of ``X`` at once.

    Parameters
    ----------
    loss
        The loss to evaluate: its ``n``, ``pad_value``, ``axis``, ``nu`` and scalarisation.
    source
        A NumPy array or memmap (chunked along its slowest axis) or a :class:`ChunkedSource`.
    chunk_rows
        Fixes the block length along the chunk axis (default: about ``chunk_bytes``).
    chunk_bytes
        Bytes of input per block when ``chunk_rows`` is not given.
    nan
        ``"omit"`` leaves non-finite differences out of every reduction instead of letting
        them propagate by IEEE arithmetic (as NumPy float64 would).

    Returns
    -------
    numpy.ndarray
        The score in the compute dtype: float64 for float64 and 32/64-bit integer input,
        float32 for smaller types.
    """
    info = evaluate_info(loss, source, chunk_rows=chunk_rows, chunk_bytes=chunk_bytes, nan=nan)
    return info.value


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
    src = source
    if not isinstance(source, ChunkedSource) or isinstance(source, np.ndarray):
        src = ArraySource(source)
    dtype = np.dtype(src.dtype).newbyteorder("=")  # blocks are staged in native order
    cdtype = compute_dtype(dtype)
    x64 = jax.enable_x64(True) if cdtype == np.float64 else contextlib.nullcontext()
    with x64, np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # IEEE, quietly
        return _evaluate(loss, src, dtype, cdtype, omit, chunk_rows, chunk_bytes)


def _verify(src: Any, dtype: np.dtype, chunk_bytes: int) -> None:
    """Read a source to its end without computing: a score of no differences still comes
    only from data that was verified (a gzip or zip CRC, a truncated file)."""
    shape = tuple(int(s) for s in src.shape)
    if not shape or shape[src.chunk_axis] == 0:
        return
    row_bytes = math.prod(shape) // shape[src.chunk_axis] * dtype.itemsize
    for _ in src.chunks(max(chunk_bytes // max(row_bytes, 1), 1)):
        pass


def _evaluate(
    loss: SmoothnessLoss,
    src: Any,
    dtype: np.dtype,
    cdtype: np.dtype,
    omit: bool,
    chunk_rows: int | None,
    chunk_bytes: int,
) -> Evaluation:
    shape = tuple(int(s) for s in src.shape)
    n, diff_axis = check_options(shape, loss.n, loss.axis)
    scal, pad = loss.scalarisation, loss.pad_value
    assert scal is not None
    if pad is not None and not isinstance(pad, float):
        _warn_once("an array pad_value is evaluated on the whole array")
        return _whole(loss, src, cdtype, omit)
    diff_shape = list(shape)
    if n > 0:
        diff_shape[diff_axis] = max(shape[diff_axis] + (pad is not None) - n, 0)
    if math.prod(diff_shape) == 0:  # no differences: the maps on an empty array decide
        _verify(src, dtype, chunk_bytes)
        empty = jnp.zeros(diff_shape, cdtype)
        value = np.asarray(loss.nu * scal.reduce(empty, time_axis=diff_axis, omit=omit), cdtype)
        return Evaluation(value, 0, 0, cdtype)
    chunk_axis = src.chunk_axis
    plan = plan_maps(scal, len(shape), diff_axis, chunk_axis)
    if plan is None:
        _warn_once(
            f"scalarisation {scal} reduces the chunk axis with a matrix norm, which cannot "
            "be chunked; evaluating the whole array in memory"
        )
        return _whole(loss, src, cdtype, omit)

    carry = chunk_axis == diff_axis and n > 0
    merge = _merged(src, diff_axis, plan) if not carry else None
    if merge is not None:  # an in-memory array whose leading axes are reduced together
        src, diff_axis, plan = merge
        chunk_axis, shape = 0, tuple(int(s) for s in src.shape)
        diff_shape = list(shape)
        if n > 0:
            diff_shape[diff_axis] = max(shape[diff_axis] + (pad is not None) - n, 0)
    if carry and pad is not None and not holds(dtype, pad):
        # the pad is staged with the history rows: stage in the compute dtype, not the
        # stored one (an integer block would truncate a pad of 0.5, float16 overflow 1e5)
        dtype = cdtype
    total_rows = shape[chunk_axis]
    row_elems = math.prod(shape) // max(total_rows, 1)
    itemsize = max(dtype.itemsize, 4)
    rows, step = block_sizes(total_rows, row_elems, itemsize, chunk_rows, chunk_bytes)
    others = [a for a in range(len(shape)) if a != chunk_axis]
    if getattr(src, "order", "C") == "F":  # keep the fastest axis last: a free transpose
        others.reverse()
    perm = (chunk_axis, *others)
    history = n if carry else 0
    block_shape = (rows + history, *[shape[a] for a in perm[1:]])
    lane_dec = lane_plan(plan, len(shape), diff_axis, chunk_axis, row_elems, carry, omit)
    if lane_dec is not None:
        return _evaluate_lanes(
            loss,
            src,
            cdtype,
            omit,
            diff_shape,
            total_rows,
            lane_dec,
            plan,
            KernelSpec(
                block_shape=block_shape,
                perm=perm,
                stored_dtype=dtype.str,
                compute_dtype=cdtype.str,
                rows=rows,
                step=step,
                n=n,
                diff_axis=diff_axis,
                pad=pad if n > 0 else None,
                carry=carry,
                local=plan.local[:1],
                combiner=plan.combiner if not plan.local else None,
                chunk_pos=0,
                omit=omit,
                tally=tally_mode(plan.local[:1], plan.combiner if not plan.local else None, omit),
                lanes=_plan.LANES,
                lane_dec=lane_dec,
            ),
        )
    spec = KernelSpec(
        block_shape=block_shape,
        perm=perm,
        stored_dtype=dtype.str,
        compute_dtype=cdtype.str,
        rows=rows,
        step=step,
        n=n,
        diff_axis=diff_axis,
        pad=pad if n > 0 else None,
        carry=carry,
        local=plan.local,
        combiner=plan.combiner,
        chunk_pos=plan.chunk_pos,
        omit=omit,
        tally=tally_mode(plan.local, plan.combiner, omit),
    )
    acc: Reducer | Concatenator
    acc = Concatenator(plan.chunk_pos) if plan.combiner is None else Reducer(plan.combiner, omit)
    nonfinite = _run(spec, src, acc, total_rows)

    if isinstance(acc, Concatenator):
        value = np.asarray(loss.nu * jnp.asarray(acc.result(), cdtype))
        return Evaluation(value, nonfinite, math.prod(diff_shape), cdtype)
    reduced = jax.eval_shape(
        lambda y: apply_maps(plan.local, y, diff_axis, omit=omit)[0],
        jax.ShapeDtypeStruct(tuple(diff_shape), cdtype),
    )
    value = acc.result(reduced.shape)
    if plan.outer:
        value = jnp.asarray(value, cdtype)
        value = np.asarray(loss.nu * apply_maps(plan.outer, value, plan.outer_time, omit=omit)[0])
    else:
        value = np.asarray(loss.nu * value, cdtype)
    return Evaluation(value, nonfinite, math.prod(diff_shape), cdtype)


def _merged(src: Any, diff_axis: int, plan: Any) -> tuple[ArraySource, int, Any] | None:
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


def _evaluate_lanes(
    loss: SmoothnessLoss,
    src: Any,
    cdtype: np.dtype,
    omit: bool,
    diff_shape: list[int],
    total_rows: int,
    dec: Any,
    plan: Any,
    spec: KernelSpec,
) -> Evaluation:
    """Evaluate with the first map of the chain reduced in lanes (see :func:`lane_plan`):
    the kernel gives each row's lane partials, summed here in float64 and finished; the rest
    of the chain runs on that small result."""
    assert loss.scalarisation is not None
    chain = loss.scalarisation.chain()
    ndim, time = len(diff_shape), spec.diff_axis
    flat = dataclasses.replace(dec, axes=(0, 1), keep=None)
    acc: Reducer | Concatenator
    acc = Concatenator(0) if plan.local else Reducer(flat, omit)
    nonfinite = _run(spec, src, acc, total_rows)
    count = math.prod(diff_shape) // (diff_shape[src.chunk_axis] if plan.local else 1)
    if isinstance(acc, Concatenator):  # one row of lanes per difference row
        lanes = acc.result()
        if flat.combine == "sum":
            total = np.sum(lanes, axis=1, dtype=np.float64)
        else:
            total = flat.reduce(lanes, (1,), np).astype(np.float64)
        value: Any = flat.finish(total, count)
    else:
        value = acc.result((count, 1))
    first = jax.eval_shape(
        lambda y: apply_maps(chain[:1], y, time, omit=omit)[0],
        jax.ShapeDtypeStruct(tuple(diff_shape), cdtype),
    )
    value = np.reshape(value, first.shape)
    if len(chain) > 1:
        value = jnp.asarray(value, cdtype)
        rest = apply_maps(chain[1:], value, chain[0].out_time(ndim, time), omit=omit)[0]
        value = np.asarray(loss.nu * rest)
    else:
        value = np.asarray(loss.nu * value, cdtype)
    return Evaluation(value, nonfinite, math.prod(diff_shape), cdtype)


def _run(spec: KernelSpec, src: Any, acc: Reducer | Concatenator, total_rows: int) -> int:
    """Stream every block of ``src`` through the kernel into ``acc``; return how many
    differences were not finite."""
    kern = _kernel.kernel(spec)
    devices = jax.local_devices(backend="cpu")
    dtype = np.dtype(spec.stored_dtype)
    total = math.prod(spec.block_shape)
    extra = spec.extra()
    staging = Staging(total + extra, dtype, spec.block_shape, depth=len(devices) + 1)
    history = spec.n if spec.carry else 0
    order = kernel_layout(spec).to_logical

    def logical(a: Any) -> np.ndarray:  # a view: the host reduces it in memory order
        a = np.asarray(a)
        return a.transpose(order) if a.ndim == len(order) else a

    inflight: deque[tuple[Any, Any, Any, int, int, np.ndarray | None]] = deque()
    nonfinite = 0

    def fold() -> None:
        nonlocal nonfinite
        (partial, tally), on_device, offset, lo, hi, staged = inflight.popleft()
        jax.block_until_ready(partial)
        if isinstance(partial, tuple):
            partial = tuple(logical(p) for p in partial)
        else:
            partial = logical(partial)
        result = acc.add(partial, lo, hi)
        if spec.tally == "count":
            nonfinite += int(tally)
        elif (spec.tally == "flag" and not np.isfinite(tally)) or (
            spec.tally == "derive" and not np.isfinite(result).all()
        ):  # a block with something non-finite: count what (the buffer is still ours)
            nonfinite += int(_kernel.counter(spec)(on_device, offset, lo, hi))
        if staged is not None:
            staging.give_back(staged)

    parts = blocks(src, dtype, spec.rows, history, spec.pad, spec.perm, staging, total, extra)
    for j, (start, buf, offset, staged) in enumerate(parts):
        have = min(spec.rows, total_rows - start)
        # with a carry, block row j is difference row start - n + j (+1 with a pad): mask < 0
        lo = max(spec.n - (spec.pad is not None) - start, 0) if spec.carry else 0
        on_device = jax.device_put(buf, devices[j % len(devices)])
        out = kern(on_device, offset, lo, have)
        inflight.append((out, on_device, offset, lo, have, buf if staged else None))
        if len(inflight) > len(devices):  # one block queued per device, one being staged
            fold()
    while inflight:
        fold()
    return nonfinite


def _whole(loss: SmoothnessLoss, src: Any, cdtype: np.dtype, omit: bool) -> Evaluation:
    """Evaluate on the whole array in memory (a matrix norm over the chunk axis)."""
    X = np.asarray(src.read()).astype(cdtype, copy=False)  # float16 promoted first
    D = smoothness(X, n=loss.n, pad_value=loss.pad_value, axis=loss.axis)
    nonfinite = int(jnp.sum(~jnp.isfinite(D)))
    if omit:
        D = jnp.where(jnp.isfinite(D), D, jnp.nan)
    assert loss.scalarisation is not None
    value = loss.scalarisation.reduce(D, time_axis=loss.axis, omit=omit)
    return Evaluation(np.asarray(loss.nu * value, cdtype), nonfinite, int(D.size), cdtype)
