"""GIFTI surface data (``.func.gii``, ``.shape.gii``): vertices x time, read whole.

A GIFTI file is XML whose data arrays are base64 text (possibly zlib'd), so it cannot be read
in blocks: it is parsed whole with :mod:`nibabel.gifti` (as it arrives, from a file or a
stream) and scored as an in-memory array: one data array per time point (each a vector of the
vertices), or one 2D array of vertices x time. Either way **time is the last axis**
(``axis=space`` is the vertices). A file with no data arrays, arrays of different lengths, a
single map (one 1D array), or values that are not real numbers is an :class:`InputError`.
"""

from __future__ import annotations

import math
import os
import re
import stat
import sys
from contextvars import ContextVar
from typing import Any

import numpy as np

from .._text import error_line
from ._base import DEFLATE_MAX_RATIO
from ._errors import InputError, open_binary
from ._loaded import Loaded
from ._source import ArraySource

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
#: ``--allow-external-data``: a GIFTI data array may keep its values in a file beside the input
EXTERNAL: ContextVar[bool] = ContextVar("external_data", default=False)


def _declared(da: Any) -> tuple[np.dtype, tuple[int, ...], str, int]:
    """A data array's dtype (with its byte order), shape, order and size in bytes, as its
    attributes declare them."""
    from nibabel.gifti.util import array_index_order_codes, gifti_endian_codes
    from nibabel.nifti1 import data_type_codes

    dtype = np.dtype(data_type_codes.dtype[da.datatype]).newbyteorder(
        gifti_endian_codes.byteorder[da.endian]
    )
    shape = tuple(int(d) for d in da.dims)
    if any(d < 0 for d in shape):
        raise InputError(f"a GIFTI data array declares a negative dimension: {shape}")
    order = array_index_order_codes.npcode[da.ind_ord]
    return dtype, shape, order, math.prod(shape) * dtype.itemsize


def _external(da: Any, folder: str | None, nbytes: int) -> str:
    """The external data file of ``da``, if ``--allow-external-data`` allows it: a regular
    file inside the input's own folder (no ``..``, no link out of it), holding the bytes the
    array declares. Anything else is an :class:`InputError` that names the file."""
    shown = ascii(str(da.ext_fname))[1:-1][:120]
    if not EXTERNAL.get():
        raise InputError(
            f"a GIFTI data array keeps its values in another file ({shown}), which is not "
            "read (--allow-external-data reads such files from the input's own folder)"
        )
    if folder is None:
        raise InputError(f"a GIFTI data array on stdin keeps its values in another file ({shown})")
    base = os.path.realpath(folder)
    real = os.path.realpath(os.path.join(base, str(da.ext_fname)))
    if os.path.dirname(real) != base and not real.startswith(base + os.sep):
        raise InputError(f"the GIFTI external data file {shown} is not in the input's folder")
    try:
        st = os.stat(real)
    except OSError as exc:
        raise InputError(f"the GIFTI external data file {shown}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"the GIFTI external data file {shown} is not a regular file")
    if st.st_size < int(da.ext_offset) + nbytes:
        raise InputError(f"the GIFTI external data file {shown} is shorter than its array")
    return real


def _block(da: Any, data: str | None, folder: str | None) -> np.ndarray:
    """A ``<Data>`` element's values, decoded within the size its array declares: base64
    that decodes to another size, or zlib data that inflates to more, is an error found
    before the memory is spent (a few bytes can claim, and inflate to, gigabytes)."""
    import base64
    import binascii
    import io
    import zlib

    from nibabel.gifti.util import gifti_encoding_codes

    dtype, shape, order, nbytes = _declared(da)
    count = nbytes // max(dtype.itemsize, 1)
    kind = gifti_encoding_codes.label[da.encoding]
    if kind == "External":
        where = _external(da, folder, nbytes)
        values = np.fromfile(where, dtype=dtype, count=count, offset=int(da.ext_offset))
        return values.reshape(shape, order=order)
    text = data or ""
    if kind == "ASCII":
        values = np.loadtxt(io.StringIO(text), dtype=dtype, ndmin=1)
        if values.size != count:
            raise InputError(f"a GIFTI data array holds {values.size} values, not {count}")
        return values.reshape(shape, order=order)
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise InputError("a GIFTI data array's base64 does not decode") from None
    if kind == "B64GZ":
        if nbytes > len(raw) * DEFLATE_MAX_RATIO:
            raise InputError(
                f"a GIFTI data array declares {nbytes} bytes, more than its {len(raw)} "
                "compressed bytes can hold"
            )
        inflate = zlib.decompressobj()
        try:  # at most what it declares (max_length 0 would mean no limit at all)
            out = inflate.decompress(raw, max(nbytes, 1))
            extra = inflate.unconsumed_tail or inflate.decompress(b"", 1)
        except zlib.error as exc:
            raise InputError(f"a GIFTI data array's zlib data is corrupt ({exc})") from None
        if extra or len(out) != nbytes:
            got = "more than" if extra or len(out) > nbytes else f"{len(out)} bytes, not"
            raise InputError(f"a GIFTI data array inflates to {got} its declared {nbytes} bytes")
        raw = out
    elif len(raw) != nbytes:
        raise InputError(f"a GIFTI data array decodes to {len(raw)} bytes, not {nbytes}")
    return np.frombuffer(bytearray(raw), dtype=dtype).reshape(shape, order=order)


def _parser(folder: str | None) -> Any:
    """nibabel's GIFTI parser, whose ``<Data>`` elements are decoded by :func:`_block`."""
    from nibabel.gifti.parse_gifti_fast import GiftiImageParser
    from nibabel.gifti.util import gifti_endian_codes

    class Parser(GiftiImageParser):
        def EndElementHandler(self, name: str) -> None:
            # nibabel only warns of a file that is not what it says: here it is an error
            expected = getattr(self, "expected_numDA", None)
            if name == "GIFTI" and expected is not None and expected != self.img.numDA:
                raise InputError(
                    f"the GIFTI file declares {expected} data arrays but holds {self.img.numDA}"
                )
            super().EndElementHandler(name)

        def flush_chardata(self) -> None:
            if self.write_to != "Data":
                super().flush_chardata()
                return
            blocks, self._char_blocks = self._char_blocks, None
            self.da.data = _block(self.da, "".join(blocks) if blocks else None, folder)
            self.endian = gifti_endian_codes.code[sys.byteorder]

    return Parser(buffer_size=PARSE_BYTES, mmap=False)


def _parse(fh: Any, folder: str | None = None) -> Any:
    """The ``GiftiImage`` in a binary stream, parsed as it is read; every problem (not XML,
    not GIFTI, base64 or zlib data that does not decode to the declared size, a declared
    count of arrays that does not match, external data) is an :class:`InputError`."""
    parser = _parser(folder)
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
        path = os.fspath(where)
        with open_binary(path) as fh:
            img = _parse(fh, os.path.dirname(os.path.abspath(path)))
    values = _arrays(img)
    del img
    return [Loaded(ArraySource(values), values.ndim - 1, "gifti")]


def single_map(head: bytes) -> bool:
    """Whether the first bytes of a GIFTI file (its root's and first data array's attributes)
    say it holds a single 1D array: a map, not a time series."""
    root = _ROOT.search(head)
    first = _FIRST.search(head)
    return root is not None and first is not None and int(root[1]) == 1 and int(first[1]) == 1
