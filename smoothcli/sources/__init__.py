"""Readers, one module per format family, and a registry from file name or magic bytes.

Every reader returns :class:`Loaded` items: a chunked source for the engine, its time axis
and, where the file has them, names for its axes (CSV/TSV columns, CIFTI-2 brainordinates and
parcels). Readers never compute, never hold more than a few blocks (GIFTI, XML with base64
data, is the one format read whole), and turn every input they cannot read into
:class:`~smoothcli.sources._errors.InputError` with a one-line message.

This package imports no NumPy until a reader is used, so that naming formats stays cheap.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, BinaryIO

from ._errors import InputError, check_regular, open_binary
from ._loaded import Loaded
from ._registry import (
    FORMATS,
    READERS,
    SUFFIXES,
    format_of_name,
    is_supported,
    reader,
    recognise,
    sniff,
    unsupported,
)

__all__ = [
    "FORMATS", "READERS", "SUFFIXES", "InputError", "Loaded", "format_of_name", "is_supported",
    "open_path", "open_stdin", "sniff"
]  # fmt: skip

#: how many bytes are peeked at to recognise a format
HEAD_BYTES = 512


def open_path(path: str | Path, *, fmt: str | None = None, mask: Any = None) -> list[Loaded]:
    """Open a regular file; ``fmt`` overrides the format its name implies. A name with no
    known suffix is read when its first bytes say what it is (magic: NIfTI, CIFTI-2, NPY,
    NPZ, GIFTI), and is otherwise an :class:`InputError` that says ``unsupported file type``
    and lists the suffixes smoothcli reads (a text table needs ``.csv`` or ``.tsv``).
    ``mask`` applies to NIfTI images only; other formats ignore it. The path is used as given
    (a non-UTF-8 name works through the OS's encoding)."""
    where = os.fspath(path)
    check_regular(where)
    name = os.path.basename(where)
    fmt = fmt or format_of_name(name)
    if fmt is None:
        with open_binary(where) as fh:
            fmt = recognise(fh.read(HEAD_BYTES))
        if fmt is None:
            raise InputError(unsupported(name))
    return reader(fmt).load()(where, mask=mask)


class _Prefixed(io.RawIOBase):
    """A stream that gives back the bytes already peeked from it, then the rest."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        into = getattr(self._rest, "readinto", None)
        if into is not None:
            return into(b) or 0
        data = self._rest.read(len(b))
        b[: len(data)] = data
        return len(data)


def _peek(stream: BinaryIO) -> bytes:
    head = b""
    while len(head) < HEAD_BYTES and (more := stream.read(HEAD_BYTES - len(head))):
        head += more
    return head


def open_stdin(stream: BinaryIO, *, fmt: str | None = None, mask: Any = None) -> list[Loaded]:
    """Open what a binary stream holds (stdin): the format from ``fmt`` or from its first
    bytes (see :func:`sniff`). NIfTI and CIFTI-2 (plain or gzip), NPY and CSV/TSV (plain or
    gzip) are read as they come, GIFTI is parsed as it comes; an NPZ is spooled to an
    anonymous temporary file first, since a zip archive is read from its end."""
    head = _peek(stream)
    if not head:
        raise InputError("stdin is empty")
    fmt = fmt or sniff(head)
    whole = io.BufferedReader(_Prefixed(head, stream), 1 << 20)
    return reader(fmt).load()(whole, mask=mask)
