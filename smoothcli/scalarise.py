"""Scalarisation maps: composable reductions of a tensor-valued score to a scalar.

Each map is a frozen, hashable :class:`ScalarisationMap`. It is used the hypercoil way,
``mean_scalarise(inner=vnorm_scalarise(axis=0))(f)(X, axis=0)``, or applied directly to an
array, ``vnorm_scalarise(p=1, axis=None)(X)``. It also says how it decomposes into an
elementwise transform, a combining reduction and a finaliser (:meth:`decomposition`), which is
what lets :mod:`smoothcli.engine` evaluate it chunk by chunk.

Axes may be ints, tuples, ``None`` or the names ``"time"`` (the difference axis) and
``"space"`` (every other axis), resolved when the map is applied.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = [
    "AXIS_NAMES",
    "Decomposition",
    "apply_maps",
    "MAP_NAMES",
    "ScalarisationMap",
    "max_scalarise",
    "mean_scalarise",
    "meansq_scalarise",
    "norm_scalarise",
    "parse_scalarisation",
    "rms_scalarise",
    "sum_scalarise",
    "vnorm_scalarise",
]

Kind = Literal["sum", "mean", "meansq", "max", "rms", "norm"]
AxisSpec = int | str | tuple[int | str, ...] | None
AXIS_NAMES = ("time", "space")
_MATRIX_ORDERS = ("fro", "nuc")


def _identity(X: Any, *args: Any, **kwargs: Any) -> Any:
    return X


def _check_axis(axis: Any) -> AxisSpec:
    if axis is None or isinstance(axis, str):
        if isinstance(axis, str) and axis not in AXIS_NAMES:
            raise ValueError(f"axis name {axis!r} is not one of {', '.join(AXIS_NAMES)}")
        return axis
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        return int(axis)
    if isinstance(axis, (tuple, list)):
        return tuple(_check_axis(a) for a in axis)  # type: ignore[misc]
    raise TypeError(f"axis must be an int, a tuple, None, 'time' or 'space', not {axis!r}")


def _check_p(p: Any, *, matrix_ok: bool) -> int | float | str:
    if isinstance(p, str):
        low = p.lower()
        if low in ("inf", "+inf"):
            return math.inf
        if low == "-inf":
            return -math.inf
        if matrix_ok and low in _MATRIX_ORDERS:
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


def _resolve_axis(axis: AxisSpec, ndim: int, time: int | None) -> int | tuple[int, ...] | None:
    """Turn names and negative ints into concrete axes of an ``ndim``-d array."""

    def one(a: int | str) -> tuple[int, ...]:
        if isinstance(a, str):
            if time is None:
                raise ValueError(
                    f"axis {a!r} needs a time axis, and there is none here "
                    "(pass time_axis=, or an inner map reduced it away)"
                )
            return (time,) if a == "time" else tuple(i for i in range(ndim) if i != time)
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a {ndim}-d array")
        return (a % ndim,)

    if axis is None:
        return None
    if axis == "time" or isinstance(axis, int):
        return one(axis)[0]
    flat = [i for a in (axis if isinstance(axis, tuple) else (axis,)) for i in one(a)]
    if len(set(flat)) != len(flat):
        raise ValueError(f"axis {axis!r} names the same axis twice")
    return tuple(flat)


@dataclass(frozen=True)
class Decomposition:
    """How a map reduces in pieces: ``finalise(combine(transform(x) over chunks))``.

    ``axes`` are the reduced axes of the map's input; ``combine`` is ``sum``, ``max`` or
    ``min``; ``finalise`` is applied to the combined float64 result, given the number of
    reduced elements. ``keep`` says how reduced axes are kept: ``None``, ``"dims"`` (size-1
    axes in place) or ``"lead"`` (one size-1 leading axis, hypercoil's multi-axis vnorm).
    """

    axes: tuple[int, ...]
    transform: Literal["id", "abs", "sq", "nonzero", "abspow"]
    combine: Literal["sum", "max", "min"]
    finalise: Literal["id", "mean", "sqrt", "sqrtmean", "root"]
    power: float = 1.0
    keep: Literal["dims", "lead"] | None = None

    @property
    def identity(self) -> float:
        return {"sum": 0.0, "max": -math.inf, "min": math.inf}[self.combine]

    def apply_transform(self, x: Any, xp: Any) -> Any:
        if self.transform == "abs":
            return xp.abs(x)
        if self.transform == "sq":
            return x * x
        if self.transform == "nonzero":
            return (x != 0).astype(x.dtype)
        if self.transform == "abspow":
            return xp.abs(x) ** self.power
        return x

    def reduce(self, x: Any, axes: tuple[int, ...] | None, xp: Any) -> Any:
        fn = {"sum": xp.sum, "max": xp.max, "min": xp.min}[self.combine]
        return fn(x, axis=axes)

    def merge(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        fn = {"sum": np.add, "max": np.maximum, "min": np.minimum}[self.combine]
        return fn(a, b)

    def finish(self, acc: Any, count: Any, xp: Any = np) -> Any:
        """Finalise a combined accumulator; ``count`` (a number, or an array of per-output
        counts when missing values are omitted) is how many elements went into each value.
        A max or min over no elements is NaN."""
        if self.combine != "sum" and not np.isscalar(count):
            acc = xp.where(count == 0, xp.nan, acc)
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.finalise == "mean":
                acc = acc / count
            elif self.finalise == "sqrt":
                acc = xp.sqrt(acc)
            elif self.finalise == "sqrtmean":
                acc = xp.sqrt(acc / count)
            elif self.finalise == "root":
                acc = acc ** (1.0 / self.power)
        if self.keep == "dims":
            acc = xp.expand_dims(acc, self.axes)
        elif self.keep == "lead":
            acc = acc[None]
        return acc


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
        maps: list[ScalarisationMap] = []
        m: ScalarisationMap | None = self
        while m is not None:
            maps.append(m)
            m = m.inner
        return tuple(reversed(maps))

    def reduce(self, X: Any, *, time_axis: int | None = None, omit: bool = False) -> Any:
        """Apply the whole composition to ``X`` (a JAX or NumPy array). With ``omit``, NaN
        elements are left out of every reduction (a sum of nothing is 0, a mean NaN)."""
        import jax.numpy as jnp

        X = jnp.asarray(X)
        time = None if time_axis is None else _resolve_axis(time_axis, X.ndim, None)
        return apply_maps(self.chain(), X, time, omit=omit)[0]

    # -- axis bookkeeping ------------------------------------------------------------------
    def resolved_axis(self, ndim: int, time: int | None) -> int | tuple[int, ...] | None:
        return _resolve_axis(self.axis, ndim, time)

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

    # -- evaluation ------------------------------------------------------------------------
    def _apply(self, X: Any, time: int | None, omit: bool = False) -> Any:
        import jax.numpy as jnp

        if omit:
            return self._apply_omitting_nan(X, time)
        ax = self.resolved_axis(X.ndim, time)
        kd = self.keepdims
        if self.kind == "sum":
            return jnp.sum(X, axis=ax, keepdims=kd)
        if self.kind == "mean":
            return jnp.mean(X, axis=ax, keepdims=kd)
        if self.kind == "meansq":
            return jnp.mean(X**2, axis=ax, keepdims=kd)
        if self.kind == "rms":
            return jnp.sqrt(_ieee(jnp.mean(X**2, axis=ax, keepdims=kd), X, ax))
        if self.kind == "max":
            return jnp.max(X, axis=ax, keepdims=kd)
        # norm, following hypercoil's norm_scalarise: an unfolded vector norm when forced.
        multi = self._vector_multi(X.ndim, time)
        if multi is not None:
            rest = [i for i in range(X.ndim) if i not in multi]
            X = jnp.transpose(X, (*multi, *rest)).reshape(-1, *(X.shape[i] for i in rest))
            ax = 0
        elif self.force_vector_norm and ax is None:
            ax = (0,)
        single = ax is not None and math.prod(X.shape[a] for a in np.atleast_1d(ax)) == 1
        if self.p == 2 and single and (isinstance(ax, int) or len(ax) == 1):
            return jnp.sqrt(_ieee(jnp.sum(X * X, axis=ax, keepdims=kd), X, ax))
        return jnp.linalg.norm(X, ord=self.p, axis=ax, keepdims=kd)

    def _apply_omitting_nan(self, X: Any, time: int | None) -> Any:
        import jax.numpy as jnp

        dec = self.decomposition(X.ndim, time)
        if dec is None:
            raise ValueError(f"{self} is a matrix norm, which cannot leave out missing values")
        valid = ~jnp.isnan(X)
        t = jnp.where(valid, dec.apply_transform(X, jnp), jnp.asarray(dec.identity, X.dtype))
        count = jnp.sum(valid, axis=dec.axes).astype(X.dtype)
        return dec.finish(dec.reduce(t, dec.axes, jnp), count, jnp)

    def decomposition(self, ndim: int, time: int | None) -> Decomposition | None:
        """The chunked form of this map alone (not its inner map), or ``None`` if it has none.

        Matrix norms (a ``norm`` over two axes without ``force_vector_norm``) have none.
        """
        axes = self.reduced_axes(ndim, time)
        multi = self._vector_multi(ndim, time)
        keep = None if not self.keepdims else ("lead" if multi is not None else "dims")
        simple = {
            "sum": ("id", "sum", "id"),
            "mean": ("id", "sum", "mean"),
            "meansq": ("sq", "sum", "mean"),
            "rms": ("sq", "sum", "sqrtmean"),
            "max": ("id", "max", "id"),
        }
        if self.kind in simple:
            t, c, f = simple[self.kind]
            return Decomposition(axes, t, c, f, keep=keep)  # type: ignore[arg-type]
        if multi is None and len(axes) != 1:
            return None  # a matrix norm (or an invalid one): only the whole array will do
        p = self.p
        if isinstance(p, str):
            return None
        if p == math.inf:
            return Decomposition(axes, "abs", "max", "id", keep=keep)
        if p == -math.inf:
            return Decomposition(axes, "abs", "min", "id", keep=keep)
        if p == 0:
            return Decomposition(axes, "nonzero", "sum", "id", keep=keep)
        if p == 1:
            return Decomposition(axes, "abs", "sum", "id", keep=keep)
        if p == 2:
            return Decomposition(axes, "sq", "sum", "sqrt", keep=keep)
        return Decomposition(axes, "abspow", "sum", "root", power=float(p), keep=keep)

    # -- text ------------------------------------------------------------------------------
    def __str__(self) -> str:
        name = "vnorm" if self.kind == "norm" and self.force_vector_norm else self.kind
        args = [str(self.inner)] if self.inner is not None else []
        if self.kind == "norm":
            args.append(f"p={_fmt(self.p)}")
        args.append(f"axis={_fmt(self.axis)}")
        if self.keepdims:
            args.append("keepdims=True")
        return f"{name}({', '.join(args)})"


def _ieee(squares: Any, X: Any, ax: Any) -> Any:
    """``squares`` kept from XLA's rewrite of ``sqrt(x * x)`` into ``abs(x)``, which it makes
    when a reduction covers a single element: that rewrite would turn an overflow to inf
    (what IEEE arithmetic and NumPy give for ``|x| > 1.3e154`` in float64) into ``|x|``."""
    from jax import lax

    axes = range(X.ndim) if ax is None else np.atleast_1d(ax)
    if math.prod(X.shape[a] for a in axes) > 1:
        return squares
    return lax.optimization_barrier(squares)


def apply_maps(
    maps: tuple[ScalarisationMap, ...], X: Any, time: int | None, *, omit: bool = False
) -> tuple[Any, int | None]:
    """Apply ``maps`` in order (each without its inner map); return the result and where the
    time axis ended up (``None`` once reduced)."""
    for m in maps:
        X, time = m._apply(X, time, omit), m.out_time(X.ndim, time)
    return X, time


def _fmt(v: Any) -> str:
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, str):
        return v
    if isinstance(v, tuple):
        inner = ", ".join(_fmt(a) for a in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    return repr(v)


def _make(kind: Kind, inner: Any, axis: Any, keepdims: bool, **extra: Any) -> ScalarisationMap:
    if inner is not None and not isinstance(inner, ScalarisationMap):
        raise TypeError(f"inner must be a scalarisation map, not {inner!r}")
    return ScalarisationMap(kind, inner, _check_axis(axis), bool(keepdims), **extra)


def sum_scalarise(
    *,
    inner: ScalarisationMap | None = None,
    axis: AxisSpec = None,
    keepdims: bool = False,
    key: Any = None,
) -> ScalarisationMap:
    """Sum over ``axis`` (all axes by default)."""
    return _make("sum", inner, axis, keepdims)


def mean_scalarise(
    *,
    inner: ScalarisationMap | None = None,
    axis: AxisSpec = None,
    keepdims: bool = False,
    key: Any = None,
) -> ScalarisationMap:
    """Mean over ``axis`` (all axes by default)."""
    return _make("mean", inner, axis, keepdims)


def meansq_scalarise(
    *,
    inner: ScalarisationMap | None = None,
    axis: AxisSpec = None,
    keepdims: bool = False,
    key: Any = None,
) -> ScalarisationMap:
    """Mean of the squares over ``axis`` (all axes by default)."""
    return _make("meansq", inner, axis, keepdims)


def max_scalarise(
    *,
    inner: ScalarisationMap | None = None,
    axis: AxisSpec = None,
    keepdims: bool = False,
    key: Any = None,
) -> ScalarisationMap:
    """Maximum over ``axis`` (all axes by default); NaN propagates."""
    return _make("max", inner, axis, keepdims)


def rms_scalarise(
    *,
    inner: ScalarisationMap | None = None,
    axis: AxisSpec = None,
    keepdims: bool = False,
    key: Any = None,
) -> ScalarisationMap:
    """Root mean square, ``sqrt(mean(x**2))``; over space of first differences, this is DVARS."""
    return _make("rms", inner, axis, keepdims)


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


# -- the spec language ---------------------------------------------------------------------

_FACTORIES: dict[str, Callable[..., ScalarisationMap]] = {
    "sum": sum_scalarise,
    "mean": mean_scalarise,
    "meansq": meansq_scalarise,
    "max": max_scalarise,
    "rms": rms_scalarise,
    "norm": norm_scalarise,
    "vnorm": vnorm_scalarise,
}
_ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "l1": ("vnorm", {"p": 1, "axis": None}),
    "l2": ("vnorm", {"p": 2, "axis": None}),
    "linf": ("vnorm", {"p": math.inf, "axis": None}),
}
_KEYWORDS = {
    "norm": ("p", "axis", "keepdims", "inner", "force_vector_norm"),
    "vnorm": ("p", "axis", "keepdims", "inner"),
}
MAP_NAMES = tuple(_FACTORIES) + tuple(_ALIASES)
_CONSTANTS = {"None": None, "True": True, "False": False, "inf": math.inf}
_CONSTANTS.update({n: n for n in (*AXIS_NAMES, *_MATRIX_ORDERS)})


class _SpecError(ValueError):
    def __init__(self, message: str, node: ast.AST | None) -> None:
        super().__init__(message)
        self.col = getattr(node, "col_offset", 0) if node is not None else 0


def parse_scalarisation(spec: str) -> ScalarisationMap:
    """Parse a spec such as ``mean(vnorm(p=2, axis=0))`` into a map, without ``eval``.

    A positional argument is the inner map; keyword values may be ints, floats, tuples,
    ``None``, ``True``/``False``, ``inf``, ``time``, ``space``, ``fro`` and ``nuc``.
    """
    text = spec.strip()
    try:
        tree = ast.parse(text, mode="eval")
        return _build(tree.body)
    except SyntaxError as exc:
        col = max((exc.offset or 1) - 1, 0)
        msg = f"not a valid expression ({exc.msg})"
    except _SpecError as exc:
        col, msg = exc.col, str(exc)
    except (TypeError, ValueError) as exc:
        col, msg = 0, str(exc)
    caret = " " * col + "^"
    raise ValueError(
        f"bad scalarisation spec: {msg}\n  {text}\n  {caret}\n"
        f"maps: {', '.join(MAP_NAMES)}; axis names: {', '.join(AXIS_NAMES)}"
    )


def _build(node: ast.AST) -> ScalarisationMap:
    if isinstance(node, ast.Name):
        func, args, keywords = node, [], []
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        func, args, keywords = node.func, node.args, node.keywords
    else:
        raise _SpecError("expected a map name such as vnorm or mean(...)", node)
    name = func.id
    if name not in _FACTORIES and name not in _ALIASES:
        raise _SpecError(f"unknown map {name!r}", func)
    base, preset = _ALIASES.get(name, (name, {}))
    allowed = _KEYWORDS.get(base, ("axis", "keepdims", "inner"))
    kwargs: dict[str, Any] = dict(preset)
    if len(args) > 1:
        raise _SpecError(f"{name} takes at most one positional argument (the inner map)", args[1])
    if args:
        kwargs["inner"] = _build(args[0])
    for kw in keywords:
        if kw.arg is None or kw.arg not in allowed:
            raise _SpecError(
                f"{name} has no argument {kw.arg!r}; it takes {', '.join(allowed)}", kw.value
            )
        if kw.arg == "inner":
            kwargs["inner"] = _build(kw.value)
        else:
            kwargs[kw.arg] = _literal(kw.value)
    try:
        return _FACTORIES[base](**kwargs)
    except (TypeError, ValueError) as exc:
        raise _SpecError(f"{name}: {exc}", node) from None


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, type(None))):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_literal(e) for e in node.elts)
    raise _SpecError(
        "expected a number, a tuple, None, True, False, inf, time, space, fro or nuc", node
    )
