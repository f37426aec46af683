"""Operating-system calls that not every platform has, each with its fallback.

smoothcli runs on Linux, macOS and Windows. Where Linux (or POSIX) offers something better,
it is used, and the fallback is the portable way: ``os.pwrite`` (POSIX) or a seek and a
write; a folder's descriptor for ``*at()`` calls (``O_DIRECTORY`` and ``dir_fd``: POSIX) or
plain paths; ``os.pathconf`` (POSIX) or the usual 255 bytes of a name. Each is looked up when
it is called, so that a test can take it away. Flags a platform lacks are 0 here, and
``O_BINARY`` (Windows: no newline translation) is always added to ``os.open``'s flags.
"""

from __future__ import annotations

import os

#: close the descriptor in a child process (POSIX); Windows descriptors are not inherited
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: a terminal opened as output never becomes the controlling terminal (POSIX)
NOCTTY = getattr(os, "O_NOCTTY", 0)
#: no newline translation (Windows only; 0 elsewhere)
BINARY = getattr(os, "O_BINARY", 0)
#: fail rather than open through a symbolic link (POSIX; Windows: 0, checked by lstat first)
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: the length of a file name where ``pathconf`` cannot tell (every common file system)
NAME_MAX = 255


def pwrite_all(fd: int, data: bytes, offset: int) -> None:
    """Write all of ``data`` at ``offset``: ``os.pwrite`` where there is one, else a seek and
    writes (the descriptor's offset moves, which no caller here relies on)."""
    view = memoryview(data)
    pwrite = getattr(os, "pwrite", None)
    if pwrite is None:
        os.lseek(fd, offset, os.SEEK_SET)
    while view:
        done = pwrite(fd, view, offset) if pwrite is not None else os.write(fd, view)
        view, offset = view[done:], offset + done


def open_folder(folder: str) -> int | None:
    """A descriptor of ``folder`` for ``dir_fd=`` calls, or ``None`` where the platform has
    no such calls (then the caller works with paths)."""
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None or os.open not in os.supports_dir_fd or os.link not in os.supports_dir_fd:
        return None
    return os.open(folder or ".", os.O_RDONLY | flag | CLOEXEC)


def name_max(folder: str) -> int:
    """The longest file name ``folder``'s file system takes, in bytes."""
    try:
        return int(os.pathconf(folder or ".", "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):  # AttributeError: no pathconf (Windows)
        return NAME_MAX
