"""Turn command-line paths into a list of inputs, and read BIDS entities from names.

Nothing here opens data: a missing or unreadable path stays in the list and fails when it is
scored, so it becomes an error row rather than stopping the batch. A folder that cannot be
listed is kept too, as an :class:`Unlisted` path that carries the reason.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from .sources import is_supported

STDIN = "-"
ENTITIES = ("sub", "ses", "task", "acq", "run", "echo", "space", "desc")
_ENTITY_RE = re.compile(r"(?:^|_)(" + "|".join(ENTITIES) + r")-([A-Za-z0-9]+)")
_MASK_RE = re.compile(r"_mask\.nii(\.gz)?$", re.IGNORECASE)
#: the longest line of a --files-from list: Linux's PATH_MAX, and some room
MAX_LINE = 8192


class Unlisted(str):
    """A folder found while searching that could not be listed; ``reason`` says why."""

    reason: str

    def __new__(cls, path: str, reason: str) -> Unlisted:
        self = super().__new__(cls, path)
        self.reason = reason
        return self


def _walk(directory: str) -> list[str]:
    """Supported files under ``directory``, sorted; hidden entries and masks are skipped.
    A sub-folder that cannot be listed is returned as an :class:`Unlisted` path."""
    found: list[str] = []
    problems: list[OSError] = []
    for root, dirs, files in os.walk(directory, onerror=problems.append):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith(".") or not is_supported(name) or _MASK_RE.search(name):
                continue
            path = os.path.join(root, name)
            if os.path.isfile(path):
                found.append(path)
    for exc in problems:
        where = exc.filename if exc.filename is not None else directory
        found.append(Unlisted(str(where), f"cannot list folder: {exc.strerror or exc}"))
    return sorted(found, key=lambda p: Path(p).parts)


def _is_dir(raw: str) -> bool:
    try:
        return Path(raw).is_dir()
    except OSError:  # too long a name, a folder that cannot be entered: it fails when opened
        return False


def discover(paths: Iterable[str]) -> list[str]:
    """Expand directories (recursively, in sorted order) and keep files and ``-`` as given."""
    out: list[str] = []
    for raw in paths:
        if raw == STDIN:
            out.append(STDIN)
            continue
        out.extend(_walk(raw) if _is_dir(raw) else [raw])
    return out


def read_list(stream: BinaryIO, name: str = "the list") -> Iterator[str]:
    """Paths from a ``--files-from`` stream: one per line, read line by line in bounded
    memory; blank lines and ``#`` comments are skipped. Names that are not UTF-8 are kept
    as the OS gave them (surrogate escapes). A NUL byte or an endless line is a
    ``ValueError``: such a file is not a list of paths."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        number += 1
        if b"\0" in line:
            raise ValueError(f"{name} holds binary data (a NUL byte on line {number})")
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            raise ValueError(f"line {number} of {name} is longer than {MAX_LINE} bytes")
        text = os.fsdecode(line.rstrip(b"\r\n")).strip()
        if text and not text.startswith("#"):
            yield text


def entities(path: str) -> dict[str, str]:
    """BIDS key-value pairs in a file name: ``sub-01_task-rest_bold.nii.gz`` gives
    ``{"sub": "01", "task": "rest"}``."""
    return dict(_ENTITY_RE.findall(Path(path).name))
