"""Deprecated: use :mod:`smoothcli.output`. Kept until the CLI imports the new package."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import IO

from .output import FORMATS, format_for_path, make_writer
from .output import Writer as _Writer
from .output._target import check_target

__all__ = ["FORMATS", "Writer", "atomic_output", "format_for_path"]


def Writer(fmt: str, stream: IO[str], columns: list[str], *, color: bool = False) -> _Writer:
    """The writer of ``fmt``, every column shown (the old signature)."""
    return make_writer(fmt, stream, columns, color=color, hide_empty=False)


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[IO[str]]:
    """``path`` written atomically if it is a regular file, written into if it is not."""
    with check_target(path, sidecar=False).open() as stream:
        yield stream
