"""gzip for every reader: :func:`open_gzip` (ISA-L when it is installed, else the standard
library; both check each member's CRC and length at its end), :func:`gzip_problem`, the one
line that says what a corrupt, truncated or padded gzip stream is, and :class:`InputBytes`:
where a reader's bytes come from (a path, plain or gzip, or stdin read once).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from .._text import error_line
from ._base import Once, input_errors
from ._errors import InputError, open_binary
from ._magic import GZIP_MAGIC

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
            # igzip's documented knob for the compressed bytes read at once: the reader
            # thread takes the GIL once per read, and while JAX is being imported it waits
            # up to 5 ms for it each time (sys.getswitchinterval). Raised once and never put
            # back, so that readers opened at once on several threads all see the same value
            igzip.READ_BUFFER_SIZE = max(igzip.READ_BUFFER_SIZE, GZIP_READ_BYTES)
            return igzip.IGzipFile(fileobj=path, mode="rb") if is_stream else igzip.open(path)
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


class InputBytes:
    """The bytes of an input (a path, a binary stream or bytes), told gzip or plain by gzip's
    magic, never by a name: a file at :attr:`path` is opened anew for each pass, a
    :attr:`stream` (wrapped in a gzip reader when it is gzip) can be opened only once.
    ``what`` names the input in messages."""

    def __init__(self, where: Any, what: str = "the image") -> None:
        self.what, self.gzipped = what, False
        self.path: str | None = None
        self.stream: Any = None
        if isinstance(where, bytes):
            where = io.BytesIO(where)
        if hasattr(where, "read"):
            self.stream = where if hasattr(where, "peek") else io.BufferedReader(where)
            with self.errors():
                self.gzipped = self.stream.peek(2)[:2] == GZIP_MAGIC
            if self.gzipped:
                self.stream = open_gzip(self.stream)
        else:
            self.path = os.fspath(where)
            with self.errors(), open_binary(self.path) as fh:
                self.gzipped = fh.read(2) == GZIP_MAGIC
        self._once = Once(self.stream) if self.path is None else None

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
        return InputError(f"cannot read {self.what} ({error_line(exc)})")

    def read(self, body: Callable[[Any], T]) -> T:
        """``body(fh)`` on the opened bytes; read problems become :class:`InputError`."""
        with self.errors(), self.open() as fh:
            return body(fh)
