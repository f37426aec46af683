"""One row per input from a vector of per-element values: the statistics ``--summary``
gives (``score`` and ``dvars`` share them)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["summary_stats"]


def summary_stats(values: Any) -> dict[str, Any]:
    """``mean``, ``median``, ``max``, ``argmax`` (the position of the first max), ``min``
    of ``values`` in float64. A NaN propagates (the mean, median, max and min are NaN and
    ``argmax`` is the first NaN), as a NaN score fails every threshold: a summary never
    hides one."""
    v = np.asarray(values, np.float64).reshape(-1)
    if not v.size:
        return {"mean": None, "median": None, "max": None, "argmax": None, "min": None}
    arg = int(np.argmax(v))
    return {
        "mean": float(np.mean(v)),
        "median": float(np.median(v)),
        "max": float(v[arg]),
        "argmax": arg,
        "min": float(np.min(v)),
    }
