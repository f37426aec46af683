"""The ``--resume`` journal beside FILE: one JSON line per finished input, read back safely.

A first line names the format, the columns and the options; then each finished input has a
line with its path (as given and absolute), what proves the file unchanged (device, inode,
size, ``mtime_ns`` and ``ctime_ns``, as git's index keeps them: a content rewrite changes the
ctime, even when the mtime is set back), the byte range of its rows in FILE, a digest of
those bytes, the files its rows also came from (its mask, its confounds table, with the same
proof) and how many of them were errors or failed.

Nothing in the journal is trusted: an entry of the wrong shape or types ends the journal
there (what follows is redone), and an input counts as done only while its file proves
unchanged and its rows in FILE still have their digest and name it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .._os import BINARY, CLOEXEC, NOFOLLOW
from ._errors import OutputError
from ._target import _shown

MAGIC = "smoothcli-resume"
VERSION = 2  # 2: the stamp of each input and dependency (device, inode, times)
_Key = str  # the absolute path: './a.nii' and 'a.nii' from another folder are one input


def journal_path(path: str) -> str:
    """The journal beside ``path``: ``.NAME.resume.jsonl`` in the same folder."""
    folder, name = os.path.split(path)
    return os.path.join(folder, f".{name}.resume.jsonl")


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _key(path: str, abspath: str | None = None) -> _Key:
    """An input's identity in the journal: its absolute path (stdin is ``-``)."""
    if path == "-":
        return "-"
    return abspath if abspath is not None else os.path.abspath(path)


def _stamp(path: str, st: os.stat_result | None = None) -> list[int] | None:
    """What proves a file unchanged: [device, inode, size, mtime_ns, ctime_ns] of ``st``, or
    of the file now; None for stdin and a path that cannot be stat'ed."""
    if path == "-":
        return None
    try:
        st = st if st is not None else os.stat(path)
    except (OSError, ValueError):
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_stamp(value: Any) -> bool:
    return value is None or (
        isinstance(value, list) and len(value) == 5 and all(_is_int(v) for v in value)
    )


@dataclass(frozen=True)
class _Entry:
    """One finished input: its rows are FILE's bytes ``[start, end)``."""

    path: str
    abspath: str
    stamp: list[int] | None  # see _stamp; None: stdin, or a file that could not be stat'ed
    start: int
    end: int
    digest: str
    #: files the rows also came from (the mask, the confounds): [absolute path, stamp]
    deps: list = field(default_factory=list)
    errors: int = 0  # rows with status error
    fails: int = 0  # rows that failed a threshold

    def valid(self) -> bool:
        """Whether every field has the type and range a journal line of smoothcli has."""
        counts = (self.start, self.end, self.errors, self.fails)
        return (
            isinstance(self.path, str)
            and isinstance(self.abspath, str)
            and all(_is_int(v) and v >= 0 for v in counts)
            and self.start <= self.end
            and _is_stamp(self.stamp)
            and isinstance(self.digest, str)
            and re.fullmatch("[0-9a-f]{32}", self.digest) is not None
            and isinstance(self.deps, list)
            and all(
                isinstance(dep, list) and len(dep) == 2 and isinstance(dep[0], str)
                for dep in self.deps
            )
            and all(_is_stamp(dep[1]) for dep in self.deps)
            and (self.path == "-" or os.path.isabs(self.abspath))
        )

    @property
    def key(self) -> _Key:
        return _key(self.path, self.abspath)

    def line(self) -> bytes:
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return (json.dumps(fields) + "\n").encode("ascii")  # ASCII: surrogates escaped

    def current(self) -> bool:
        """True when the input (and each file its rows came from) proves unchanged."""
        if self.path == "-" or os.path.abspath(self.path) != self.abspath:
            return False
        if any(_stamp(dep) != stamp for dep, stamp in self.deps):
            return False  # its mask or confounds changed
        return _stamp(self.abspath) == self.stamp  # a missing file: done while missing


def _journal_entries(body: bytes) -> Iterable[_Entry]:
    """The journal's input lines, stopping at a torn or unreadable one."""
    # a last line without its newline was being written when the run was killed
    for line in body.split(b"\n")[:-1]:
        try:
            entry = _Entry(**json.loads(line))
        except (ValueError, TypeError, RecursionError):  # not JSON, not an object of these
            return
        if not entry.valid():
            return
        yield entry


def _read_journal(journal: str, shown: str) -> tuple[dict[str, Any], bytes] | None:
    """The journal's first line (checked: a journal of this version) and the lines after
    it; None when there is no journal. Read without following a link."""
    try:
        fd = os.open(journal, os.O_RDONLY | CLOEXEC | BINARY | NOFOLLOW)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(
            f"cannot read the resume journal {_shown(journal)}: {exc.strerror}"
        ) from None
    with open(fd, "rb") as stream:
        data = stream.read()
    try:
        head = json.loads(data[: 1 << 20].partition(b"\n")[0])  # at most 1 MiB of it
    except ValueError:
        head = None
    if not isinstance(head, dict) or head.get(MAGIC) != VERSION:
        raise OutputError(
            f"the resume journal of {shown} ({_shown(journal)}) is damaged; "
            "remove both or drop --resume"
        )
    return head, data.partition(b"\n")[2]
