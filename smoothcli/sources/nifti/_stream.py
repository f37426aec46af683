"""Where the bytes of a NIfTI image come from: a path (plain or gzip, opened anew for each
pass) or a stream read once (stdin), with gzip read through ISA-L when it is installed, and
whatever a corrupt stream raises turned into one :class:`InputError`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from ..._text import error_line
from .._base import InputError, Once, input_errors, open_binary
from .._registry import GZIP_MAGIC

T = TypeVar("T")

#: read gzip through ISA-L when it is installed (``False``: always the standard library)
USE_ISAL = True
#: compressed bytes ISA-L reads at once (its default is 512 KiB)
GZIP_READ_BYTES = 4 << 20


def open_gzip(path: Any, *, prefer_isal: bool | None = None) -> Any:
    """A gzip file (a path or a binary stream) for sequential reading: through ISA-L (the
    optional ``isal`` package, about twice as fast here) when it is installed and
    ``prefer_isal`` (default :data:`USE_ISAL`), else the standard library. Both check the CRC
    and length of each member at its end."""
    is_stream = hasattr(path, "read")
    if USE_ISAL if prefer_isal is None else prefer_isal:
        try:
            from isal import igzip
        except ImportError:
            pass
        else:
            # igzip's documented knob for the compressed bytes read at once, for this file
            # only: the reader thread takes the GIL once per read, and while JAX is being
            # imported it waits up to 5 ms for it each time (sys.getswitchinterval)
            size, igzip.READ_BUFFER_SIZE = igzip.READ_BUFFER_SIZE, GZIP_READ_BYTES
            try:
                return igzip.IGzipFile(fileobj=path, mode="rb") if is_stream else igzip.open(path)
            finally:
                igzip.READ_BUFFER_SIZE = size
    import gzip

    return gzip.GzipFile(fileobj=path, mode="rb") if is_stream else gzip.open(path, "rb")


TRAILING = "trailing data after the gzip stream: bytes that are not a gzip member follow its end"


def gzip_problem(exc: BaseException, path: str | None = None) -> InputError:
    """What a gzip reader's exception means, as one line. The stream's first bytes were
    gzip's magic, so "not a gzipped file" is said of what follows a member: trailing data.
    A reader also reports a few bytes of trailing data as a stream that ends early (ISA-L
    when they are fewer than a member's header); for a file (``path``) that is told apart
    from truncation by walking its members again (only when the read has failed)."""
    text = error_line(exc)
    if "Not a gzipped file" in text:
        return InputError(TRAILING)
    if isinstance(exc, EOFError):
        if path is not None and trailing_data(path):
            return InputError(TRAILING)
        return InputError("the gzip stream is truncated (it ends before its end-of-stream marker)")
    return InputError(f"the gzip stream is corrupt: {text}")


def trailing_data(path: str, piece: int = 1 << 20) -> bool:
    """Whether a gzip file's members end before the file does, followed by bytes that are
    neither zero padding nor another member; ``False`` when the file ends inside a member
    (truncated) or cannot be decompressed."""
    try:
        from isal import isal_zlib as zlib
    except ImportError:
        import zlib  # type: ignore[no-redef]
    with open(path, "rb") as fh:
        d = zlib.decompressobj(31)
        pending = b""
        while True:
            chunk = pending or fh.read(piece)
            pending = b""
            if not chunk:
                return False  # the file ends inside a member
            try:
                d.decompress(chunk, piece)
                while d.unconsumed_tail and not d.eof:
                    d.decompress(d.unconsumed_tail, piece)
            except zlib.error:
                return False
            if not d.eof:
                continue
            rest = d.unused_data.lstrip(b"\0")  # zero padding, as gzip -d allows
            while len(rest) < 2:
                more = fh.read(piece)
                if not more:
                    return bool(rest)  # one stray byte, or padding to the end
                rest = (rest + more).lstrip(b"\0")
            if not rest.startswith(GZIP_MAGIC):
                return True
            d, pending = zlib.decompressobj(31), rest


class ImageBytes:
    """The bytes of an image: a file at ``path``, or ``stream`` (a ``.nii.gz`` stream
    already wrapped in a gzip reader), which can be opened only once."""

    def __init__(self, path: str | None, stream: Any = None, *, gzipped: bool = False) -> None:
        self.path = path
        self.stream = stream
        self.gzipped = gzipped
        self._once = Once(stream) if path is None else None

    def open(self) -> AbstractContextManager[Any]:
        """The (decompressed) bytes from the start; a stream is not closed on exit."""
        if self._once is not None:
            return self._once()
        assert self.path is not None
        if self.gzipped:
            open_binary(self.path).close()  # an OS error becomes an InputError
            return open_gzip(self.path)
        return open_binary(self.path)

    def errors(self) -> AbstractContextManager[None]:
        """Turn what a corrupt or unreadable stream raises into :class:`InputError`."""
        return input_errors(self._problem)

    def _problem(self, exc: BaseException) -> InputError:
        if self.gzipped:
            return gzip_problem(exc, self.path)
        return InputError(f"cannot read the image ({error_line(exc)})")

    def read(self, body: Callable[[Any], T]) -> T:
        """``body(fh)`` on the opened bytes; read problems become :class:`InputError`."""
        with self.errors(), self.open() as fh:
            return body(fh)


def image_bytes(where: Any) -> ImageBytes:
    """A path, a binary stream or bytes, recognised as gzip or plain by its first bytes."""
    if isinstance(where, bytes):
        where = io.BufferedReader(io.BytesIO(where))
    if hasattr(where, "read"):
        if not hasattr(where, "peek"):
            where = io.BufferedReader(where)
        gz = where.peek(2)[:2] == GZIP_MAGIC
        return ImageBytes(None, open_gzip(where) if gz else where, gzipped=gz)
    path = os.fspath(where)
    with open_binary(path) as fh:
        head = fh.read(2)
    return ImageBytes(path, gzipped=head == GZIP_MAGIC)
