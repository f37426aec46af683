"""Applying maps to arrays: JAX for the maps themselves, NumPy-compatible finalisers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def apply_map(m: Any, X: Any, time: int | None, omit: bool = False) -> Any:
    """Apply ``m`` alone (not its inner map) to ``X``, whose time axis is ``time``."""
    import jax.numpy as jnp

    if omit:
        return _apply_omitting_nan(m, X, time)
    ax = m.resolved_axis(X.ndim, time)
    kd = m.keepdims
    plain = {"sum": jnp.sum, "mean": jnp.mean, "max": jnp.max}
    if m.kind in plain:
        return plain[m.kind](X, axis=ax, keepdims=kd)
    if m.kind == "meansq":
        return jnp.mean(X**2, axis=ax, keepdims=kd)
    if m.kind == "rms":
        return jnp.sqrt(_ieee(jnp.mean(X**2, axis=ax, keepdims=kd), X, ax))
    # norm, following hypercoil's norm_scalarise: an unfolded vector norm when forced.
    multi = m._vector_multi(X.ndim, time)
    if multi is not None:
        rest = [i for i in range(X.ndim) if i not in multi]
        X = jnp.transpose(X, (*multi, *rest)).reshape(-1, *(X.shape[i] for i in rest))
        ax = 0
    elif m.force_vector_norm and ax is None:
        ax = (0,)
    single = ax is not None and math.prod(X.shape[a] for a in np.atleast_1d(ax)) == 1
    if m.p == 2 and single and (isinstance(ax, int) or len(ax) == 1):
        return jnp.sqrt(_ieee(jnp.sum(X * X, axis=ax, keepdims=kd), X, ax))
    return jnp.linalg.norm(X, ord=m.p, axis=ax, keepdims=kd)


def _apply_omitting_nan(m: Any, X: Any, time: int | None) -> Any:
    import jax.numpy as jnp

    dec = m.decomposition(X.ndim, time)
    if dec is None:
        raise ValueError(f"{m} is a matrix norm, which cannot leave out missing values")
    valid = ~jnp.isnan(X)
    t = jnp.where(valid, dec.apply_transform(X, jnp), jnp.asarray(dec.identity, X.dtype))
    count = jnp.sum(valid, axis=dec.axes).astype(X.dtype)
    return dec.finish(dec.reduce(t, dec.axes, jnp), count, jnp)


def _ieee(squares: Any, X: Any, ax: Any) -> Any:
    """``squares`` kept from XLA's rewrite of ``sqrt(x * x)`` into ``abs(x)``, which it makes
    when a reduction covers a single element: that rewrite would turn an overflow to inf
    (what IEEE arithmetic and NumPy give for ``|x| > 1.3e154`` in float64) into ``|x|``."""
    from jax import lax

    axes = range(X.ndim) if ax is None else np.atleast_1d(ax)
    return squares if math.prod(X.shape[a] for a in axes) > 1 else lax.optimization_barrier(squares)


def apply_maps(
    maps: tuple[Any, ...], X: Any, time: int | None, *, omit: bool = False
) -> tuple[Any, int | None]:
    """Apply ``maps`` in order (each without its inner map); return the result and where the
    time axis ended up (``None`` once reduced)."""
    for m in maps:
        X, time = apply_map(m, X, time, omit), m.out_time(X.ndim, time)
    return X, time
