"""Where output goes: checked before any work, then written atomically or straight into it.

A regular file (or a new name) is written atomically: an anonymous ``O_TMPFILE`` file in the
target's folder (Linux), linked into place only when writing ended without an error, so even
SIGKILL leaves nothing behind. Where there is no ``O_TMPFILE`` (or no ``/proc`` to link it
from), a named ``.NAME.xxxx.tmp`` file in the folder, removed on any exception, is renamed
over the target; where there are no ``*at()`` calls (Windows), the same with paths
(``tempfile.mkstemp`` and ``os.replace``). A new file gets the mode the umask gives; an existing one
keeps its mode. Anything else (a device, a FIFO, ``/dev/stdout``, ``/proc/self/fd/N``) is
written into, as a shell redirection would, and never replaced.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from .._os import BINARY, CLOEXEC, NOCTTY, open_folder
from ._values import ESCAPE_ERRORS


@dataclass(frozen=True)
class Target:
    """A checked output path. ``regular`` is True when it is (or will be) a regular file,
    written atomically; False when it is written into (a device, a FIFO, a descriptor)."""

    path: str
    regular: bool
    real: str  # the file to write: symlinks resolved
    mode: int | None = None  # an existing file's permission bits, kept
    fd: int | None = None  # a descriptor to write through (/dev/stdout, /proc/self/fd/N)
    sidecar: Target | None = None  # the JSON sidecar, checked the same way

    @contextlib.contextmanager
    def open(self) -> Iterator[IO[str]]:
        """A UTF-8 text stream (``newline=""``) onto the target. A regular target becomes the
        new file only when the block ends without an exception; before that the old file, if
        any, is untouched."""
        with naming(self.path), (_atomic if self.regular else _direct)(self) as stream:
            yield stream

    def write_bytes(self, data: bytes) -> None:
        """Write ``data`` (a PNG, a whole table) as :meth:`open` writes text: atomically."""
        with self.open() as stream:
            stream.flush()
            stream.buffer.write(data)  # type: ignore[attr-defined]


@contextlib.contextmanager
def naming(path: str) -> Iterator[None]:
    """An ``OSError`` that names no file (a full disk) names ``path``."""
    try:
        yield
    except OSError as exc:
        if exc.filename is None:
            raise OSError(exc.errno, exc.strerror, path) from exc
        raise


def _text_stream(fd: int) -> IO[str]:
    return open(fd, "w", encoding="utf-8", errors=ESCAPE_ERRORS, newline="")


@contextlib.contextmanager
def _direct(target: Target) -> Iterator[IO[str]]:
    if target.fd is not None:
        for std in (sys.stdout, sys.stderr):  # what this process buffered for it goes first
            with contextlib.suppress(AttributeError, OSError, ValueError):
                if std.fileno() == target.fd:
                    std.flush()
        fd = os.dup(target.fd)
    else:
        # as a shell's '>' would (O_TRUNC does nothing to a device or a FIFO)
        fd = os.open(target.real, os.O_WRONLY | os.O_TRUNC | NOCTTY | CLOEXEC | BINARY)
    with _text_stream(fd) as stream:
        yield stream


@contextlib.contextmanager
def _atomic(target: Target, *, anonymous: bool = True) -> Iterator[IO[str]]:
    """``anonymous=False`` takes the named-temporary-file way (tests use it)."""
    folder, name = os.path.split(target.real)
    dir_fd = open_folder(folder)
    if dir_fd is None:  # no *at() calls here: a temporary file by its path, renamed over
        yield from _named(os.path.join(folder or ".", name), None, target)
        return
    try:
        fd = _anonymous(dir_fd) if anonymous else None
        if fd is not None:
            with _text_stream(fd) as stream:
                yield stream
                _finish(stream, fd, target)
                try:
                    _link(fd, dir_fd, name)
                except OSError as exc:  # /proc not usable for linkat: copy into place
                    if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOENT, errno.EACCES):
                        raise
                    _copy(fd, dir_fd, name, target)
        else:
            yield from _named(name, dir_fd, target)
    finally:
        os.close(dir_fd)


#: where a process's descriptors are named as paths (Linux), for ``linkat`` of a new file
PROC_FD = "/proc/self/fd"


def _anonymous(dir_fd: int) -> int | None:
    """An unnamed file in the folder, or None where O_TMPFILE is not supported."""
    flags = getattr(os, "O_TMPFILE", 0)
    if not flags or not os.path.isdir(PROC_FD):
        return None
    try:
        return os.open(".", flags | os.O_RDWR | CLOEXEC, 0o666, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
            return None
        raise


def _finish(stream: IO, fd: int, target: Target) -> None:
    stream.flush()
    if target.mode is not None and hasattr(os, "fchmod"):  # Windows has no modes to keep
        os.fchmod(fd, target.mode)
    os.fsync(fd)


def _link(fd: int, dir_fd: int, name: str) -> None:
    """Give the anonymous file ``name``: directly when the name is free, else under a
    temporary name renamed over the old file (atomic for a reader)."""

    def link(new: str) -> None:
        os.link(f"{PROC_FD}/{fd}", new, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=True)

    with contextlib.suppress(FileExistsError):
        link(name)
        return
    with _replacing(name, dir_fd, link):
        pass


@contextlib.contextmanager
def _replacing(name: str, dir_fd: int | None, make: Callable | None = None) -> Iterator[Any]:
    """A new file beside ``name`` (in ``dir_fd``, else by its path), renamed over ``name``
    when the block ends without an exception and removed on any exception
    (KeyboardInterrupt and SystemExit too). ``make(temp)`` makes it under a free temporary
    name; by default an empty file with the mode the umask gives, whose descriptor the
    block gets and closes."""
    folder, base = os.path.split(name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | CLOEXEC | BINARY
    make = make or (lambda temp: os.open(temp, flags, 0o666, dir_fd=dir_fd))
    while True:
        temp = os.path.join(folder, f".{base[:40]}.{secrets.token_hex(4)}.tmp")
        with contextlib.suppress(FileExistsError):
            made = make(temp)
            break
    try:
        yield made
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise


def _copy(source: int, dir_fd: int, name: str, target: Target) -> None:
    """Copy the anonymous file into a named temporary file, then rename that into place."""
    with _replacing(name, dir_fd) as fd, open(fd, "wb") as out:
        os.lseek(source, 0, os.SEEK_SET)
        while block := os.read(source, 1 << 20):
            out.write(block)
        _finish(out, fd, target)


def _named(name: str, dir_fd: int | None, target: Target) -> Iterator[IO[str]]:
    with _replacing(name, dir_fd) as fd, _text_stream(fd) as stream:
        yield stream
        _finish(stream, fd, target)
