"""One row per input from a vector of per-element values: the statistics ``--summary``
gives (``score`` and ``dvars`` share them)."""

from __future__ import annotations

from typing import Any

import numpy as np


def summary_stats(values: Any) -> dict[str, Any]:
    """``mean`` and ``median`` of ``values`` (computed in float64, given in the values'
    dtype, so that float32 scores and their summary are written alike), ``max``, ``argmax``
    (the position of the first max) and ``min`` as elements of ``values`` (so that they read
    back equal to the per-element row). A NaN propagates (the mean, median, max and
    min are NaN and ``argmax`` is the first NaN), as a NaN score fails every threshold: a
    summary never hides one."""
    own = np.asarray(values).reshape(-1)
    if not own.size:
        return {"mean": None, "median": None, "max": None, "argmax": None, "min": None}
    v = own.astype(np.float64)
    arg = int(np.argmax(v))
    low = int(np.argmin(v))
    kind = own.dtype.type if own.dtype.kind == "f" else np.float64
    return {
        "mean": kind(np.mean(v)),
        "median": kind(np.median(v)),
        "max": own[arg],
        "argmax": arg,
        "min": own[low],
    }
