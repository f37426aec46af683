"""hypercoil's ``smoothness`` score and ``SmoothnessLoss``, in JAX.

``smoothness(X)`` is ``jnp.diff(X, n=n, axis=axis, prepend=pad_value)``: the pad is prepended
once, before the n-fold backward difference. ``SmoothnessLoss`` scales a scalarisation of it.
One deliberate difference from hypercoil: integer and bool input is promoted to a float dtype
first, because ``jnp.diff`` wraps around on int16 and uint8.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._jax import jax
from .scalarise import ScalarisationMap, vnorm_scalarise

jnp = jax.numpy

__all__ = ["SmoothnessLoss", "check_options", "float_dtype", "smoothness"]


def float_dtype(dtype: Any) -> np.dtype:
    """The floating dtype smoothness is computed in; ``TypeError`` for non-numeric data."""
    dtype = np.dtype(dtype)
    if dtype.kind in "biu":
        return np.dtype(jax.dtypes.canonicalize_dtype(np.float64))
    if dtype.kind in "fc" or dtype == jnp.bfloat16:
        return np.dtype(jax.dtypes.canonicalize_dtype(dtype))
    raise TypeError(f"smoothness needs numeric data, not dtype {dtype}")


def _check_n(n: Any) -> int:
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"n must be an integer, not {n!r}") from None
    if n < 0:
        raise ValueError(f"n must be >= 0, not {n}")
    return n


def check_options(shape: tuple[int, ...], n: Any, axis: Any) -> tuple[int, int]:
    """Validate ``n`` and ``axis`` for an array of ``shape``; return them as plain ints."""
    if len(shape) == 0:
        raise ValueError("smoothness needs an array with at least one axis, not a 0-d scalar")
    n = _check_n(n)
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an integer, not {axis!r}") from None
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis {axis} is out of range for an array of shape {tuple(shape)}")
    return n, axis % len(shape)


def smoothness(
    X: Any, *, n: int = 1, pad_value: Any = None, axis: int = -1, key: Any = None
) -> Any:
    """Backward differences of ``X`` of order ``n`` along ``axis``, after prepending
    ``pad_value`` once (broadcast if scalar). ``n=0`` returns ``X`` unchanged; ``n`` beyond
    the padded length gives an empty axis."""
    if not hasattr(X, "dtype"):
        X = np.asarray(X)
    dtype = float_dtype(X.dtype)  # before JAX sees it: strings and objects get a clear error
    X = jnp.asarray(X)
    n, axis = check_options(X.shape, n, axis)
    X = X.astype(dtype)
    return jnp.diff(X, n=n, axis=axis, prepend=pad_value)


def _hashable_pad(pad_value: Any) -> Any:
    if pad_value is None:
        return None
    arr = np.asarray(pad_value)
    if arr.ndim == 0:
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"pad_value must be a number, not {pad_value!r}")
        return float(arr)
    return pad_value


@dataclass(frozen=True)
class SmoothnessLoss:
    """``nu * scalarisation(smoothness)(X, n=n, pad_value=pad_value, axis=axis)``, by default
    ``vnorm_scalarise(p=1, axis=None)``: the L1 norm of all differences. Frozen and hashable,
    so it works under ``jax.jit`` and as a static argument."""

    nu: float = 1.0
    name: str | None = None
    n: int = field(default=1, kw_only=True)
    pad_value: Any = field(default=None, kw_only=True)
    axis: int = field(default=-1, kw_only=True)
    scalarisation: ScalarisationMap | None = field(default=None, kw_only=True)
    key: Any = field(default=None, repr=False, compare=False, kw_only=True)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "name", "Smoothness" if self.name is None else self.name)
        if self.scalarisation is None:
            set_(self, "scalarisation", vnorm_scalarise(p=1, axis=None))
        elif not isinstance(self.scalarisation, ScalarisationMap):
            raise TypeError(
                f"scalarisation must be a scalarisation map, not {self.scalarisation!r}"
            )
        set_(self, "n", _check_n(self.n))
        set_(self, "pad_value", _hashable_pad(self.pad_value))

    def __call__(self, X: Any, *, key: Any = None) -> Any:
        assert self.scalarisation is not None
        score = self.scalarisation(smoothness)(
            X, n=self.n, pad_value=self.pad_value, axis=self.axis
        )
        return self.nu * score
