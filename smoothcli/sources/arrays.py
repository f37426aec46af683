"""NPY (memory-mapped) and NPZ files, never unpickled. The time axis is the last axis."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from . import Loaded
from ._base import ArraySource


def _check(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.dtype.hasobject:
        raise ValueError(f"{what} holds Python objects, which are never unpickled")
    if arr.ndim == 0:
        raise ValueError(f"{what} is a 0-d scalar, not a signal")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{what} has dtype {arr.dtype}, not numbers")
    return arr


def open_numpy(where: Path | bytes, *, npz: bool) -> list[Loaded]:
    src = io.BytesIO(where) if isinstance(where, bytes) else where
    try:
        if not npz:
            mode = None if isinstance(where, bytes) else "r"
            arr = _check(np.load(src, mmap_mode=mode, allow_pickle=False), "the array")
            return [Loaded(ArraySource(arr), arr.ndim - 1, "npy")]
        out = []
        with np.load(src, allow_pickle=False) as z:
            if not isinstance(z, np.lib.npyio.NpzFile):
                raise ValueError("not an NPZ archive")
            for name in z.files:
                arr = _check(z[name], f"array {name!r}")
                out.append(Loaded(ArraySource(arr), arr.ndim - 1, "npz", member=name))
        if not out:
            raise ValueError("the NPZ archive holds no arrays")
        return out
    except ValueError as exc:
        if "pickle" in str(exc) or "Python objects" in str(exc):
            raise ValueError("the file holds pickled data, which is never unpickled") from None
        raise
