"""The whole route: a scalarisation that cannot be chunked (a matrix norm over the chunk
axis, an array pad value) is evaluated on the whole array in memory, with jnp.diff."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._jax import jax
from ..loss import SmoothnessLoss, smoothness
from ._result import Evaluation

jnp = jax.numpy


def whole(loss: SmoothnessLoss, src: Any, cdtype: np.dtype, omit: bool) -> Evaluation:
    """Evaluate on the whole array in memory (a matrix norm over the chunk axis)."""
    X = np.asarray(src.read()).astype(cdtype, copy=False)  # float16 promoted first
    D = smoothness(X, n=loss.n, pad_value=loss.pad_value, axis=loss.axis)
    nonfinite = int(jnp.sum(~jnp.isfinite(D)))
    if omit:
        D = jnp.where(jnp.isfinite(D), D, jnp.nan)
    assert loss.scalarisation is not None
    value = loss.scalarisation.reduce(D, time_axis=loss.axis, omit=omit)
    return Evaluation(np.asarray(loss.nu * value, cdtype), nonfinite, int(D.size), cdtype)
