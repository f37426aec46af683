"""Cheap checks of a file before it is scored, from its first bytes alone (no data is read):
:func:`time_series_problem` tells a directory scan which files to skip as not time series
rather than turn into error rows: NIfTI images that are 3D or 4D with one frame, CIFTI-2 files
of another kind than a data series (``.dscalar.nii``, ``.dlabel.nii``, ...), GIFTI files of a
single map (one 1D data array). A NIfTI file's first few hundred bytes are read (through zlib
for ``.nii.gz``, without inflating the rest): thousands of images probed in well under a
second per thousand. A CIFTI-2 file's intent code names its kind; only a file whose intent
does not (``ConnUnknown``, nibabel's default) has its CIFTI XML read as well. A GIFTI file's
first 64 KB are searched for the attributes that count and shape its data arrays.
"""

from __future__ import annotations

import io
import os
import zlib

from ._errors import InputError
from ._magic import CIFTI_KINDS, GZIP_MAGIC
from ._registry import format_of_name

__all__ = ["time_series_problem"]

#: a NIfTI-2 header's size: all that is decompressed of a NIfTI image
_HEADER_BYTES = 540
#: compressed bytes read at a time (a header almost always decompresses from the first piece)
_PIECE = 4096
#: give up on a gzip stream that has not yielded a header after this many compressed bytes
_MOST = 1 << 20
#: the most CIFTI-2 header extension read to tell an unnamed kind (the reader reads more)
_MOST_XML = 64 << 20
#: the CIFTI-2 kinds that are time series, by their intent code's short name
_SERIES = ("dtseries", "ptseries")


def _head(path: str, nbytes: int = _HEADER_BYTES) -> bytes:
    """The first ``nbytes`` bytes of a file's stream (decompressed when the file is gzip);
    fewer if the stream is shorter. ``OSError``/``zlib.error`` if it cannot be read."""
    with open(path, "rb") as fh:
        first = fh.read(max(_PIECE, min(nbytes, 1 << 20)))
        if not first.startswith(GZIP_MAGIC):
            return first[:nbytes] + (fh.read(nbytes - len(first)) if nbytes > len(first) else b"")
        unzip = zlib.decompressobj(wbits=31)
        out = unzip.decompress(first, nbytes)
        seen = len(first)
        while len(out) < nbytes and not unzip.eof and seen < max(_MOST, nbytes):
            piece = unzip.unconsumed_tail or fh.read(_PIECE)
            if not piece:
                break
            if not unzip.unconsumed_tail:
                seen += len(piece)
            out += unzip.decompress(piece, nbytes - len(out))
        return out


def _cifti_problem(path: str, intent: int, offset: int) -> str | None:
    short, title = CIFTI_KINDS[intent]
    if short in _SERIES:
        return None
    if short:
        return f"a CIFTI-2 {title} file (.{short}.nii)"
    if offset > _MOST_XML:
        return None  # the reader says what it is
    from .cifti import problem_of

    return problem_of(_head(path, offset))


def _volume_problem(path: str, fmt: str) -> str | None:
    from .nifti._header import read_header

    try:
        hdr = read_header(io.BytesIO(_head(path)))
        if hdr.size == _HEADER_BYTES and hdr.intent in CIFTI_KINDS:
            return _cifti_problem(path, hdr.intent, hdr.offset)
    except (OSError, zlib.error, InputError, EOFError, ValueError):
        return None
    if fmt != "nifti":  # named CIFTI-2, and is not: the reader says so
        return None
    if len(hdr.shape) < 4:
        return f"a {len(hdr.shape)}D image"
    return "4D with one frame" if hdr.shape[3:] == (1,) else None


def _surface_problem(path: str) -> str | None:
    from .gifti import PROBE_BYTES, SINGLE_MAP, single_map

    try:
        with open(path, "rb") as fh:
            return SINGLE_MAP if single_map(fh.read(PROBE_BYTES)) else None
    except OSError:
        return None


def time_series_problem(path: str, fmt: str | None = None) -> str | None:
    """Why the file at ``path`` is not a time series, from its first bytes alone: ``"a 3D
    image"`` (or 2D, 1D), ``"4D with one frame"``, ``"a CIFTI-2 dense scalar file
    (.dscalar.nii)"``, ``"a GIFTI file of a single map (...)"``; ``None`` for a time series
    and for anything that cannot be read this way (those become error rows when scored, with
    the reader's message). ``fmt`` is the file's format (by default, from its name)."""
    fmt = fmt or format_of_name(os.path.basename(path))
    if fmt in ("nifti", "cifti"):
        return _volume_problem(path, fmt)
    if fmt == "gifti":
        return _surface_problem(path)
    return None
