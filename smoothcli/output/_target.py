"""Where output goes, checked before any work (:func:`check_target`): not a directory, not a
file the command reads, in a folder that can be written; a name smoothcli derives (a
sidecar, a journal, a plot) never a symbolic link nor a file smoothcli did not write. How a
checked :class:`~._write.Target` is then written is :mod:`._write`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Callable, Iterable

from .._os import BINARY, CLOEXEC, NOFOLLOW, name_max
from ._errors import OutputError
from ._values import clean
from ._write import Target

# file descriptors named as paths: written through a copy of the descriptor, like bash does
_FD_PATHS = re.compile(r"/(?:dev/fd|proc/self/fd|proc/thread-self/fd|proc/(\d+)/fd)/(\d+)")
_STD_FDS = {"/dev/stdout": 1, "/dev/stderr": 2}
#: bytes of an existing side file read to tell whether smoothcli wrote it
SNIFF_BYTES = 1 << 16


def _shown(path: str) -> str:
    text = clean(path)
    folder, name = os.path.split(text)
    if len(folder) > 50:
        text = os.path.join(folder[:20] + "..." + folder[-27:], name)
    return text if text.isprintable() else ascii(text)[1:-1]


def _fail(path: str, reason: str) -> OutputError:
    return OutputError(f"cannot write {_shown(path)}: {reason}")


def _stat(path: str, shown: str, how: Callable = os.stat) -> os.stat_result | None:
    """The target's status (symlinks followed, unless ``how`` is ``os.lstat``), None if it
    does not exist."""
    try:
        return how(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise _fail(shown, _reason(exc)) from None


_REASONS = {
    errno.ENAMETOOLONG: "the name is too long",
    errno.ENOTDIR: "a part of it is not a folder",
    errno.EACCES: "permission denied (a folder on the way cannot be entered)",
    errno.ELOOP: "too many levels of symbolic links",
}


def _reason(exc: OSError) -> str:
    return _REASONS.get(exc.errno) or exc.strerror or str(exc)


def _descriptor(path: str) -> int | None:
    """The descriptor a path names (``/dev/stdout``, ``/proc/self/fd/3``), if it names one."""
    absolute = os.path.normpath(os.path.abspath(path))
    if absolute in _STD_FDS:
        return _STD_FDS[absolute]
    match = _FD_PATHS.fullmatch(absolute)
    if match is None or (match.group(1) and int(match.group(1)) != os.getpid()):
        return None
    return int(match.group(2))


def _is_protected(st: os.stat_result, protect: Iterable[str]) -> bool:
    for other in protect:
        with contextlib.suppress(OSError, ValueError):
            if other != "-" and os.path.samestat(os.stat(other), st):
                return True
    return False


def _special(path: str) -> bool:
    """Paths under /dev/ and /proc/ are written into, never replaced (bar /dev/shm/)."""
    return any(
        where.startswith(("/dev/", "/proc/")) and not where.startswith("/dev/shm/")
        for where in (os.path.abspath(path), os.path.realpath(path))
    )


def check_target(
    path: str,
    *,
    protect: Iterable[str] = (),
    sidecar: bool = True,
    derived: bool = False,
    ours: Callable[[bytes], bool] | None = None,
) -> Target:
    """Check that ``path`` can be written, before any work is done. ``protect``: files the
    command reads (inputs, the mask, the ``--files-from`` list), which the target (and its
    sidecar) must be none of, links included. ``sidecar``: also check the JSON sidecar's
    path (:func:`sidecar_path`), which becomes ``Target.sidecar``. ``derived``: ``path`` is a
    name smoothcli made up (a sidecar, a journal, a plot, a censor file), so a symbolic link
    there is refused rather than written through, and so is an existing file that ``ours``
    (given its first bytes) does not recognise as smoothcli's. :class:`OutputError`, in one
    line: a directory, a missing folder, a name too long, a folder that cannot be written, a
    file that the command reads, a descriptor that is not open."""
    from ._sidecar import sidecar_path

    protect = list(protect)
    if not path:
        raise OutputError("cannot write an empty file name")
    if "\0" in path:
        raise _fail(path, "the name holds a NUL character")
    if derived:
        return _derived_target(path, protect, ours)
    fd = _descriptor(path)  # /dev/stdout, /proc/self/fd/N: written through the descriptor
    if fd is not None:
        try:
            st = os.fstat(fd)
        except OSError:
            raise _fail(path, f"file descriptor {fd} is not open") from None
    else:
        st = _stat(path, path)
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise _fail(path, "it is a directory")
    if fd is not None or (st is not None and (not stat.S_ISREG(st.st_mode) or _special(path))):
        if stat.S_ISREG(st.st_mode) and _is_protected(st, protect):
            raise _fail(path, "the command also reads it")
        return Target(path, regular=False, real=path, fd=fd)
    real = os.path.realpath(path)
    mode = _mode(path, real, st, protect)
    if st is not None and not os.access(real, os.W_OK):
        raise _fail(path, "permission denied")
    _check_folder(path, os.path.dirname(real) or ".")
    side = _sidecar_target(sidecar_path(path), protect) if sidecar else None
    return Target(path, regular=True, real=real, mode=mode, sidecar=side)


def _check_folder(path: str, folder: str) -> None:
    folder_st = _stat(folder, path)
    if folder_st is None:
        raise _fail(path, f"no such folder: {_shown(folder)}")
    if not stat.S_ISDIR(folder_st.st_mode):
        raise _fail(path, f"{_shown(folder)} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _fail(path, f"cannot write to the folder {_shown(folder)}")


def _sidecar_target(name: str | None, protect: list[str]) -> Target | None:
    """The JSON sidecar's target, checked as a name smoothcli derives."""
    if name is None:
        return None
    from ._sidecar import is_sidecar

    try:
        return check_target(name, protect=protect, sidecar=False, derived=True, ours=is_sidecar)
    except OutputError as exc:
        raise OutputError(f"sidecar: {exc}") from None


def _derived_target(path: str, protect: list[str], ours: Callable[[bytes], bool] | None) -> Target:
    """The :class:`Target` of a name smoothcli derives: never a symbolic link found there now
    (it would be written through; a temporary file renamed over the name replaces a link
    planted later rather than following it), never a file that ``ours`` (given its first
    bytes) does not recognise as smoothcli's: that one is the user's, and left as it is."""
    st = _stat(path, path, os.lstat)
    folder, name = os.path.split(os.path.abspath(path))
    real = os.path.join(os.path.realpath(folder), name)
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise _fail(path, "it is a symbolic link, and smoothcli writes nothing through one")
        if not stat.S_ISREG(st.st_mode):
            raise _fail(path, "it exists and is not a regular file")
        if ours is not None and not ours(_head(path)):
            raise _fail(
                path,
                "a file of that name exists and smoothcli did not write it; it is left as it "
                "is (move it away, or choose another name)",
            )
    mode = _mode(path, real, st, protect)
    _check_folder(path, folder)
    return Target(path, regular=True, real=real, mode=mode)


def _mode(path: str, real: str, st: os.stat_result | None, protect: list[str]) -> int | None:
    """The permission bits an existing file keeps (a file the command reads is refused);
    None for a new name (which must fit the file system)."""
    if st is None:
        folder, name = os.path.split(real)
        if len(os.fsencode(name)) > name_max(folder) or len(os.fsencode(real)) >= 4096:
            raise _fail(path, "the name is too long")
        return None
    if _is_protected(st, protect):
        raise _fail(path, "the command also reads it; it would be overwritten")
    return stat.S_IMODE(st.st_mode)


def _head(path: str) -> bytes:
    """The first bytes of an existing side file (not through a link)."""
    try:
        fd = os.open(path, os.O_RDONLY | NOFOLLOW | CLOEXEC | BINARY)
    except OSError as exc:
        raise _fail(path, _reason(exc)) from None
    try:
        return os.read(fd, SNIFF_BYTES)
    finally:
        os.close(fd)
