"""The one place that decides the precision smoothcli computes in. NumPy only, never JAX.

Precision follows the input: float64 and 32/64-bit integers are differenced and reduced in
float64, because float32 cannot tell ``1e9`` from ``1e9 + 1`` (nor hold 2e9 + k exactly);
smaller types are computed in float32, which holds every value of them exactly (float16 is
promoted *before* the difference, so ``65504 - (-65504)`` does not overflow).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["compute_dtype"]

_FLOAT64 = np.dtype(np.float64)
_FLOAT32 = np.dtype(np.float32)


def compute_dtype(dtype: Any) -> np.dtype:
    """The floating dtype that data stored as ``dtype`` (anything :class:`numpy.dtype`
    accepts; byte order does not matter) is differenced and reduced in: float64 for float64
    and for int32, int64, uint32 and uint64 (float32 would round them); float32 for float32,
    float16, bfloat16, bool, int8, int16, uint8 and uint16. ``TypeError`` for complex,
    string, object, structured and every other dtype, naming it."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"cannot score data of type {dtype!r}: it is not a numeric dtype") from None
    kind, size = dt.kind, dt.itemsize
    if (kind == "f" and size == 8) or (kind in "iu" and size in (4, 8)):
        return _FLOAT64
    if (kind == "f" and size in (2, 4)) or (kind in "iu" and size in (1, 2)) or kind == "b":
        return _FLOAT32
    if dt.name == "bfloat16":  # ml_dtypes' bfloat16 (kind "V"): every value fits float32
        return _FLOAT32
    if kind == "c":
        raise TypeError(
            f"cannot score complex data (dtype {dt}): differences of complex values have no "
            "single smoothness; score the real part or the magnitude"
        )
    raise TypeError(f"cannot score data of dtype {dt}: it is not a real numeric type")
