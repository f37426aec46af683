"""What every reader raises for an input it cannot score, and the one-line messages for the
errors the OS gives about a path. Imports nothing heavy (no NumPy), so that naming formats
and reporting errors stay cheap at start-up."""

from __future__ import annotations

from typing import Any

__all__ = ["InputError", "open_binary", "os_error_message"]


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
