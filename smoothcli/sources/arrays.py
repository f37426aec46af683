"""NPY files and NPZ archives, read in blocks with file reads, never unpickled.

An NPY header is parsed with :mod:`numpy.lib.format` and checked against the size of the
file (or of the zip member) before anything is allocated; blocks are then read with
``readinto`` along the slow axis (axis 0 for C order, the last axis for Fortran order), so a
2 GiB array never pages in as a whole. NPZ members are streamed out of the zip one block at a
time (a 1 GiB member of zeros is 1 MB on disk); each pass over a member reopens it, and the
member is read to its end so that zip's CRC is checked. The time axis is the last axis.
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import Loaded
from ._base import (
    DEFLATE_MAX_RATIO,
    InputError,
    Once,
    drain,
    input_errors,
    one_line,
    open_binary,
    os_error_message,
    prefetch,
    read_all,
    read_exact,
    read_rows,
    skip_bytes,
    stream_errors,
)
from ._registry import NPY_MAGIC, ZIP_MAGICS

#: the longest NPY header read (NumPy itself refuses more than 10000 bytes by default)
MAX_HEADER_BYTES = 1 << 16
PICKLED = "the file holds pickled data, which is never unpickled"


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
        raise InputError(f"{what} has an invalid NPY header ({one_line(exc)})") from None
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise InputError(f"{what} holds Python objects, which are never unpickled")
    if len(shape) == 0:
        raise InputError(f"{what} is a 0-d scalar, not a signal")
    if dtype.fields is not None or dtype.kind not in "biuf" or dtype.itemsize > 8:
        raise InputError(f"{what} has dtype {_describe(dtype)}, not real numbers")
    return NpyHeader(tuple(int(s) for s in shape), bool(fortran), dtype, 8 + width + length)


def _reading(what: str) -> AbstractContextManager[None]:
    """Turn what a corrupt stream or zip member raises into :class:`InputError`
    ("``what`` cannot be read (...)")."""
    return input_errors(
        lambda exc: InputError(f"{what} cannot be read ({one_line(exc)})"),
        (*stream_errors(), zipfile.BadZipFile),
    )


class NpySource:
    """An NPY array (a file, a zip member or a stream) read in blocks along its slow axis.

    ``open`` returns a context manager for a byte stream; ``skip`` bytes are read past
    before the data (``None``: seek to the header's end, for a file); ``verify`` says that
    the stream is read to its end after the last block (a zip member's CRC)."""

    def __init__(
        self,
        hdr: NpyHeader,
        open: Callable[[], AbstractContextManager[Any]],
        *,
        skip: int | None,
        verify: bool,
        what: str,
    ) -> None:
        self._hdr = hdr
        self._open = open
        self._skip = skip
        self._verify = verify
        self._what = what
        self.shape = hdr.shape
        self.dtype = hdr.dtype.newbyteorder("=")
        fortran = hdr.fortran and len(hdr.shape) > 1
        self.order = "F" if fortran else "C"
        self.chunk_axis = len(hdr.shape) - 1 if fortran else 0

    def _blocks(self, rows: int) -> Iterator[np.ndarray]:
        hdr = self._hdr
        c = self.chunk_axis
        total = self.shape[c]
        row_bytes = (math.prod(self.shape) // total if total else 0) * hdr.dtype.itemsize
        with _reading(self._what), self._open() as fh:
            if self._skip is None:
                fh.seek(hdr.offset)
            else:
                skip_bytes(fh, self._skip, "the data is truncated before its array starts")
            blocks = read_rows(
                fh,
                total,
                rows,
                row_bytes,
                short=lambda missing: InputError(
                    f"{self._what} is truncated: it ends in row {missing} of {total} along axis {c}"
                ),
            )
            for _, k, raw in blocks:
                block = raw.view(hdr.dtype)
                if not hdr.dtype.isnative:
                    block = block.byteswap(inplace=True).view(self.dtype)
                if self.order == "F":
                    yield block.reshape((*self.shape[:-1], k), order="F")
                else:
                    yield block.reshape((k, *self.shape[1:]))
            if self._verify:
                drain(fh)  # a zip member's CRC is checked at its end

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """Consecutive blocks of ``rows`` along ``chunk_axis``, read one ahead in a helper
        thread."""
        return prefetch(self._blocks(max(int(rows), 1)))

    def read(self) -> np.ndarray:
        return read_all(self)


# -- NPY -------------------------------------------------------------------------------------------


def open_npy(where: Any, *, mask: Any = None) -> list[Loaded]:
    """An NPY file (a path) or stream."""
    if hasattr(where, "read"):
        with _reading("the input"):
            hdr = read_npy_header(where, "the input")
        # the header has been read: the stream is now at the data
        src = NpySource(hdr, Once(where), skip=0, verify=False, what="the array")
        return [Loaded(src, len(hdr.shape) - 1, "npy")]
    path = os.fspath(where)
    with open_binary(path) as fh:
        hdr = read_npy_header(fh, "the file")
    have = os.stat(path).st_size - hdr.offset
    if hdr.nbytes > have:
        raise InputError(
            f"the file is truncated: the header claims {hdr.nbytes} bytes of data "
            f"({'x'.join(map(str, hdr.shape))} {hdr.dtype.name}), but the file holds {have}"
        )
    src = NpySource(hdr, lambda: open_binary(path), skip=None, verify=False, what="the array")
    return [Loaded(src, len(hdr.shape) - 1, "npy")]


# -- NPZ -------------------------------------------------------------------------------------------


def _member_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    return name[:-4] if name.endswith(".npy") else name


def _check_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, archive_size: int) -> NpyHeader:
    what = f"member {_member_name(info)!r}"
    if not info.filename.endswith(".npy"):
        raise InputError(f"{what} of the archive is not an NPY array")
    if info.compress_type == zipfile.ZIP_DEFLATED:
        if info.file_size > DEFLATE_MAX_RATIO * info.compress_size + 1024:
            raise InputError(f"{what} claims more data than its compressed size can hold")
    elif info.compress_type == zipfile.ZIP_STORED and (
        info.compress_size != info.file_size or info.compress_size > archive_size
    ):
        raise InputError(f"{what} claims more data than the archive holds")
    with _reading(what), zf.open(info) as fh:
        hdr = read_npy_header(fh, what)
    if hdr.offset + hdr.nbytes > info.file_size:
        raise InputError(
            f"{what} is truncated: its header claims {hdr.nbytes} bytes of data, but the "
            f"member holds {max(info.file_size - hdr.offset, 0)}"
        )
    return hdr


def _npz(zf_open: Callable[[], AbstractContextManager[zipfile.ZipFile]], size: int) -> list:
    out = []
    with _reading("the archive"), zf_open() as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        for info in infos:
            hdr = _check_member(zf, info, size)
            name = _member_name(info)

            @contextmanager
            def member(info: zipfile.ZipInfo = info) -> Iterator[Any]:
                with zf_open() as z, z.open(info) as fh:
                    yield fh

            src = NpySource(hdr, member, skip=hdr.offset, verify=True, what=f"member {name!r}")
            out.append(Loaded(src, len(hdr.shape) - 1, "npz", member=name))
    if not out:
        raise InputError("the NPZ archive holds no arrays")
    return out


class _Spool:
    """stdin spooled to an anonymous temporary file, open while a source needs it."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.archive: zipfile.ZipFile | None = None

    def open(self) -> AbstractContextManager[zipfile.ZipFile]:
        assert self.archive is not None
        return nullcontext(self.archive)

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()
        self.file.close()

    def __del__(self) -> None:
        self.close()


def _not_zip(head: bytes) -> InputError:
    if head.startswith(NPY_MAGIC):
        return InputError("not an NPZ (zip) archive: it is an NPY file")
    return InputError("not an NPZ (zip) archive")


def open_npz(where: Any, *, mask: Any = None) -> list[Loaded]:
    """Each array of an NPZ file (a path) or stream (spooled to an anonymous temporary file
    first, since a zip archive is read from its end)."""
    if hasattr(where, "read"):
        import tempfile

        head = where.peek(8)[:8] if hasattr(where, "peek") else b""
        if not head.startswith(ZIP_MAGICS):
            raise _not_zip(head)
        # it outlives this call: the sources reopen their members from it
        file = tempfile.TemporaryFile(prefix="smoothcli-stdin-", suffix=".npz")  # noqa: SIM115
        spool = _Spool(file)
        buf = memoryview(bytearray(1 << 20))
        while n := read_exact(where, buf):
            spool.file.write(buf[:n])
        size = spool.file.tell()
        spool.file.seek(0)
        try:
            spool.archive = zipfile.ZipFile(spool.file)
            return _npz(spool.open, size)
        except zipfile.BadZipFile as exc:
            spool.close()
            raise InputError(f"not an NPZ (zip) archive ({one_line(exc)})") from None
        except BaseException:
            spool.close()
            raise
    path = os.fspath(where)
    with open_binary(path) as fh:
        head = fh.read(8)
    if not head.startswith(ZIP_MAGICS):
        raise _not_zip(head)
    size = os.stat(path).st_size

    def reopen() -> AbstractContextManager[zipfile.ZipFile]:
        try:
            return zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise InputError(f"not an NPZ (zip) archive ({one_line(exc)})") from None
        except OSError as exc:
            raise InputError(os_error_message(exc, path)) from None

    return _npz(reopen, size)
