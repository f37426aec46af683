"""What every reader raises for an input it cannot score, and the one-line messages for the
errors the OS gives about a path. Imports nothing heavy (no NumPy), so that naming formats
and reporting errors stay cheap at start-up."""

from __future__ import annotations

import os
import stat
from typing import Any


class InputError(ValueError):
    """This input cannot be scored: its message is one line that names the problem."""


_OS_MESSAGES = {
    "ENAMETOOLONG": "file name too long",
    "EACCES": "permission denied",
    "EPERM": "permission denied",
    "ENOTDIR": "a part of the path is not a directory",
    "ELOOP": "too many levels of symbolic links",
    "EISDIR": "is a directory",
}


def os_error_message(exc: OSError, path: str | None = None) -> str:
    """One line for an error the OS gave about a path."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    if name == "ENOENT":
        return f"no such file: {path}" if path is not None else "no such file"
    if name in _OS_MESSAGES:
        return _OS_MESSAGES[name]
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


def open_binary(path: str) -> Any:
    """Open a file for reading; an OS error becomes :class:`InputError`."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(os_error_message(exc, path)) from exc


_KINDS = {
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
}


def check_regular(path: str) -> None:
    """An :class:`InputError` unless ``path`` is a regular file: a FIFO would block a
    read forever, a device (``/dev/zero``) never end, a folder not be a file."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(os_error_message(exc, path)) from exc
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"is a directory: {path}")
    if not stat.S_ISREG(st.st_mode):
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "a special file")
        raise InputError(f"not a regular file but {kind}")
