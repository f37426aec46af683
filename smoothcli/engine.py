"""Evaluate a :class:`~smoothcli.loss.SmoothnessLoss` over a source in bounded memory.

The source is read in blocks along its cheap axis (``chunk_axis``). Each block goes to a
compiled kernel that loops over a few rows at a time, forms their n-fold differences from
shifted windows (carrying the last ``n`` samples across block borders when the blocks split
the difference axis), applies the scalarisation maps that keep the chunk axis and folds the
first map that reduces it into an accumulator. Accumulators are merged in float64 on the host,
finalised, and any outer maps run on the small result. Blocks have a fixed shape (the last
one is zero-padded and masked), so a kernel is compiled once per block shape, not per file.
Blocks alternate between JAX's CPU devices so that every core works.

Aligned C-ordered NumPy buffers are shared with JAX, not copied: see :func:`_window`.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._jax import jax
from ._warnings import SmoothcliWarning
from .loss import SmoothnessLoss, check_options, smoothness
from .precision import compute_dtype
from .scalarise import Decomposition, ScalarisationMap, apply_maps
from .sources._base import ArraySource, ChunkedSource
from .sources._base import take as _take

jnp = jax.numpy
lax = jax.lax

__all__ = [
    "ArraySource",
    "ChunkedSource",
    "Evaluation",
    "SmoothcliWarning",
    "evaluate",
    "evaluate_info",
]

#: bytes of input per kernel call; big enough to hide dispatch, small enough for cache
DEFAULT_CHUNK_BYTES = 8 << 20
#: elements handled per step of a kernel's inner loop
_STEP_ELEMENTS = 16384
#: fewest rows in a block (a NIfTI frame of 1M voxels makes a 4 MB row)
_MIN_ROWS = 4
_ALIGN = 64


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        warnings.warn(message, SmoothcliWarning, stacklevel=3)


# -- planning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    local: tuple[ScalarisationMap, ...]  # maps that keep the chunk axis
    combiner: Decomposition | None  # the first map that reduces the chunk axis
    outer: tuple[ScalarisationMap, ...]  # maps after it, run on the small result
    chunk_pos: int  # where the chunk axis is in the local maps' output
    outer_time: int | None  # where the time axis is in the combiner's output


def _plan(scal: ScalarisationMap, ndim: int, time: int, chunk: int) -> _Plan | None:
    maps = scal.chain()
    cur, t, pc = ndim, time, chunk
    for i, m in enumerate(maps):
        if pc in m.reduced_axes(cur, t):
            dec = m.decomposition(cur, t)
            if dec is None:
                return None
            return _Plan(maps[:i], dec, maps[i + 1 :], pc, m.out_time(cur, t))
        pc, t, cur = m.out_position(cur, t, pc), m.out_time(cur, t), m.out_ndim(cur, t)
        assert pc is not None
    return _Plan(maps, None, (), pc, t)


# -- the kernel ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _KernelSpec:
    cshape: tuple[int, ...]  # canonical block shape: chunk axis first
    perm: tuple[int, ...]  # logical axis of each canonical axis
    dtype: str  # dtype of the block as stored
    cdtype: str  # dtype the differences are computed in
    rows: int  # D rows per block (B)
    step: int  # D rows per loop step (r)
    n: int
    diff_axis: int  # logical
    pad: float | None
    carry: bool  # the blocks split the difference axis
    local: tuple[ScalarisationMap, ...]
    combiner: Decomposition | None
    chunk_pos: int
    omit: bool  # leave non-finite differences out of every reduction


def _extra(spec: _KernelSpec) -> int:
    """Elements a kernel's buffer holds beyond the block: the alignment slack, and the
    furthest shift of a window along the difference axis."""
    align = _ALIGN // np.dtype(spec.dtype).itemsize
    if spec.carry or spec.n == 0:
        return align
    cd = spec.perm.index(spec.diff_axis)
    return align + spec.n * math.prod(spec.cshape[cd + 1 :])


#: largest n whose differences are formed from n + 1 shifted windows (they fuse well); above
#: it, a loop of n passes over one fixed-shape array keeps the kernel's size independent of n
_UNROLL_MAX_N = 2


def _repeat_diff(a: Any, n: int, axis: int) -> Any:
    """n passes of ``a[j] = a[j + 1] - a[j]`` along ``axis``, in a loop over a fixed shape.

    After pass p the first ``len - p`` entries are the p-fold differences, computed with the
    same subtractions in the same order as p passes of ``jnp.diff``; the tail is scratch.
    """
    size = a.shape[axis]

    def one_pass(_: Any, x: Any) -> Any:
        ahead = lax.slice_in_dim(x, 1, size, axis=axis)
        here = lax.slice_in_dim(x, 0, size - 1, axis=axis)
        return lax.concatenate([ahead - here, lax.slice_in_dim(x, size - 1, size, axis=axis)], axis)

    return lax.fori_loop(0, n, one_pass, a)


def _differences(buf: Any, offset: Any, spec: _KernelSpec, step_index: Any) -> Any:
    """The n-fold differences of the ``step`` rows from ``step_index * step`` of a block, in
    canonical layout (block rows first), in the compute dtype.

    The block is the flat buffer ``buf[offset:]`` in canonical layout. Each shifted window is
    one contiguous slice of it, reshaped: XLA fuses that into the loop, with no copy.
    """
    n, step = spec.n, spec.step
    diff_pos = spec.perm.index(spec.diff_axis)  # canonical position of the difference axis
    rest = spec.cshape[1:]
    row = math.prod(rest)
    stride = math.prod(spec.cshape[diff_pos + 1 :])
    cdtype = spec.cdtype

    def window(row_off: int, col_off: int, length: int | None, rows: int = step) -> Any:
        start = offset + (step_index * step + row_off) * row + col_off * stride
        w = lax.dynamic_slice(buf, (start,), (rows * row,)).reshape((rows, *rest))
        w = w.astype(cdtype)  # before any subtraction: float16 and integers never overflow
        return w if length is None else lax.slice_in_dim(w, 0, length, axis=diff_pos)

    def pad_slab() -> Any:
        shape = [step, *rest]
        shape[diff_pos] = 1
        return jnp.full(shape, spec.pad, cdtype)

    if n == 0:
        return window(0, 0, None)
    if n > _UNROLL_MAX_N:
        if spec.carry:  # the step's rows and the n before them, differenced along rows
            return lax.slice_in_dim(_repeat_diff(window(0, 0, None, step + n), n, 0), 0, step)
        a = window(0, 0, None)
        if spec.pad is not None:
            a = lax.concatenate([pad_slab(), a], diff_pos)
        length = a.shape[diff_pos] - n
        return lax.slice_in_dim(_repeat_diff(a, n, diff_pos), 0, length, axis=diff_pos)
    if spec.carry:
        win = [window(o, 0, None) for o in range(n + 1)]
    else:
        width = spec.cshape[diff_pos]
        if spec.pad is None:
            win = [window(0, o, width - n) for o in range(n + 1)]
        else:
            win = [window(0, o - 1, width + 1 - n) for o in range(1, n + 1)]
            first = [pad_slab()] + ([window(0, 0, width - n)] if width - n > 0 else [])
            win.insert(0, lax.concatenate(first, diff_pos) if len(first) > 1 else first[0])
    for _ in range(n):  # the same subtractions, in the same order, as n passes of jnp.diff
        win = [win[o + 1] - win[o] for o in range(len(win) - 1)]
    return win[0]


#: compiled kernels by spec; a batch of files with the same row shape reuses one
_KERNELS: dict[_KernelSpec, Any] = {}
_MAX_KERNELS = 64


def _kernel(spec: _KernelSpec) -> Any:
    kern = _KERNELS.get(spec)
    if kern is None:
        if len(_KERNELS) >= _MAX_KERNELS:
            del _KERNELS[next(iter(_KERNELS))]
        kern = _KERNELS[spec] = _build_kernel(spec)
    return kern


def _build_kernel(spec: _KernelSpec) -> Any:
    """The jitted kernel ``(buf, offset, lo, hi) -> (partial, nonfinite)`` for one block.

    ``partial`` is the accumulator (and, when omitting, per-element counts) or, when no map
    reduces the chunk axis, the local maps' output for every block row; rows outside
    ``[lo, hi)`` (history and zero padding) are masked with ``where``, so they never inject
    a NaN or hide one. ``nonfinite`` counts the NaN/Inf differences of rows ``[lo, hi)``.
    """
    steps = spec.rows // spec.step
    dec = spec.combiner
    inverse = tuple(int(a) for a in np.argsort(spec.perm))
    identity_perm = inverse == tuple(range(len(inverse)))

    def row_mask(i: Any, lo: Any, hi: Any, ndim: int, pos: int) -> Any:
        idx = i * spec.step + jnp.arange(spec.step)
        shape = [1] * ndim
        shape[pos] = spec.step
        return ((idx >= lo) & (idx < hi)).reshape(shape)

    def local(buf: Any, offset: Any, i: Any, lo: Any, hi: Any) -> tuple[Any, Any]:
        d = _differences(buf, offset, spec, i)  # canonical layout: block rows first
        finite = jnp.isfinite(d)
        bad = ~finite & row_mask(i, lo, hi, d.ndim, 0)
        nonfinite = jnp.sum(bad, dtype=jnp.int32)
        if spec.omit:
            d = jnp.where(finite, d, jnp.nan)
        if not identity_perm:
            d = jnp.transpose(d, inverse)
        return apply_maps(spec.local, d, spec.diff_axis, omit=spec.omit)[0], nonfinite

    def kernel(buf: Any, offset: Any, lo: Any, hi: Any) -> Any:
        y0 = jax.eval_shape(lambda: local(buf, offset, 0, lo, hi)[0])
        zero = jnp.zeros((), jnp.int32)
        if dec is None:
            out_shape = list(y0.shape)
            out_shape[spec.chunk_pos] = spec.rows

            def gather(i: Any, carry: tuple[Any, Any]) -> tuple[Any, Any]:
                out, nonfinite = carry
                y, bad = local(buf, offset, i, lo, hi)
                out = lax.dynamic_update_slice_in_dim(out, y, i * spec.step, spec.chunk_pos)
                return out, nonfinite + bad

            return lax.fori_loop(0, steps, gather, (jnp.zeros(out_shape, y0.dtype), zero))
        merge = {"sum": jnp.add, "max": jnp.maximum, "min": jnp.minimum}[dec.combine]

        def fold(i: Any, carry: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
            acc, count, nonfinite = carry
            y, bad = local(buf, offset, i, lo, hi)
            t = dec.apply_transform(y, jnp)
            keep = row_mask(i, lo, hi, t.ndim, spec.chunk_pos)
            if spec.omit:  # count what went in, per output element, for the finaliser
                keep = keep & ~jnp.isnan(y)
                count = count + keep.astype(count.dtype)
            t = jnp.where(keep, t, jnp.asarray(dec.identity, t.dtype))
            return merge(acc, t), count, nonfinite + bad

        acc = jnp.full(y0.shape, dec.identity, y0.dtype)
        count = jnp.zeros(y0.shape if spec.omit else (), jnp.int32)
        acc, count, nonfinite = lax.fori_loop(0, steps, fold, (acc, count, zero))
        return (acc, count), nonfinite

    return jax.jit(kernel)


# -- host side -----------------------------------------------------------------------------


class _Staging:
    """64-byte-aligned buffers for blocks that cannot be shared with JAX as they are (the
    first and last blocks of an array, and every block of a file reader). Buffers come back
    to the pool once the kernel that read them has finished, so a long file reuses a few
    buffers instead of faulting in fresh pages for every block."""

    def __init__(self, size: int, dtype: np.dtype, cshape: tuple[int, ...]) -> None:
        self.size, self.dtype, self.cshape = size, dtype, cshape
        self.free: list[np.ndarray] = []

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """A buffer, and its first ``prod(cshape)`` elements viewed in canonical shape."""
        if self.free:
            buf = self.free.pop()
        else:
            raw = np.empty(self.size * self.dtype.itemsize + _ALIGN, np.uint8)
            off = (-raw.ctypes.data) % _ALIGN
            buf = raw[off : off + self.size * self.dtype.itemsize].view(self.dtype)
            buf[math.prod(self.cshape) :] = 0
        return buf, buf[: math.prod(self.cshape)].reshape(self.cshape)

    def give_back(self, buf: np.ndarray) -> None:
        if len(self.free) < 3:  # as many as can be in flight at once on two devices
            self.free.append(buf)


def _window(flat: np.ndarray, start: int, total: int, extra: int) -> tuple[np.ndarray, int] | None:
    """A view of ``flat`` that starts 64-byte aligned at or before ``start`` and covers
    ``total`` elements from it: JAX shares such a buffer instead of copying it."""
    isz = flat.dtype.itemsize
    mis = (flat.ctypes.data + start * isz) % _ALIGN
    if mis % isz:
        return None
    k = mis // isz
    if start - k < 0 or start - k + total + extra > flat.size:
        return None
    return flat[start - k : start - k + total + extra], k


def _sizes(
    total_rows: int, row_elems: int, itemsize: int, chunk_rows: int | None, chunk_bytes: int
) -> tuple[int, int]:
    """Rows per block (B) and per loop step (r, a power of two dividing B)."""
    step = 1 << max(0, int(math.log2(max(_STEP_ELEMENTS // max(row_elems, 1), 1))))
    if chunk_rows is not None:
        rows = max(int(chunk_rows), 1)
        while rows % step:
            step //= 2
        return rows, step
    # at least _MIN_ROWS rows, so that a block's accumulator (one row's worth of values,
    # reduced on the host) is amortised over several rows even for whole-volume rows
    rows = max(step, _MIN_ROWS, chunk_bytes // max(row_elems * itemsize, 1) // step * step)
    if total_rows < rows:  # small input: round up to a power of two so shapes repeat
        rows = max(1 << max(total_rows - 1, 0).bit_length(), 1)
        step = min(step, rows)
    return rows, step


def _as_source(source: Any) -> Any:
    if isinstance(source, ChunkedSource) and not isinstance(source, np.ndarray):
        return source
    return ArraySource(source)


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
    nan: Literal["propagate", "omit"] = "propagate",
) -> np.ndarray:
    """Return what ``loss(X)`` returns, as NumPy, without holding all of ``X`` at once.

    Parameters
    ----------
    loss
        The loss to evaluate; its ``n``, ``pad_value``, ``axis``, ``nu`` and scalarisation.
    source
        A NumPy array or memmap (chunked along its slowest axis) or a :class:`ChunkedSource`.
    chunk_rows
        Fixes the block length along the chunk axis (default: about ``chunk_bytes``).
    chunk_bytes
        Bytes of input per block when ``chunk_rows`` is not given.
    nan
        ``"omit"`` leaves non-finite differences out of every reduction instead of letting
        them propagate (by IEEE arithmetic, as NumPy float64 would).

    Returns
    -------
    numpy.ndarray
        The score in the compute dtype (:func:`smoothcli.precision.compute_dtype`): float64
        for float64 and 32/64-bit integer input, float32 for smaller types.
    """
    return evaluate_info(
        loss, source, chunk_rows=chunk_rows, chunk_bytes=chunk_bytes, nan=nan
    ).value


def evaluate_info(
    loss: SmoothnessLoss,
    source: Any,
    *,
    chunk_rows: int | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    nan: Literal["propagate", "omit"] = "propagate",
) -> Evaluation:
    """Like :func:`evaluate`, and also say how many differences there were, how many of them
    were not finite, and the dtype they were computed in."""
    if nan not in ("propagate", "omit"):
        raise ValueError(f"nan must be 'propagate' or 'omit', not {nan!r}")
    omit = nan == "omit"
    src = _as_source(source)
    shape = tuple(int(s) for s in src.shape)
    dtype = np.dtype(src.dtype).newbyteorder("=")  # blocks are staged in native order
    cdtype = compute_dtype(dtype)
    n, d = check_options(shape, loss.n, loss.axis)
    with _precision(cdtype):
        return _evaluate(loss, src, shape, dtype, cdtype, n, d, omit, chunk_rows, chunk_bytes)


def _precision(cdtype: np.dtype) -> Any:
    """JAX's x64 mode, for the duration of a float64 evaluation only (a scoped setting: a
    library user's own JAX configuration is the same afterwards)."""
    return jax.enable_x64(True) if cdtype == np.float64 else contextlib.nullcontext()


def _evaluate(
    loss: SmoothnessLoss,
    src: Any,
    shape: tuple[int, ...],
    dtype: np.dtype,
    cdtype: np.dtype,
    n: int,
    d: int,
    omit: bool,
    chunk_rows: int | None,
    chunk_bytes: int,
) -> Evaluation:
    scal = loss.scalarisation
    assert scal is not None
    pad = loss.pad_value
    if pad is not None and not isinstance(pad, float):
        _warn_once("an array pad_value is evaluated on the whole array")
        return _whole(loss, src, cdtype, omit)
    c = src.chunk_axis
    dshape = list(shape)
    if n > 0:
        dshape[d] = max(shape[d] + (pad is not None) - n, 0)
    if math.prod(dshape) == 0:  # nothing to stream: the maps on an empty array decide
        empty = jnp.zeros(dshape, cdtype)
        value = np.asarray(loss.nu * scal.reduce(empty, time_axis=d, omit=omit), cdtype)
        return Evaluation(value, 0, 0, cdtype)
    plan = _plan(scal, len(shape), d, c)
    if plan is None:
        _warn_once(
            f"scalarisation {scal} reduces the chunk axis with a matrix norm, which cannot "
            "be chunked; evaluating the whole array in memory"
        )
        return _whole(loss, src, cdtype, omit)

    carry = c == d and n > 0
    if carry and pad is not None and not _holds(dtype, pad):
        # the pad is staged with the history rows: stage in the compute dtype, not the
        # stored one (an integer block would truncate a pad of 0.5)
        dtype = cdtype
    total_rows = shape[c]
    row_elems = math.prod(shape) // max(total_rows, 1)
    rows, step = _sizes(total_rows, row_elems, max(dtype.itemsize, 4), chunk_rows, chunk_bytes)
    others = [a for a in range(len(shape)) if a != c]
    if getattr(src, "order", "C") == "F":  # keep the fastest axis last: a free transpose
        others.reverse()
    perm = (c, *others)
    cshape = (rows + (n if carry else 0), *[shape[a] for a in perm[1:]])
    spec = _KernelSpec(
        cshape,
        perm,
        dtype.str,
        cdtype.str,
        rows,
        step,
        n,
        d,
        pad if n > 0 else None,
        carry,
        plan.local,
        plan.combiner,
        plan.chunk_pos,
        omit,
    )
    kern = _kernel(spec)
    total = math.prod(cshape)
    extra = _extra(spec)
    devices = jax.local_devices(backend="cpu")

    acc: np.ndarray | None = None
    counts: Any = 0
    nonfinite = 0
    pieces: list[np.ndarray] = []
    inflight: deque[tuple[Any, int, int, np.ndarray | None]] = deque()
    staging = _Staging(total + extra, dtype, cshape)

    def fold() -> None:
        nonlocal acc, counts, nonfinite
        (out, bad), lo, hi, staged = inflight.popleft()
        jax.block_until_ready(out)
        if staged is not None:
            staging.give_back(staged)
        nonfinite += int(bad)
        if plan.combiner is None:
            pieces.append(_take(np.asarray(out), plan.chunk_pos, lo, max(hi, lo)))
            return
        axes = plan.combiner.axes
        part = np.asarray(out[0])
        if plan.combiner.combine == "sum":  # converts to float64 as it sums, without a copy
            part = np.sum(part, axis=axes, dtype=np.float64)
        else:  # max and min are exact in any precision
            part = plan.combiner.reduce(part, axes, np).astype(np.float64)
        acc = part if acc is None else plan.combiner.merge(acc, part)
        if omit:
            counts = counts + np.asarray(out[1]).sum(axis=axes, dtype=np.int64)

    blocks = _blocks(src, dtype, rows, n if carry else 0, pad, perm, staging, total, extra)
    for j, (start, buf, k, staged) in enumerate(blocks):
        have = min(rows, total_rows - start)
        # with a carry, block row j is D row start - n + j (+1 with a pad): mask those < 0
        lo = max(n - (pad is not None) - start, 0) if carry else 0
        dev = devices[j % len(devices)]
        out = kern(jax.device_put(buf, dev), k, lo, have)
        inflight.append((out, lo, have, buf if staged else None))
        if len(inflight) > len(devices):  # one block queued per device, one being staged
            fold()
    while inflight:
        fold()

    differences = math.prod(dshape)
    if plan.combiner is None:
        result = np.concatenate(pieces, axis=plan.chunk_pos)
        value = np.asarray(loss.nu * jnp.asarray(result, cdtype))
        return Evaluation(value, nonfinite, differences, cdtype)
    inter = jax.eval_shape(
        lambda y: apply_maps(plan.local, y, d, omit=omit)[0],
        jax.ShapeDtypeStruct(tuple(dshape), cdtype),
    )
    count = counts if omit else math.prod(inter.shape[a] for a in plan.combiner.axes)
    assert acc is not None
    value = plan.combiner.finish(acc, count)
    if plan.outer:
        value = jnp.asarray(value, cdtype)
        value = apply_maps(plan.outer, value, plan.outer_time, omit=omit)[0]
        value = np.asarray(loss.nu * value)
    else:
        value = np.asarray(loss.nu * value, cdtype)
    return Evaluation(value, nonfinite, differences, cdtype)


def _holds(dtype: np.dtype, value: float) -> bool:
    """Whether ``dtype`` stores ``value`` exactly."""
    with np.errstate(all="ignore"):
        stored = np.asarray(value).astype(dtype)
    return bool(stored == value)


def _blocks(
    src: Any,
    dtype: np.dtype,
    rows: int,
    carry: int,
    pad: float | None,
    perm: tuple[int, ...],
    staging: _Staging,
    total: int,
    extra: int,
) -> Iterator[tuple[int, np.ndarray, int, bool]]:
    """Yield ``(start_row, buffer, offset, staged)`` for each block: the block is
    ``buffer[offset:]`` in canonical layout (chunk axis first), preceded by ``carry`` rows of
    history (zeros and the pad before the first row). ``staged`` buffers are the pool's."""
    can = src.canonical() if isinstance(src, ArraySource) else None
    if can is not None and can.dtype != dtype:
        can = None  # staged in another dtype than stored: no buffer to share
    if can is not None:  # in memory: share aligned windows, stage only where they do not fit
        flat = can.reshape(-1)
        row_len = math.prod(can.shape[1:])
        for s in range(0, can.shape[0], rows):
            win = _window(flat, (s - carry) * row_len, total, extra)
            if win is not None:
                yield s, win[0], win[1], False
                continue
            buf, view = staging.take()
            _fill(view, can[max(s - carry, 0) : s + rows], carry - min(s, carry), pad)
            yield s, buf, 0, True
        return
    tail: np.ndarray | None = None
    start = 0
    for chunk in src.chunks(rows):
        block = np.transpose(
            np.asarray(chunk), perm
        )  # view[...] = block converts as needed  # free for F-ordered frames
        k = block.shape[0]
        buf, view = staging.take()
        if carry:
            if tail is None:
                tail = np.zeros((carry, *view.shape[1:]), view.dtype)
                if pad is not None:
                    tail[-1] = pad
            view[:carry] = tail
        view[carry : carry + k] = block
        view[carry + k :] = 0
        if carry:
            tail = view[k : k + carry].copy()
        yield start, buf, 0, True
        start += k


def _fill(view: np.ndarray, body: np.ndarray, head: int, pad: float | None) -> None:
    """Write ``head`` rows of history (zeros, the pad last) then ``body`` into ``view``,
    zeroing the rest."""
    view[:head] = 0
    if head and pad is not None:
        view[head - 1] = pad
    view[head : head + body.shape[0]] = body
    view[head + body.shape[0] :] = 0


def _whole(loss: SmoothnessLoss, src: Any, cdtype: np.dtype, omit: bool) -> Evaluation:
    X = np.asarray(src.read()).astype(cdtype, copy=False)  # float16 promoted first
    D = smoothness(X, n=loss.n, pad_value=loss.pad_value, axis=loss.axis)
    nonfinite = int(jnp.sum(~jnp.isfinite(D)))
    if omit:
        D = jnp.where(jnp.isfinite(D), D, jnp.nan)
    assert loss.scalarisation is not None
    value = loss.scalarisation.reduce(D, time_axis=loss.axis, omit=omit)
    return Evaluation(np.asarray(loss.nu * value), nonfinite, int(D.size), cdtype)
