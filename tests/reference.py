"""A plain NumPy float64 reference for smoothness and the scalarisation maps.

Written from the maps' documented meaning, independently of smoothcli's JAX code, so that
tests compare two implementations rather than one with itself.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


def ref_smoothness(X, *, n=1, pad_value=None, axis=-1):
    X = np.asarray(X, dtype=np.float64)
    if n == 0:
        return X
    if pad_value is not None:
        shape = list(X.shape)
        shape[axis] = 1
        X = np.concatenate([np.full(shape, float(pad_value)), X], axis=axis)
    for _ in range(n):
        X = np.take(X, range(1, X.shape[axis]), axis=axis) - np.take(
            X, range(0, max(X.shape[axis] - 1, 0)), axis=axis
        )
    return X


def _axes(axis, ndim, time):
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, tuple) else (axis,)
    out = []
    for a in items:
        if a == "time":
            out.append(time)
        elif a == "space":
            out.extend(i for i in range(ndim) if i != time)
        else:
            out.append(a % ndim)
    return tuple(out)


def _vector_norm(X, p, axes, keepdims):
    A = np.abs(X)
    if p == math.inf:  # the largest magnitude; of nothing, 0
        r = A.max(axis=axes, keepdims=keepdims, initial=0.0)
    elif p == -math.inf:  # the smallest magnitude; of nothing, inf
        r = A.min(axis=axes, keepdims=keepdims, initial=math.inf)
    elif p == 0:
        r = (A != 0).sum(axis=axes, keepdims=keepdims).astype(np.float64)
    else:
        r = (A**p).sum(axis=axes, keepdims=keepdims) ** (1.0 / p)
    return r


def ref_map(kind, X, *, axis, time, keepdims=False, p=2, vector=True):
    """One map on a NumPy array; returns (result, new time axis)."""
    X = np.asarray(X, dtype=np.float64)
    axes = _axes(axis, X.ndim, time)
    new_time = None
    if time is not None:
        if keepdims:
            new_time = time
        elif time not in axes:
            new_time = time - sum(1 for a in axes if a < time)
    if kind == "sum":
        return X.sum(axis=axes, keepdims=keepdims), new_time
    if kind == "mean":
        return X.mean(axis=axes, keepdims=keepdims), new_time
    if kind == "meansq":
        return (X**2).mean(axis=axes, keepdims=keepdims), new_time
    if kind == "rms":
        return np.sqrt((X**2).mean(axis=axes, keepdims=keepdims)), new_time
    if kind == "max":
        return X.max(axis=axes, keepdims=keepdims), new_time
    if kind == "vnorm":
        if keepdims and len(axes) > 1:  # hypercoil unfolds the axes into one leading axis
            rest = [i for i in range(X.ndim) if i not in axes]
            flat = np.transpose(X, (*axes, *rest)).reshape(-1, *(X.shape[i] for i in rest))
            nt = None if time in axes or time is None else 1 + rest.index(time)
            return _vector_norm(flat, p, 0, True), nt
        return _vector_norm(X, p, axes, keepdims), new_time
    if kind == "matrix":
        return np.linalg.norm(X, ord=p, axis=axes, keepdims=keepdims), new_time
    raise ValueError(kind)


def ref_loss(X, chain, *, n=1, pad_value=None, axis=-1, nu=1.0):
    """``chain`` is a list of (kind, kwargs) applied innermost first."""
    D = ref_smoothness(X, n=n, pad_value=pad_value, axis=axis)
    time = axis % D.ndim
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # the mean of nothing is NaN
        for kind, kw in chain:
            D, time = ref_map(kind, D, time=time, **kw)
    return nu * np.asarray(D)


def ref_dvars(Y, *, normalization=1000.0, tol=1e-7, drop=True):
    """DVARS of a (voxels, frames) array in float64, straight from the formulas of nipype's
    ``compute_dvars`` (Nichols 2013): ``(dvars, std_dvars, vx_std_dvars)``, each T-1 long."""
    Y = np.asarray(Y, np.float64)
    if normalization:
        Y = Y / np.median(Y) * normalization
    sd = (
        np.percentile(Y, 75, axis=1, method="lower") - np.percentile(Y, 25, axis=1, method="lower")
    ) / 1.349
    if drop:
        Y, sd = Y[sd > tol], sd[sd > tol]
    c = Y - Y.mean(axis=1, keepdims=True)
    ar1 = (c[:, 1:] * c[:, :-1]).sum(axis=1) / (c * c).sum(axis=1)
    expected = np.sqrt(2 * (1 - ar1)) * sd
    diff = np.diff(Y, axis=1)
    dvars = np.sqrt((diff**2).mean(axis=0))
    return dvars, dvars / expected.mean(), np.sqrt(((diff / expected[:, None]) ** 2).mean(axis=0))
