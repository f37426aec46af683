"""The maps: :class:`ScalarisationMap` and hypercoil's ``*_scalarise`` factories."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ._apply import apply_maps
from ._axes import AxisSpec, check_axis, resolve_axis, trace
from ._decompose import Decomposition

Kind = Literal["sum", "mean", "meansq", "max", "rms", "norm"]
MATRIX_ORDERS = ("fro", "nuc")
#: (transform, combine, finalise) of the maps that are not norms, and of the vector norms
#: by their order
_SIMPLE: dict[str, Any] = {
    "sum": ("id", "sum", "id"),
    "mean": ("id", "sum", "mean"),
    "meansq": ("sq", "sum", "mean"),
    "rms": ("sq", "sum", "sqrtmean"),
    "max": ("id", "max", "id"),
}
_NORMS: dict[float, Any] = {
    math.inf: ("abs", "max", "id"),
    -math.inf: ("abs", "min", "id"),
    0: ("nonzero", "sum", "id"),
    1: ("abs", "sum", "id"),
    2: ("sq", "sum", "sqrt"),
}


def _identity(X: Any, *args: Any, **kwargs: Any) -> Any:
    return X


def _check_p(p: Any, *, matrix_ok: bool) -> int | float | str:
    if isinstance(p, str):
        low = p.lower()
        if low in ("inf", "+inf"):
            return math.inf
        if low == "-inf":
            return -math.inf
        if matrix_ok and low in MATRIX_ORDERS:
            return low
        valid = "a number, inf, -inf" + (", 'fro' or 'nuc'" if matrix_ok else "")
        raise ValueError(f"norm order p={p!r} is not valid; use {valid}")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"norm order p must be a number, not {p!r}")
    if isinstance(p, (int, np.integer)):
        try:
            float(p)
        except OverflowError:  # |p| > 1.8e308: no float can hold it
            digits = len(str(abs(int(p))))
            raise ValueError(
                f"norm order p (a {digits}-digit integer) is too large; use inf for the "
                "largest magnitude"
            ) from None
        return int(p)
    if math.isnan(p):
        raise ValueError("norm order p must not be NaN")
    return int(p) if float(p).is_integer() and math.isfinite(p) else float(p)


@dataclass(frozen=True)
class ScalarisationMap:
    """One reduction, optionally composed with an ``inner`` map applied first."""

    kind: Kind
    inner: ScalarisationMap | None = None
    axis: AxisSpec = None
    keepdims: bool = False
    p: int | float | str = 2
    force_vector_norm: bool = False

    # -- use -------------------------------------------------------------------------------
    def __call__(self, f: Any = None) -> Any:
        """``map(f)`` wraps a tensor-valued function; ``map(X)`` reduces an array."""
        if f is None:
            f = _identity
        if not callable(f):
            return self.reduce(f)

        def reduced_f(*args: Any, **kwargs: Any) -> Any:
            return self.reduce(f(*args, **kwargs), time_axis=kwargs.get("axis", -1))

        return reduced_f

    def chain(self) -> tuple[ScalarisationMap, ...]:
        """The maps in order of application, innermost first."""
        return (self,) if self.inner is None else (*self.inner.chain(), self)

    def reduce(self, X: Any, *, time_axis: int | None = None, omit: bool = False) -> Any:
        """Apply the whole composition to ``X`` (a JAX or NumPy array). With ``omit``, NaN
        elements are left out of every reduction (a sum of nothing is 0, a mean NaN)."""
        import jax.numpy as jnp

        X = jnp.asarray(X)
        time = None if time_axis is None else resolve_axis(time_axis, X.ndim, None)
        return apply_maps(self.chain(), X, time, omit=omit)[0]

    # -- axis bookkeeping ------------------------------------------------------------------
    def resolved_axis(self, ndim: int, time: int | None) -> int | tuple[int, ...] | None:
        return resolve_axis(self.axis, ndim, time)

    def _vector_multi(self, ndim: int, time: int | None) -> tuple[int, ...] | None:
        """Axes of hypercoil's unfolded vector norm over several axes, else ``None``."""
        if self.kind != "norm" or not self.force_vector_norm:
            return None
        ax = self.resolved_axis(ndim, time)
        if isinstance(ax, int):
            return None
        axes = tuple(range(ndim)) if ax is None else ax
        return axes if len(axes) > 1 else None

    def reduced_axes(self, ndim: int, time: int | None) -> tuple[int, ...]:
        ax = self.resolved_axis(ndim, time)
        if ax is None:
            return tuple(range(ndim))
        return (ax,) if isinstance(ax, int) else tuple(sorted(ax))

    def out_ndim(self, ndim: int, time: int | None) -> int:
        if not self.keepdims:
            return ndim - len(self.reduced_axes(ndim, time))
        if self._vector_multi(ndim, time) is not None:
            return ndim - len(self.reduced_axes(ndim, time)) + 1
        return ndim

    def out_position(self, ndim: int, time: int | None, pos: int | None) -> int | None:
        """Where input axis ``pos`` is in the output, or ``None`` if it was reduced away."""
        if pos is None:
            return None
        reduced = self.reduced_axes(ndim, time)
        lead = self._vector_multi(ndim, time) is not None and self.keepdims
        if self.keepdims and not lead:
            return pos
        if pos in reduced:
            return 0 if lead else None
        return sum(1 for i in range(pos) if i not in reduced) + (1 if lead else 0)

    def out_time(self, ndim: int, time: int | None) -> int | None:
        return self.out_position(ndim, time, time)

    def output_axes(self, ndim: int, time: int | None) -> tuple[int | None, ...]:
        """For each axis of this map's output (the whole composition applied to an
        ``ndim``-d array whose time axis is ``time``), the input axis it came from, or
        ``None`` for the leading axis of a multi-axis vector norm kept with ``keepdims``."""
        return trace(self.chain(), ndim, time)

    # -- evaluation ------------------------------------------------------------------------
    def decomposition(self, ndim: int, time: int | None) -> Decomposition | None:
        """The chunked form of this map alone (not its inner map), or ``None`` if it has none.
        Matrix norms (a ``norm`` over two axes without ``force_vector_norm``) have none."""
        axes = self.reduced_axes(ndim, time)
        multi = self._vector_multi(ndim, time)
        keep = None if not self.keepdims else ("lead" if multi is not None else "dims")
        if self.kind in _SIMPLE:
            return Decomposition(axes, *_SIMPLE[self.kind], keep=keep)
        if (multi is None and len(axes) != 1) or isinstance(self.p, str):
            return None  # a matrix norm (or an invalid one): only the whole array will do
        if self.p in _NORMS:
            return Decomposition(axes, *_NORMS[self.p], keep=keep)
        return Decomposition(axes, "abspow", "sum", "root", power=float(self.p), keep=keep)

    # -- text ------------------------------------------------------------------------------
    def __str__(self) -> str:
        return format_map(self)


def _make(kind: Kind, inner: Any, axis: Any, keepdims: bool, **extra: Any) -> ScalarisationMap:
    if inner is not None and not isinstance(inner, ScalarisationMap):
        raise TypeError(f"inner must be a scalarisation map, not {inner!r}")
    return ScalarisationMap(kind, inner, check_axis(axis), bool(keepdims), **extra)


def _reduction(kind: Kind, doc: str) -> Callable[..., ScalarisationMap]:
    """hypercoil's factory of a reduction over ``axis`` (all axes by default)."""

    def factory(
        *,
        inner: ScalarisationMap | None = None,
        axis: AxisSpec = None,
        keepdims: bool = False,
        key: Any = None,
    ) -> ScalarisationMap:
        return _make(kind, inner, axis, keepdims)

    factory.__name__ = factory.__qualname__ = f"{kind}_scalarise"
    factory.__doc__ = doc
    return factory


sum_scalarise = _reduction("sum", "Sum over ``axis`` (all axes by default).")
mean_scalarise = _reduction("mean", "Mean over ``axis`` (all axes by default).")
meansq_scalarise = _reduction("meansq", "Mean of the squares over ``axis`` (all axes by default).")
max_scalarise = _reduction("max", "Maximum over ``axis`` (all axes by default); NaN propagates.")
rms_scalarise = _reduction(
    "rms",
    "Root mean square, ``sqrt(mean(x**2))``; over space of first differences, this is DVARS.",
)


def norm_scalarise(
    *,
    p: Any = 2,
    force_vector_norm: bool = False,
    axis: AxisSpec = -1,
    inner: ScalarisationMap | None = None,
    keepdims: bool = False,
    key: Any = None,
) -> ScalarisationMap:
    """``jnp.linalg.norm`` of order ``p`` over ``axis``: a matrix norm over two axes."""
    p = _check_p(p, matrix_ok=not force_vector_norm)
    return _make("norm", inner, axis, keepdims, p=p, force_vector_norm=bool(force_vector_norm))


def vnorm_scalarise(
    *,
    p: Any = 2,
    axis: AxisSpec = -1,
    inner: ScalarisationMap | None = None,
    keepdims: bool = False,
    key: Any = None,
) -> ScalarisationMap:
    """Vector norm of order ``p`` over ``axis``, unfolding several axes into one vector."""
    return norm_scalarise(p=p, force_vector_norm=True, axis=axis, inner=inner, keepdims=keepdims)


def format_map(m: ScalarisationMap) -> str:
    """The spec text of a map, e.g. ``mean(vnorm(p=2, axis=0), axis=None)``."""
    name = "vnorm" if m.kind == "norm" and m.force_vector_norm else m.kind
    args = [format_map(m.inner)] if m.inner is not None else []
    if m.kind == "norm":
        args.append(f"p={_fmt(m.p)}")
    args.append(f"axis={_fmt(m.axis)}")
    if m.keepdims:
        args.append("keepdims=True")
    return f"{name}({', '.join(args)})"


def _fmt(v: Any) -> str:
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, str):
        return v
    if isinstance(v, tuple):
        inner = ", ".join(_fmt(a) for a in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    return repr(v)
