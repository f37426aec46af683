"""NPY files and NPZ archives, read in blocks with file reads, never unpickled.

An NPY header is parsed (see :mod:`._npy_header`) and checked against the size of the file
(or of the zip member) before anything is allocated; blocks are then read with ``readinto``
along the slow axis (axis 0 for C order, the last axis for Fortran order), so a 2 GiB array
never pages in as a whole. An array whose slices along the slow axis are themselves huge (2
channels x 1e9 samples) is read along its fast axis instead, a seek and a read per line. NPZ
members are streamed out of the zip one block at a time (a 1 GiB member of zeros is 1 MB on
disk); each pass over a member reopens it, and the member is read to its end so that zip's
CRC is checked. The time axis is the last axis.
"""

from __future__ import annotations

import math
import os
import zipfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import numpy as np

from .._text import error_line
from ._base import (
    DEFLATE_MAX_RATIO,
    Once,
    copy_bytes,
    drain,
    input_errors,
    read_exact,
    read_rows,
    skip_bytes,
    stream_errors,
)
from ._errors import InputError, open_binary, os_error_message
from ._loaded import Loaded
from ._magic import NPY_MAGIC, ZIP_MAGICS
from ._npy_header import NpyHeader, read_npy_header
from ._prefetch import Prefetch
from ._source import Source

__all__ = ["NpySource", "open_npy", "open_npz"]

#: one slice along the slow axis larger than this is not read as a block: the array is read
#: along its fast axis instead (see :class:`NpySource`); the engine's block budget
WIDE_SLICE_BYTES = 8 << 20
#: ... when it has at most this many lines along the fast axis (each read on its own)
MAX_WIDE_LINES = 4096


def _reading(what: str) -> AbstractContextManager[None]:
    """Turn what a corrupt stream or zip member raises into :class:`InputError`
    ("``what`` cannot be read (...)")."""
    return input_errors(
        lambda exc: InputError(f"{what} cannot be read ({error_line(exc)})"),
        (*stream_errors(), zipfile.BadZipFile),
    )


class NpySource(Source):
    """An NPY array (a file, a zip member or a stream) read in blocks along its slow axis.
    ``open`` returns a context manager for a byte stream; ``skip`` bytes are read past before
    the data (``None``: seek to the header's end, for a file); with ``verify`` the stream is
    read to its end after the last block (a zip member's CRC). A wide array (:func:`_is_wide`)
    is read along its fast axis (the last axis for C order, axis 0 for Fortran order), each
    line's part with ``seek`` + ``readinto``: a stream or zip member, which cannot seek, is
    first spooled to an anonymous temporary file (and verified to its end as it is)."""

    def __init__(
        self,
        hdr: NpyHeader,
        open: Callable[[], AbstractContextManager[Any]],
        *,
        skip: int | None,
        verify: bool,
        what: str,
    ) -> None:
        self._hdr, self._open, self._skip, self._verify, self._what = hdr, open, skip, verify, what
        self._spool: Any = None  # the data of a wide stream or zip member, from byte 0
        self.shape = hdr.shape
        self.dtype = hdr.dtype.newbyteorder("=")
        ndim = len(hdr.shape)
        fortran = hdr.fortran and ndim > 1
        self.order = "F" if fortran else "C"
        slow, fast = (ndim - 1, 0) if fortran else (0, ndim - 1)
        self.wide = ndim > 1 and _is_wide(hdr.shape, slow, fast, hdr.dtype.itemsize)
        self.chunk_axis = fast if self.wide else slow

    def _truncated(self, missing: int) -> InputError:
        c, total = self.chunk_axis, self.shape[self.chunk_axis]
        return InputError(
            f"{self._what} is truncated: it ends in row {missing} of {total} along axis {c}"
        )

    def _to_data(self, fh: Any) -> None:
        """Move a freshly opened stream to the start of the array's data."""
        if self._skip is None:
            fh.seek(self._hdr.offset)
        else:
            skip_bytes(fh, self._skip, "the data is truncated before its array starts")

    def _block(self, raw: np.ndarray, k: int) -> np.ndarray:
        """Raw bytes of ``k`` slices along the chunk axis, laid out as stored -> a block."""
        hdr = self._hdr
        block = raw.view(hdr.dtype)
        if not hdr.dtype.isnative:
            block = block.byteswap(inplace=True).view(self.dtype)
        shape = list(self.shape)
        shape[self.chunk_axis] = k
        return block.reshape(shape, order=self.order)

    def _rows(self, rows: int) -> Iterator[np.ndarray]:
        c = self.chunk_axis
        total = self.shape[c]
        row_bytes = (math.prod(self.shape) // total if total else 0) * self._hdr.dtype.itemsize
        with _reading(self._what), self._open() as fh:
            self._to_data(fh)
            for _, k, raw in read_rows(fh, total, rows, row_bytes, short=self._truncated):
                yield self._block(raw, k)
            if self._verify:
                drain(fh)  # a zip member's CRC is checked at its end

    def _spooled(self) -> Any:
        """The array's data in an anonymous temporary file (copied on the first pass)."""
        if self._spool is None:
            import tempfile

            spool = tempfile.TemporaryFile(prefix="smoothcli-npy-")  # noqa: SIM115
            try:
                with _reading(self._what), self._open() as fh:
                    self._to_data(fh)
                    want = self._hdr.nbytes
                    if (got := copy_bytes(fh, want, spool)) < want:
                        raise InputError(
                            f"{self._what} is truncated: it holds {got} of {want} bytes"
                        )
                    spool.flush()
                    if self._verify:
                        drain(fh)  # the member's CRC, before any value is made from it
            except BaseException:
                spool.close()
                raise
            self._spool = spool
        return self._spool

    def _columns(self, rows: int) -> Iterator[np.ndarray]:
        """Blocks along the fast axis: for each line (an index of the other axes), its part
        of the block is read with ``seek`` + ``readinto`` into the block's bytes."""
        c = self.chunk_axis
        total = self.shape[c]
        lines = math.prod(self.shape) // total
        item = self._hdr.dtype.itemsize
        if self._skip is None:
            opened, base = self._open(), self._hdr.offset
        else:
            opened, base = nullcontext(self._spooled()), 0
        with _reading(self._what), opened as fh:
            for start in range(0, total, rows):
                k = min(rows, total - start)
                raw = np.empty(lines * k * item, np.uint8)
                out = memoryview(raw)
                for line in range(lines):
                    fh.seek(base + (line * total + start) * item)
                    if read_exact(fh, out[line * k * item : (line + 1) * k * item]) < k * item:
                        raise self._truncated(start)
                yield self._block(raw, k)

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        """Blocks of ``rows`` along ``chunk_axis``, read one ahead in a helper thread."""
        rows = max(int(rows), 1)
        return Prefetch(self._columns(rows) if self.wide else self._rows(rows))

    def __del__(self) -> None:
        if self._spool is not None:
            self._spool.close()


def _is_wide(shape: tuple[int, ...], slow: int, fast: int, itemsize: int) -> bool:
    """Whether one slice along ``slow`` is too big for a block (a few channels x a long time
    axis) and the array has few enough lines along ``fast`` to read them one by one."""
    if shape[slow] == 0 or shape[fast] == 0:
        return False
    size = math.prod(shape)
    wide = size // shape[slow] * itemsize > WIDE_SLICE_BYTES
    return wide and size // shape[fast] <= MAX_WIDE_LINES


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


def _member_name(info: zipfile.ZipInfo) -> str:
    return info.filename.removesuffix(".npy")


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
            name = _member_name(info)
            try:
                hdr = _check_member(zf, info, size)
            except InputError as exc:  # this member only: the others are still scored
                # kept without its traceback, whose frames would hold the archive open
                problem = exc.with_traceback(None)
                problem.__context__ = None
                out.append(Loaded(None, 0, "npz", member=name, problem=problem))
                continue

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
        import shutil
        import tempfile

        head = where.peek(8)[:8] if hasattr(where, "peek") else b""
        if not head.startswith(ZIP_MAGICS):
            raise _not_zip(head)
        # it outlives this call: the sources reopen their members from it
        file = tempfile.TemporaryFile(prefix="smoothcli-stdin-", suffix=".npz")  # noqa: SIM115
        spool = _Spool(file)
        shutil.copyfileobj(where, spool.file, 1 << 20)
        size = spool.file.tell()
        spool.file.seek(0)
        try:
            spool.archive = zipfile.ZipFile(spool.file)
            items = _npz(spool.open, size)
            if all(item.source is None for item in items):  # no member needs it any more
                spool.close()
            return items
        except zipfile.BadZipFile as exc:
            spool.close()
            raise InputError(f"not an NPZ (zip) archive ({error_line(exc)})") from None
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
            raise InputError(f"not an NPZ (zip) archive ({error_line(exc)})") from None
        except OSError as exc:
            raise InputError(os_error_message(exc, path)) from None

    return _npz(reopen, size)
