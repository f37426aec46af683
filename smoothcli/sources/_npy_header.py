"""The header of an NPY array, parsed with :mod:`numpy.lib.format` from the start of a byte
stream (a file, a zip member or stdin) and checked to hold an array of real numbers, never
unpickled.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._text import error_line
from ._base import read_exact
from ._errors import InputError
from ._magic import NPY_MAGIC

#: the longest NPY header read (NumPy itself refuses more than 10000 bytes by default)
MAX_HEADER_BYTES = 1 << 16


@dataclass(frozen=True)
class NpyHeader:
    shape: tuple[int, ...]
    fortran: bool
    dtype: np.dtype  # as stored, with its byte order
    offset: int  # bytes before the data: magic, version, length and header

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def _describe(dt: np.dtype) -> str:
    if dt.fields is not None:
        return f"a structured dtype {dt.descr}"
    return dt.name if dt.name == dt.str.lstrip("<>|=") else f"{dt.name} ({dt.str})"


def read_npy_header(fh: Any, what: str) -> NpyHeader:
    """Parse an NPY header from the start of a byte stream; :class:`InputError` if it is not
    one, or holds anything but an array of real numbers."""
    from numpy.lib import format as npformat

    head = bytearray(12)
    got = read_exact(fh, memoryview(head)[:8])
    if not head.startswith(NPY_MAGIC) or got < 8:
        if head[:1] == b"\x80":  # a pickle's PROTO opcode
            raise InputError(f"{what} holds pickled data, which is never unpickled")
        raise InputError(f"{what} is not an NPY file")
    version = (head[6], head[7])
    width = 2 if version == (1, 0) else 4
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise InputError(f"{what} has an unknown NPY version {version[0]}.{version[1]}")
    if read_exact(fh, memoryview(head)[8 : 8 + width]) < width:
        raise InputError(f"{what} has a truncated NPY header")
    length = int.from_bytes(head[8 : 8 + width], "little")
    if length > MAX_HEADER_BYTES:
        raise InputError(f"{what} has an NPY header of {length} bytes, which is too long")
    text = bytearray(length)
    if read_exact(fh, memoryview(text)) < length:
        raise InputError(f"{what} has a truncated NPY header")
    # version 3.0 differs from 2.0 only in allowing UTF-8 field names, read as 2.0 here
    prefix = bytes(head[:6]) + (b"\x01\x00" if width == 2 else b"\x02\x00")
    blob = io.BytesIO(prefix + bytes(head[8 : 8 + width]) + bytes(text))
    try:
        npformat.read_magic(blob)
        read = npformat.read_array_header_1_0 if width == 2 else npformat.read_array_header_2_0
        shape, fortran, dtype = read(blob, max_header_size=MAX_HEADER_BYTES)
    except Exception as exc:
        raise InputError(f"{what} has an invalid NPY header ({error_line(exc)})") from None
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise InputError(f"{what} holds Python objects, which are never unpickled")
    if len(shape) == 0:
        raise InputError(f"{what} is a 0-d scalar, not a signal")
    if dtype.fields is not None or dtype.kind not in "biuf" or dtype.itemsize > 8:
        raise InputError(f"{what} has dtype {_describe(dtype)}, not real numbers")
    return NpyHeader(tuple(int(s) for s in shape), bool(fortran), dtype, 8 + width + length)
