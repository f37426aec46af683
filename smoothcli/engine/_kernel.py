"""The compiled kernels, the engine's only jitted code. A kernel takes one staged block (a
flat buffer and the block's offset in it) and loops over a few rows at a time: it forms their
n-fold differences, applies the maps that keep the chunk axis and folds the first map that
reduces it into an accumulator. Rows outside ``[lo, hi)`` (history and zero padding) are
masked with ``where``, so they never inject a NaN or an infinity, and never hide one.
"""

from __future__ import annotations

import functools
import math
import weakref
from typing import Any

from .._jax import jax
from ..scalarise import apply_maps
from ._plan import KernelSpec, kernel_layout

jnp = jax.numpy
lax = jax.lax

#: largest n whose differences are formed from n + 1 shifted windows (they fuse well); above
#: it, a loop of n passes over one fixed-shape array keeps the kernel's size independent of n
UNROLL_MAX_N = 2


def repeat_diff(a: Any, n: int, axis: int) -> Any:
    """n passes of ``a[j] = a[j + 1] - a[j]`` along ``axis``, in a loop over a fixed shape:
    after pass p the first ``len - p`` entries are the p-fold differences, with the same
    subtractions in the same order as p passes of ``jnp.diff``; the tail is scratch."""
    size = a.shape[axis]

    def one_pass(_: Any, x: Any) -> Any:
        ahead = lax.slice_in_dim(x, 1, size, axis=axis)
        here = lax.slice_in_dim(x, 0, size - 1, axis=axis)
        return lax.concatenate([ahead - here, lax.slice_in_dim(x, size - 1, size, axis=axis)], axis)

    return lax.fori_loop(0, n, one_pass, a)


def differences(
    buf: Any, offset: Any, spec: KernelSpec, step_index: Any, scale: tuple[Any, Any]
) -> Any:
    """The n-fold differences of the ``step`` rows from ``step_index * step`` of the block
    ``buf[offset:]``, in canonical layout (block rows first) and the compute dtype; with
    ``spec.scaled``, stored values are scaled by ``scale`` (slope, intercept) first. Each
    shifted window is one contiguous slice, reshaped: XLA fuses it into the loop, no copy."""
    n, step, diff_pos = spec.n, spec.step, spec.diff_pos
    rest = spec.block_shape[1:]
    row = math.prod(rest)
    stride = math.prod(spec.block_shape[diff_pos + 1 :])

    def window(row_off: int, col_off: int, length: int | None, rows: int = step) -> Any:
        start = offset + (step_index * step + row_off) * row + col_off * stride
        w = lax.dynamic_slice(buf, (start,), (rows * row,)).reshape((rows, *rest))
        w = w.astype(spec.compute_dtype)  # before any subtraction: float16 cannot overflow
        if spec.scaled:  # as the reader would: a product, then a sum, each rounded
            w = w * scale[0] + scale[1]
        return w if length is None else lax.slice_in_dim(w, 0, length, axis=diff_pos)

    def pad_slab() -> Any:
        shape = [step, *rest]
        shape[diff_pos] = 1
        return jnp.full(shape, spec.pad, spec.compute_dtype)

    if n == 0:
        return window(0, 0, None)
    if n > UNROLL_MAX_N:
        if spec.carry:  # the step's rows and the n before them, differenced along rows
            return lax.slice_in_dim(repeat_diff(window(0, 0, None, step + n), n, 0), 0, step)
        values = window(0, 0, None)
        if spec.pad is not None:
            values = lax.concatenate([pad_slab(), values], diff_pos)
        length = values.shape[diff_pos] - n
        return lax.slice_in_dim(repeat_diff(values, n, diff_pos), 0, length, axis=diff_pos)
    if spec.carry:
        win = [window(o, 0, None) for o in range(n + 1)]
    else:
        width = spec.block_shape[diff_pos]
        if spec.pad is None:
            win = [window(0, o, width - n) for o in range(n + 1)]
        else:
            win = [window(0, o - 1, width + 1 - n) for o in range(1, n + 1)]
            first = [pad_slab()] + ([window(0, 0, width - n)] if width - n > 0 else [])
            win.insert(0, lax.concatenate(first, diff_pos) if len(first) > 1 else first[0])
    for _ in range(n):  # the same subtractions, in the same order, as n passes of jnp.diff
        win = [win[o + 1] - win[o] for o in range(len(win) - 1)]
    return win[0]


def lane_partials(d: Any, spec: KernelSpec) -> Any:
    """``(step, lanes + 1)``: each row of ``d`` transformed and reduced by ``spec.lane_dec``
    into ``spec.lanes`` partials over strided elements (a column reduction, vectorised) and
    one over the elements left over."""
    dec = spec.lane_dec
    assert dec is not None
    t = dec.apply_transform(d.reshape(d.shape[0], -1), jnp)
    size, lanes = t.shape[1], spec.lanes
    whole = size // lanes * lanes
    main = t[:, :whole].reshape(t.shape[0], whole // lanes, lanes)
    rest = t[:, whole:]
    if rest.shape[1] == 0:
        rest = jnp.full((t.shape[0], 1), dec.identity, t.dtype)
    return lax.concatenate([dec.reduce(main, (1,), jnp), dec.reduce(rest, (1,), jnp)[:, None]], 1)


def _row_mask(spec: KernelSpec, i: Any, lo: Any, hi: Any, ndim: int, pos: int) -> Any:
    """Which of step ``i``'s rows are real difference rows, shaped to broadcast at ``pos``."""
    idx = i * spec.step + jnp.arange(spec.step)
    shape = [1] * ndim
    shape[pos] = spec.step
    return ((idx >= lo) & (idx < hi)).reshape(shape)


def _local_maps(spec: KernelSpec, layout: Any) -> Any:
    """``(buf, offset, i, lo, hi, scale) -> (partial, tally)`` for step ``i`` of a block: its
    differences, through the local maps (or the lanes' partials), and their tally."""

    def local(buf: Any, offset: Any, i: Any, lo: Any, hi: Any, scale: Any) -> tuple[Any, Any]:
        d = differences(buf, offset, spec, i, scale)  # canonical layout: block rows first
        if spec.tally == "count":
            finite = jnp.isfinite(d)
            bad = ~finite & _row_mask(spec, i, lo, hi, d.ndim, 0)
            tally = jnp.sum(bad, dtype=jnp.int32)
            d = jnp.where(finite, d, jnp.nan) if spec.omit else d
        elif spec.tally == "flag":
            tally = jnp.sum(jnp.where(_row_mask(spec, i, lo, hi, d.ndim, 0), d - d, 0))
        else:
            tally = jnp.zeros((), jnp.int32)
        if spec.lanes:
            return lane_partials(d, spec), tally
        return apply_maps(layout.maps, d, spec.diff_pos, omit=spec.omit)[0], tally

    return local


#: the kernels built and still cached, to count their XLA compilations
_live: weakref.WeakSet[Any] = weakref.WeakSet()


@functools.lru_cache(maxsize=64)
def kernel(spec: KernelSpec) -> Any:
    """The compiled ``(buf, offset, lo, hi, slope, inter) -> (partial, tally)`` for one block
    of ``spec``, shared by a batch of files with the same row shape (``jax.jit`` compiles it
    once per device and x64 setting, on first use). Results are in the kernel's layout
    (:func:`kernel_layout`), transposed on the host. ``partial``: ``(accumulator, counts)``
    when a map reduces the chunk axis (``counts`` per output element when omitting, else a
    dummy), or the local maps' output for every block row. ``tally``: the number of non-finite
    differences (``"count"``), the sum of ``d - d`` (``"flag"``: NaN when some difference is
    not finite) or 0 (``"derive"``)."""
    steps = spec.rows // spec.step
    dec = spec.combiner
    layout = kernel_layout(spec)  # the maps on the block's own axes: no transpose
    tally_dtype = spec.compute_dtype if spec.tally == "flag" else jnp.int32
    local = _local_maps(spec, layout)

    def kernel(buf: Any, offset: Any, lo: Any, hi: Any, slope: Any, inter: Any) -> Any:
        scale = (slope, inter)
        y0 = jax.eval_shape(lambda: local(buf, offset, 0, lo, hi, scale)[0])
        tally0 = jnp.zeros((), tally_dtype)
        if dec is None:
            out_shape = list(y0.shape)
            out_shape[layout.chunk_pos] = spec.rows

            def gather(i: Any, carry: tuple[Any, Any]) -> tuple[Any, Any]:
                out, tally = carry
                y, more = local(buf, offset, i, lo, hi, scale)
                out = lax.dynamic_update_slice_in_dim(out, y, i * spec.step, layout.chunk_pos)
                return out, tally + more

            return lax.fori_loop(0, steps, gather, (jnp.zeros(out_shape, y0.dtype), tally0))
        merge = {"sum": jnp.add, "max": jnp.maximum, "min": jnp.minimum}[dec.combine]

        def fold(i: Any, carry: tuple[Any, Any, Any]) -> tuple[Any, Any, Any]:
            acc, count, tally = carry
            y, more = local(buf, offset, i, lo, hi, scale)
            t = y if spec.lanes else dec.apply_transform(y, jnp)  # lanes: transformed
            keep = _row_mask(spec, i, lo, hi, t.ndim, layout.chunk_pos)
            if spec.omit:  # count what went in, per output element, for the finaliser
                keep = keep & ~jnp.isnan(y)
                count = count + keep.astype(count.dtype)
            t = jnp.where(keep, t, jnp.asarray(dec.identity, t.dtype))
            return merge(acc, t), count, tally + more

        acc = jnp.full(y0.shape, dec.identity, y0.dtype)
        count = jnp.zeros(y0.shape if spec.omit else (), jnp.int32)
        acc, count, tally = lax.fori_loop(0, steps, fold, (acc, count, tally0))
        return (acc, count), tally

    built = jax.jit(kernel)
    _live.add(built)
    return built


@functools.lru_cache(maxsize=64)
def counter(spec: KernelSpec) -> Any:
    """The compiled ``(buf, offset, lo, hi, slope, inter) -> int32``: how many differences
    of a block are not finite. Run only on a block whose partial result says it has some."""
    steps = spec.rows // spec.step

    def count(buf: Any, offset: Any, lo: Any, hi: Any, slope: Any, inter: Any) -> Any:
        def body(i: Any, total: Any) -> Any:
            d = differences(buf, offset, spec, i, (slope, inter))
            bad = ~jnp.isfinite(d) & _row_mask(spec, i, lo, hi, d.ndim, 0)
            return total + jnp.sum(bad, dtype=jnp.int32)

        return lax.fori_loop(0, steps, body, jnp.zeros((), jnp.int32))

    return jax.jit(count)


def compilations() -> int:
    """How many XLA compilations the cached kernels hold."""
    return sum(k._cache_size() for k in list(_live))


def clear_kernels() -> None:
    kernel.cache_clear()
    counter.cache_clear()
