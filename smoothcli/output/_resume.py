"""``-o FILE --resume``: rows appended to FILE as each input finishes, exact under ``kill -9``.

Beside FILE sits a journal, ``.FILE.resume.jsonl`` (:mod:`._journal`: a line per finished
input, with the byte range and digest of its rows in FILE). An input's rows are written,
flushed and fsynced first; only then is its journal line appended and fsynced. So at any
moment FILE holds every journaled input's rows, and maybe some bytes after them that no
journal line vouches for (a killed input's rows, a torn row).

On a rerun, :func:`open_resume` drops a torn last journal line, finds each journaled input's
rows in FILE by their digest (so a FILE rewritten just before a kill is read right too),
truncates FILE after the last one found, and removes the rows of inputs that changed,
vanished, or were stdin, rewriting FILE atomically. What is left is FILE as an
uninterrupted run would have written it up to that input.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from .._os import BINARY, CLOEXEC, NOFOLLOW, pwrite_all
from ..status import run_failed
from ._errors import OutputError
from ._journal import (
    MAGIC,
    VERSION,
    _digest,
    _Entry,
    _journal_entries,
    _Key,
    _key,
    _read_journal,
    _stamp,
    journal_path,
)
from ._sidecar import _plain, write_sidecar
from ._target import Target, _shown, check_target
from ._values import ESCAPE_ERRORS
from ._write import naming
from ._writers import make_writer

RESUMABLE = ("tsv", "csv", "jsonl")


def is_journal(head: bytes) -> bool:
    """Whether a file's first bytes are a resume journal's (only such a file is replaced)."""
    return head.startswith(b'{"' + MAGIC.encode() + b'"')


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    """Write all of ``data`` at ``offset`` (tests replace this with a slow, piecewise one)."""
    pwrite_all(fd, data, offset)


class Render:
    """Rows to bytes through the format's own writer, so the text is a normal run's."""

    def __init__(self, fmt: str, columns: list[str]):
        self.fmt = fmt
        self._buffer = io.StringIO(newline="")
        self._writer = make_writer(fmt, self._buffer, columns)
        self.header = self._take()
        self._path_at = columns.index("path") if "path" in columns else None

    def _take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode("utf-8", ESCAPE_ERRORS)

    def rows(self, rows: list[dict[str, Any]]) -> bytes:
        self._writer.add(rows)
        return self._take()

    def _paths(self, data: bytes) -> list[Any]:
        """The ``path`` cell of each row in ``data`` (rows as this writer writes them)."""
        import csv

        text = data.decode("utf-8", ESCAPE_ERRORS)
        if self.fmt == "jsonl":
            return [json.loads(line).get("path") for line in text.splitlines() if line]
        sep = "\t" if self.fmt == "tsv" else ","
        quoting = csv.QUOTE_NONE if self.fmt == "tsv" else csv.QUOTE_MINIMAL
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quoting=quoting)
        return [row[self._path_at] for row in reader if len(row) > (self._path_at or 0)]

    def names(self, data: bytes, path: str) -> bool:
        """Whether every row in ``data`` is a row of the input ``path`` (true where the
        table has no path column: the digest alone vouches for the rows then)."""
        if self._path_at is None:
            return True
        try:
            cells = self._paths(data)
            (own,) = self._paths(self.rows([{"path": path}]))
        except (ValueError, AttributeError, IndexError, RecursionError):
            return False
        return bool(cells) and all(cell == own for cell in cells)


class Resume:
    """An open ``--resume`` output: ask :meth:`done` before scoring an input, give its rows
    to :meth:`append` after, in input order; :meth:`close` at the end (or use ``with``).
    ``sidecar`` is the sidecar's path (already written), or None."""

    def __init__(self, target: Target, journal: Target, render: Render, head: bytes):
        self.path, self._target, self._journal = target.path, target, journal
        self.sidecar = target.sidecar.path if target.sidecar is not None else None
        self._render, self._head = render, head
        self._entries: dict[_Key, _Entry] = {}
        self._end = len(render.header)
        self._fd: int | None = None
        self._jfd: int | None = None
        #: the batch's inputs, in order: what :meth:`finish` leaves in FILE
        self.order: list[str] = []

    # -- opening ----------------------------------------------------------------------------

    def _create(self) -> None:
        self._journal.write_bytes(self._head)  # first: a FILE never exists without its journal
        self._target.write_bytes(self._render.header)
        self._open()

    def _recover(self, journal: bytes) -> None:
        """Keep the rows of the inputs in ``journal`` (its lines after the first) that FILE
        still holds, in order, and that prove unchanged; cut off or remove the others."""
        with open(self._target.real, "rb") as stream:
            data = stream.read()
        header = self._render.header
        if not data.startswith(header):
            first = data.split(b"\n", 1)[0].decode("utf-8", "replace")
            raise OutputError(
                f"{_shown(self.path)} has another header than this run's columns: "
                f"{_shown(first)!r}; remove it or drop --resume"
            )
        position, kept = len(header), []
        for entry in _journal_entries(journal):
            length = entry.end - entry.start
            chunk = data[position : position + length]
            if len(chunk) != length or _digest(chunk) != entry.digest:
                continue  # not its rows here (FILE was rewritten without them): redone
            if not self._render.names(chunk, entry.path):
                continue  # rows of another input than the line says: not kept
            kept.append(replace(entry, start=position, end=position + length))
            position += length
        last: dict[_Key, int] = {e.key: i for i, e in enumerate(kept)}
        fresh = [e for i, e in enumerate(kept) if last[e.key] == i and e.current()]
        if len(fresh) < len(kept):  # remove rows: rewrite FILE, then the journal
            self._rewrite(fresh, data)
            return
        if len(data) > position:  # a killed input's rows, a torn row: cut them off
            with open(self._target.real, "r+b") as stream:
                stream.truncate(position)
                os.fsync(stream.fileno())
        self._commit(fresh, position)

    def _rewrite(self, entries: list[_Entry], data: bytes | None = None) -> None:
        """Rewrite FILE as the header and ``entries``' rows, in that order, taken from
        ``data`` (FILE's bytes, read when not given); then the journal."""
        if data is None:
            with open(self._target.real, "rb") as stream:
                data = stream.read(self._end)
        pieces, moved, position = [self._render.header], [], len(self._render.header)
        for entry in entries:
            pieces.append(data[entry.start : entry.end])
            moved.append(replace(entry, start=position, end=position + entry.end - entry.start))
            position = moved[-1].end
        self._target.write_bytes(b"".join(pieces))
        self._commit(moved, position)

    def _commit(self, entries: list[_Entry], end: int) -> None:
        """Rewrite the journal for ``entries``, FILE's rows up to ``end``, and reopen both."""
        self._journal.write_bytes(self._head + b"".join(e.line() for e in entries))
        self._entries = {e.key: e for e in entries}
        self._end = end
        self._open()

    def _open(self) -> None:
        self.close()
        self._fd = os.open(self._target.real, os.O_WRONLY | CLOEXEC | BINARY)
        flags = os.O_WRONLY | os.O_APPEND | CLOEXEC | BINARY | NOFOLLOW  # never through a link
        self._jfd = os.open(self._journal.real, flags)

    # -- use --------------------------------------------------------------------------------

    def done(self, path: str) -> bool:
        """Whether ``path``'s rows are in FILE and the file still has the size and
        modification time they came from (stdin ``-`` is never done)."""
        entry = self._entries.get(_key(path))
        return entry is not None and entry.current()

    def counts(self, path: str) -> tuple[int, int]:
        """How many of a done input's rows are errors, and how many failed a threshold."""
        entry = self._entries.get(_key(path))
        return (entry.errors, entry.fails) if entry is not None else (0, 0)

    def append(
        self,
        rows: list[dict[str, Any]],
        *,
        path: str,
        stat: os.stat_result | None = None,
        depends: tuple[str, ...] = (),
    ) -> None:
        """Add one input's rows to FILE (flushed and fsynced), then record it in the journal.

        ``stat`` is the input's ``os.stat`` taken BEFORE it was scored, so a file changed while
        it was being read is redone next time; without it the file is stat'ed now, after
        scoring. ``depends`` are other files the rows came from (the mask): the input is
        redone when one of them changes. An input already in FILE (changed since
        :func:`open_resume`) has its old rows removed first.
        """
        if self._fd is None or self._jfd is None:
            raise ValueError("append on a closed Resume")
        key = _key(path)
        if key in self._entries:  # take its old rows out of FILE
            del self._entries[key]
            self._rewrite(sorted(self._entries.values(), key=lambda e: e.start))
        data = self._render.rows(rows)
        start = self._end
        try:
            with naming(self.path):  # a full disk names the file
                _pwrite_all(self._fd, data, start)
                os.fsync(self._fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, start)
            raise
        entry = _Entry(
            path,
            key,
            _stamp(path, stat),
            start,
            start + len(data),
            _digest(data),
            [[os.path.abspath(d), _stamp(d)] for d in depends],
            sum(row.get("status") == "error" for row in rows),
            sum(run_failed(row) for row in rows),
        )
        self._end = entry.end  # rows are safe: a kill from here redoes them, at worst
        with naming(self._journal.path):
            _pwrite_all(self._jfd, entry.line(), os.fstat(self._jfd).st_size)
            os.fsync(self._jfd)
        self._entries[key] = entry

    def finish(self, paths: list[str]) -> None:
        """Leave in FILE the rows of ``paths`` (this batch's inputs), in that order: rows
        of inputs redone at the end, or of inputs this batch does not have, would make a
        resumed table differ from one written without a break. Rewrites FILE, then the
        journal, only when the order or the set differs."""
        keys = dict.fromkeys(_key(p) for p in paths)
        wanted = [self._entries[k] for k in keys if k in self._entries]
        now = sorted(self._entries.values(), key=lambda e: e.start)
        if [e.key for e in now] != [e.key for e in wanted]:
            self._rewrite(wanted)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        try:
            if fd is not None:
                os.close(fd)
        finally:  # the journal's is closed even if FILE's close fails
            jfd, self._jfd = self._jfd, None
            if jfd is not None:
                os.close(jfd)

    def __enter__(self) -> Resume:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_resume(
    path: str, fmt: str, columns: list[str], *, meta: Mapping[str, Any], protect: Iterable[str] = ()
) -> Resume:
    """Open ``path`` (the ``-o FILE``, TSV, CSV or JSONL) for ``--resume``: create it
    (header, sidecar, journal) or pick it up. An existing FILE must have been written with
    the same ``columns`` and ``meta["Options"]``; FILE, its sidecar and journal must be none
    of ``protect`` (the files the command reads). :class:`OutputError` for another format, a
    FILE that is not a regular file, written with other options or columns, or existing
    without a journal, and anything :func:`check_target` refuses."""
    if fmt not in RESUMABLE:
        raise OutputError("--resume needs -o FILE in TSV, CSV or JSONL")
    protect = list(protect)
    target = check_target(path, protect=protect)
    if not target.regular:
        raise OutputError(f"--resume needs -o FILE to be a regular file; {_shown(path)} is not")
    try:
        journal = check_target(
            journal_path(path), protect=protect, sidecar=False, derived=True, ours=is_journal
        )
    except OutputError as exc:
        raise OutputError(f"resume journal: {exc}") from None
    if not journal.regular:
        raise OutputError(f"resume journal: {_shown(journal.path)} is not a regular file")
    # the options as the sidecar and the journal hold them, so that a read-back compares equal
    options = json.loads(json.dumps(_plain(dict(meta).get("Options", {})), allow_nan=False))
    head = {MAGIC: VERSION, "format": fmt, "columns": list(columns), "options": options}
    resume = Resume(target, journal, Render(fmt, list(columns)), (json.dumps(head) + "\n").encode())
    shown = _shown(path)
    if not os.path.exists(target.real):
        resume._create()
        write_sidecar(target, columns, meta)
        return resume
    found = _read_journal(journal.real, shown)
    if found is None:
        raise OutputError(
            f"{shown} exists but was not written with --resume; remove it or drop --resume"
        )
    old, lines = found
    _same_head(old, shown, fmt, list(columns), options)
    resume._head = (json.dumps(old) + "\n").encode()
    resume._recover(lines)
    if target.sidecar is not None and _sidecar_options(target.sidecar.real) != options:
        write_sidecar(target, columns, meta)  # missing, or another output's with this stem
    return resume


def _same_head(old: dict, shown: str, fmt: str, columns: list[str], options: Any) -> None:
    """A resumed FILE's journal must say it was written as it would be now."""
    if old.get("format") != fmt:
        raise OutputError(f"{shown} was written as {old.get('format')}, not {fmt}")
    if old.get("columns") != columns:
        had = ",".join(map(str, old.get("columns") or []))
        raise OutputError(
            f"{shown} was written with other columns ({had}, now {','.join(columns)})"
        )
    if old.get("options") != options:
        before, now = old.get("options") or {}, options
        diff = ", ".join(
            f"{key} ({json.dumps(before.get(key))} then, {json.dumps(now.get(key))} now)"
            for key in sorted(set(before) | set(now), key=str)
            if before.get(key) != now.get(key)
        )
        raise OutputError(f"{shown} was written with other options: {diff}")


def _sidecar_options(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream).get("Options")
    except (OSError, ValueError, AttributeError):
        return None
