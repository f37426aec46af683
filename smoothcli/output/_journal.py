"""The ``--resume`` journal beside FILE: one JSON line per finished input, read back safely.

A first line names the format, the columns and the options; then each finished input has a
line with its path (as given and absolute), size and ``mtime_ns``, the byte range of its rows
in FILE, a digest of those bytes, the files its rows also came from (its mask) and how many
of them were errors or failed a threshold.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._errors import OutputError
from ._target import _shown

MAGIC = "smoothcli-resume"
VERSION = 1
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


def _stamp(path: str) -> tuple[int, int] | None:
    """(size, mtime_ns) of an input, or None for stdin and a path that cannot be stat'ed."""
    if path == "-":
        return None
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_size, st.st_mtime_ns


@dataclass(frozen=True)
class _Entry:
    """One finished input: its rows are FILE's bytes ``[start, end)``."""

    path: str
    abspath: str
    size: int | None
    mtime_ns: int | None
    start: int
    end: int
    digest: str
    #: files the rows also came from (the mask): [absolute path, size, mtime_ns]
    deps: list = field(default_factory=list)
    errors: int = 0  # rows with status error
    fails: int = 0  # rows that failed a threshold

    @property
    def key(self) -> _Key:
        return _key(self.path, self.abspath)

    def line(self) -> bytes:
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return (json.dumps(fields) + "\n").encode("ascii")  # ASCII: surrogates escaped

    def current(self) -> bool:
        """True when the input still has the size and modification time its rows came from."""
        if self.path == "-":
            return False
        if any(_stamp(dep) != (size, mtime) for dep, size, mtime in self.deps):
            return False  # its mask changed
        if self.size is None:  # it could not be stat'ed (missing): done while that holds
            return _stamp(self.abspath) is None
        return _stamp(self.abspath) == (self.size, self.mtime_ns)


def _journal_entries(body: bytes) -> Iterable[_Entry]:
    """The journal's input lines, stopping at a torn or unreadable one."""
    *lines, torn = body.split(b"\n")
    del torn  # a last line without its newline was being written when the run was killed
    for line in lines:
        try:
            fields = json.loads(line)
            entry = _Entry(**fields)
        except (ValueError, TypeError):
            return
        if not 0 <= entry.start <= entry.end:
            return
        yield entry


def _read_head(journal: str, shown: str) -> dict[str, Any] | None:
    """The journal's first line, or None when there is no journal."""
    try:
        with open(journal, "rb") as stream:
            first = stream.readline()
    except FileNotFoundError:
        return None
    try:
        head = json.loads(first)
    except ValueError:
        head = None
    if not isinstance(head, dict) or head.get(MAGIC) != VERSION:
        raise OutputError(
            f"the resume journal of {shown} ({_shown(journal)}) is damaged; "
            "remove both or drop --resume"
        )
    return head
