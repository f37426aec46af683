"""Turn command-line paths into a list of inputs, and read BIDS entities from names.

Nothing here opens data: a missing or unreadable path stays in the list and fails when it is
scored, so it becomes an error row rather than stopping the batch. A folder that cannot be
listed is kept too, as an :class:`Unlisted` path that carries the reason. A directory scan
passes over masks and segmentations by name, and files whose header (read alone) says they
are not time series (3D NIfTI images, CIFTI-2 files other than data series, GIFTI files of a
single map): those are listed in :attr:`Discovery.skipped`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from ._glob import Glob, compile_glob
from .sources import format_of_name, is_supported
from .sources.probe import time_series_problem

STDIN = "-"
ENTITIES = ("sub", "ses", "task", "acq", "run", "echo", "space", "desc")
_ENTITY_RE = re.compile(r"(?:^|_)(" + "|".join(ENTITIES) + r")-([A-Za-z0-9]+)")
#: masks and segmentations, passed over by name in a directory scan
_MASK_RE = re.compile(r"_(mask|dseg|probseg)\.nii(\.gz)?$", re.IGNORECASE)
#: the reason a mask or segmentation found in a folder is skipped
MASK_BY_NAME = "a mask or segmentation, by name"
#: the start of the reason a file found in a folder is skipped for its header
NOT_TIME_SERIES = "not a time series"
#: the start of the reason a file of a format the command does not scan is skipped
NOT_AN_IMAGE = "not an image"
#: the reason a symbolic link found in a folder is skipped
NOT_FOLLOWED = "a symbolic link, not followed (--follow follows them)"
#: the longest line of a --files-from list: Linux's PATH_MAX, and some room
MAX_LINE = 8192


class Unlisted(str):
    """A folder found while searching that could not be listed; ``reason`` says why."""

    reason: str

    def __new__(cls, path: str, reason: str) -> Unlisted:
        self = super().__new__(cls, path)
        self.reason = reason
        return self


@dataclass(frozen=True)
class Discovery:
    """What :func:`discover` found: ``inputs`` to score, in order (files, ``-``, and
    :class:`Unlisted` folders), and ``skipped``: files a directory scan passed over, as
    ``(path, reason)`` pairs, sorted; each reason starts with :data:`MASK_BY_NAME` or
    :data:`NOT_TIME_SERIES`."""

    inputs: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __iter__(self) -> Iterator[str]:
        """The inputs, for callers written when :func:`discover` returned a list."""
        return iter(self.inputs)


def _skip_reason(path: str, name: str, formats: tuple[str, ...] | None = None) -> str | None:
    """Why a file found in a folder is not an input (``formats``: those the command takes
    from folders; see :func:`~smoothcli.sources.probe.time_series_problem` for what is not
    a time series); ``None`` to score it."""
    if _MASK_RE.search(name):
        return MASK_BY_NAME
    fmt = format_of_name(name)
    if formats is not None and fmt not in formats:
        return f"{NOT_AN_IMAGE}: {'a table' if fmt in ('tsv', 'csv') else 'an array'}"
    problem = time_series_problem(path, fmt)
    return f"{NOT_TIME_SERIES}: {problem}" if problem is not None else None


def _globs(texts: Iterable[str | Glob]) -> list[Glob]:
    return [t if isinstance(t, Glob) else compile_glob(t) for t in texts]


@dataclass
class _Walk:
    """One folder's walk (:meth:`walk`): what it found, skipped, and could not list."""

    include: list[Glob]
    exclude: list[Glob]
    formats: tuple[str, ...] | None
    follow: bool
    found: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    problems: list[tuple[str, OSError]] = field(default_factory=list)
    entered: set[tuple[int, int]] = field(default_factory=set)  # (device, inode) of folders

    def entries(self, folder: str) -> list[os.DirEntry]:
        """A folder's entries, last name first (the stack pops them in order); hidden ones
        are passed over."""
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name, reverse=True)
        except OSError as exc:
            self.problems.append((folder, exc))
            return []
        return [e for e in entries if not e.name.startswith(".")]

    def is_folder(self, entry: os.DirEntry) -> bool | None:
        """Whether to enter ``entry`` (True) or look at it as a file (False); None to pass
        over it: a link not followed (a link to a folder or a supported file is skipped,
        with that reason), or one that cannot be looked at."""
        try:
            if entry.is_symlink() and not self.follow:
                if entry.is_dir() or is_supported(entry.name):
                    self.skipped.append((entry.path, NOT_FOLLOWED))
                return None
            return entry.is_dir()
        except OSError:
            return None

    def first_visit(self, path: str, entry: os.DirEntry | None = None) -> bool:
        """Whether a folder is entered for the first time (with ``follow``: a link back up
        would loop)."""
        if not self.follow:
            return True
        try:
            st = entry.stat() if entry is not None else os.stat(path)
        except OSError as exc:
            if entry is not None:
                self.problems.append((path, exc))
            return entry is None
        key = (st.st_dev, st.st_ino)
        seen = key in self.entered
        self.entered.add(key)
        return not seen

    def consider(self, entry: os.DirEntry, relative: str) -> None:
        """A file: kept, skipped with its reason, or passed over (not a supported kind, or
        not selected by the globs)."""
        name = entry.name
        if not is_supported(name) or any(g.match(relative) for g in self.exclude):
            return
        if self.include and not any(g.match(relative) for g in self.include):
            return
        try:
            if not entry.is_file():
                return
        except OSError:
            return
        reason = _skip_reason(entry.path, name, self.formats)
        if reason is None:
            self.found.append(entry.path)
        else:
            self.skipped.append((entry.path, reason))

    def walk(self, directory: str) -> Discovery:
        """Supported files under ``directory`` (not hidden ones), sorted, as :func:`discover`
        says; a folder an exclude glob matches is not entered. The walk is iterative (a folder
        10,000 deep is no deeper a recursion) and, as ripgrep and fd do, follows no symbolic
        link without ``follow``: a folder may hold links to anything."""
        self.first_visit(directory)
        stack = [(directory, "")]
        while stack:
            folder, prefix = stack.pop()
            for entry in self.entries(folder):
                relative = prefix + entry.name
                kind = self.is_folder(entry)
                if kind is False:
                    self.consider(entry, relative)
                elif (
                    kind
                    and not any(g.match_folder(relative) for g in self.exclude)
                    and self.first_visit(entry.path, entry)
                ):
                    stack.append((entry.path, relative + "/"))
        found = self.found
        found += [Unlisted(w, f"cannot list folder: {e.strerror or e}") for w, e in self.problems]
        found.sort(key=lambda p: Path(p).parts)
        self.skipped.sort(key=lambda s: Path(s[0]).parts)
        return Discovery(found, self.skipped)


def _is_dir(raw: str) -> bool:
    try:
        return Path(raw).is_dir()
    except OSError:  # too long a name, a folder that cannot be entered: it fails when opened
        return False


def discover(
    paths: Iterable[str],
    *,
    include: Iterable[str | Glob] = (),
    exclude: Iterable[str | Glob] = (),
    formats: Iterable[str] | None = None,
    follow: bool = False,
) -> Discovery:
    """Expand directories (recursively, in sorted order) and keep files and ``-`` as given.
    ``include``/``exclude``: globs (:mod:`smoothcli._glob`) tried on each file found in a
    directory, relative to it; includes are alternatives, and an exclude wins. Files named
    explicitly are never filtered nor skipped. With ``formats`` (registry names), a folder's
    files of other formats are skipped too (``dvars`` scans for images, not tables). A
    malformed glob: :class:`~smoothcli._glob.GlobError` (a ``ValueError``), before any listing."""
    inc, exc = _globs(include), _globs(exclude)
    kinds = tuple(formats) if formats is not None else None
    out = Discovery()
    for raw in paths:
        if raw == STDIN:
            out.inputs.append(STDIN)
        elif _is_dir(raw):
            walked = _Walk(inc, exc, kinds, follow).walk(raw)
            out.inputs.extend(walked.inputs)
            out.skipped.extend(walked.skipped)
        else:
            out.inputs.append(raw)
    return out


def read_list(stream: BinaryIO, name: str = "the list") -> Iterator[str]:
    """Paths from a ``--files-from`` stream: one per line, read line by line in bounded
    memory; blank lines and ``#`` comments are skipped. Names that are not UTF-8 are kept
    as the OS gave them (surrogate escapes). A NUL byte or an endless line is a
    ``ValueError``: such a file is not a list of paths."""
    for number, line in enumerate(iter(lambda: stream.readline(MAX_LINE + 1), b""), 1):
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
