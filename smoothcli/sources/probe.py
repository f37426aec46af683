"""Cheap checks of a file before it is scored, from its header alone (no data is read).

:func:`time_series_problem` tells a directory scan which NIfTI images are not time series
(3D images, 4D with one frame), so that they are skipped rather than turned into error rows.
It reads the first few hundred bytes of the file (through zlib for ``.nii.gz``, without
decompressing the rest), so a tree of thousands of images is probed in well under a second
per thousand.
"""

from __future__ import annotations

import io
import zlib

from ._base import InputError
from ._registry import GZIP_MAGIC

__all__ = ["time_series_problem"]

#: a NIfTI-2 header's size: all that is ever decompressed
_HEADER_BYTES = 540
#: compressed bytes read at a time (a header almost always decompresses from the first piece)
_PIECE = 4096
#: give up on a gzip stream that has not yielded a header after this many compressed bytes
_MOST = 1 << 20


def _head(path: str) -> bytes:
    """The first :data:`_HEADER_BYTES` bytes of a NIfTI file's image stream (decompressed
    when the file is gzip); fewer if the stream is shorter. ``OSError``/``zlib.error`` if it
    cannot be read."""
    with open(path, "rb") as fh:
        first = fh.read(_PIECE)
        if not first.startswith(GZIP_MAGIC):
            return first[:_HEADER_BYTES]
        unzip = zlib.decompressobj(wbits=31)
        out = unzip.decompress(first, _HEADER_BYTES)
        seen = len(first)
        while len(out) < _HEADER_BYTES and not unzip.eof and seen < _MOST:
            piece = unzip.unconsumed_tail or fh.read(_PIECE)
            if not piece:
                break
            if not unzip.unconsumed_tail:
                seen += len(piece)
            out += unzip.decompress(piece, _HEADER_BYTES - len(out))
        return out


def time_series_problem(path: str) -> str | None:
    """Why the NIfTI image at ``path`` is not a time series, from its header alone:
    ``"a 3D image"`` (or 2D, 1D), ``"4D with one frame"``; ``None`` for a 4D image with more
    than one frame, for an image of more than four dimensions, and for anything that cannot
    be read as a NIfTI header (those become error rows when scored, with the reader's
    message)."""
    from .nifti._header import read_header

    try:
        head = _head(path)
        hdr = read_header(io.BytesIO(head))
    except (OSError, zlib.error, InputError, EOFError, ValueError):
        return None
    shape = hdr.shape
    if len(shape) < 4:
        return f"a {len(shape)}D image"
    if len(shape) == 4 and shape[3] == 1:
        return "4D with one frame"
    return None
