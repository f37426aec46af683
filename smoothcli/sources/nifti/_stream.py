"""Where the bytes of a NIfTI image (or a CIFTI-2 file, which is one) come from: a path (plain
or gzip, opened anew for each pass) or a stream read once (stdin), with gzip read through
ISA-L when it is installed (:mod:`.._gzip`), and whatever a corrupt stream raises turned into
one :class:`InputError`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from ..._text import error_line
from .._base import InputError, Once, input_errors, open_binary
from .._gzip import TRAILING, gzip_problem, open_gzip, trailing_data
from .._magic import GZIP_MAGIC

__all__ = ["TRAILING", "ImageBytes", "gzip_problem", "image_bytes", "open_gzip", "trailing_data"]

T = TypeVar("T")


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
