"""GIFTI surface data (``.func.gii``, ``.shape.gii``): vertices x time, read whole.

A GIFTI file is XML whose data arrays are base64 text (possibly zlib'd), so it cannot be read
in blocks: it is parsed whole with :mod:`nibabel.gifti` (as it arrives, from a file or a
stream) and scored as an in-memory array. A time series is either one data array per time
point (each a vector of the same length: the vertices), or one 2D array of vertices x time.
Either way the array is vertices x time and **time is the last axis** (``axis=space`` is the
vertices). A file with no data arrays, arrays of different lengths, a single map (one 1D
array), or values that are not real numbers is an :class:`InputError`.
"""

from __future__ import annotations

import os
import re
import warnings
from typing import Any

import numpy as np

from .._text import error_line
from . import Loaded
from ._base import ArraySource, InputError, open_binary

__all__ = ["PROBE_BYTES", "SINGLE_MAP", "open_gifti", "single_map"]

#: bytes the XML parser is given at a time
PARSE_BYTES = 4 << 20
#: what a GIFTI file of one map is (a 1D array: thickness, curvature), said when it is scored
#: and when a directory scan skips it
SINGLE_MAP = "a GIFTI file of a single map (one data array of one dimension)"
#: how far into a file :func:`single_map` looks for the root's and first array's attributes
PROBE_BYTES = 1 << 16
_ROOT = re.compile(rb"<GIFTI\b[^>]*?\bNumberOfDataArrays\s*=\s*[\"']\s*(\d+)", re.DOTALL)
_FIRST = re.compile(rb"<DataArray\b[^>]*?\bDimensionality\s*=\s*[\"']\s*(\d+)", re.DOTALL)


def _parse(fh: Any) -> Any:
    """The ``GiftiImage`` in a binary stream, parsed as it is read; every problem (not XML,
    not GIFTI, base64 or zlib data that does not decode to the declared size, a declared
    count of arrays that does not match) is an :class:`InputError`."""
    from nibabel.gifti.parse_gifti_fast import GiftiImageParser

    parser = GiftiImageParser(buffer_size=PARSE_BYTES, mmap=False)
    with warnings.catch_warnings():
        # nibabel warns of a file that is not what it says (a count of arrays that differs)
        warnings.simplefilter("error", UserWarning)
        try:
            parser.parse(fptr=fh)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"not a valid GIFTI file ({error_line(exc)})") from None
    img = getattr(parser, "img", None)
    if img is None:
        raise InputError("not a GIFTI file (no <GIFTI> element)")
    return img


def _arrays(img: Any) -> np.ndarray:
    """vertices x time from the data arrays of a GIFTI image."""
    data = [np.asarray(d.data) for d in img.darrays]
    if not data:
        raise InputError("the GIFTI file holds no data arrays")
    for i, a in enumerate(data):
        if a.dtype.fields is not None or a.dtype.kind not in "biuf":
            raise InputError(f"GIFTI data array {i} holds {a.dtype}, not real numbers")
    if len(data) == 1:
        (only,) = data
        if only.ndim == 2:
            return only.astype(only.dtype.newbyteorder("="), copy=False)  # vertices x time
        if only.ndim == 1:
            raise InputError(f"{SINGLE_MAP}, not a time series")
        raise InputError(f"the GIFTI data array is {only.ndim}D; expected vertices x time (2D)")
    for i, a in enumerate(data):
        if a.ndim != 1:
            raise InputError(
                f"GIFTI data array {i} is {a.ndim}D; with several arrays, each is one time "
                "point (1D)"
            )
        if a.shape != data[0].shape:
            raise InputError(
                f"the GIFTI data arrays differ in length: array 0 has {data[0].shape[0]} "
                f"values, array {i} has {a.shape[0]}"
            )
    # one row per time point as they come, then viewed as vertices x time (Fortran order)
    return np.stack([a.astype(a.dtype.newbyteorder("="), copy=False) for a in data]).T


def open_gifti(where: Any, *, mask: Any = None) -> list[Loaded]:
    """A GIFTI file (a path) or stream as one :class:`Loaded`: vertices x time, time last.
    ``mask`` is for NIfTI volumes and is ignored."""
    if hasattr(where, "read"):
        img = _parse(where)
    else:
        with open_binary(os.fspath(where)) as fh:
            img = _parse(fh)
    values = _arrays(img)
    del img
    return [Loaded(ArraySource(values), values.ndim - 1, "gifti")]


def single_map(head: bytes) -> bool:
    """Whether the first bytes of a GIFTI file (its root's and first data array's attributes)
    say it holds a single 1D array: a map, not a time series."""
    root = _ROOT.search(head)
    first = _FIRST.search(head)
    return root is not None and first is not None and int(root[1]) == 1 and int(first[1]) == 1
