"""Where the CLI's messages go: one object for stderr, quiet/silent/verbose and progress.

stdout carries the table and nothing else. stderr gets, by level: ``say`` (input errors and
threshold failures: hidden only by ``--silent``), ``info`` (warnings, the summary, verbose
lines: hidden by ``--quiet`` too) and a progress bar on a terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import IO, Any

from .._text import printable


def _safe(stream: IO[str]) -> IO[str]:
    """A name that is not UTF-8 (surrogate escapes) must never crash a message."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        stream.reconfigure(errors="backslashreplace")  # type: ignore[attr-defined]
    return stream


def say(message: str) -> None:
    """One ``smoothcli: ...`` line on stderr (escaped: a file name can hold a terminal's
    control sequences)."""
    _safe(sys.stderr).write(f"smoothcli: {printable(message)}\n")


class UI:
    def __init__(self, *, quiet: bool, silent: bool, verbose: bool, debug: bool) -> None:
        self.quiet = quiet or silent
        self.silent = silent
        self.verbose = verbose and not self.quiet
        self.debug = debug
        self.err = _safe(sys.stderr)
        _safe(sys.stdout)

    @property
    def table_on_terminal(self) -> bool:
        """Whether stdout is a terminal: the table is then drawn (and coloured) for a person
        rather than written as TSV for a program."""
        return sys.stdout.isatty()

    def say(self, message: str) -> None:
        """An input error or a failed threshold: hidden by --silent only."""
        if not self.silent:
            self.err.write(f"smoothcli: {printable(message)}\n")

    def info(self, message: str) -> None:
        """A warning, the summary or a verbose line: hidden by --quiet and --silent."""
        if not self.quiet:
            self.err.write(f"smoothcli: {printable(message)}\n")

    def traceback(self, exc: BaseException) -> None:
        if self.debug and not self.silent:
            import traceback

            traceback.print_exception(exc, file=self.err)

    @contextlib.contextmanager
    def progress(self, inputs: list[str]) -> Iterator[Progress]:
        """A transient progress bar on a terminal: files done of all, the file being read
        and, for a file bigger than :data:`BIG_FILE`, its own bar by bytes read. It is gone
        when the block ends, before anything else is printed."""
        sizes = {path: _size(path) for path in inputs}
        worth = len(inputs) > 1 or any(size > BIG_FILE for size in sizes.values())
        if self.quiet or not worth or not self.err.isatty() or os.environ.get("CI"):
            yield Progress()
            return
        from rich.console import Console
        from rich.progress import BarColumn, ProgressColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar
        from rich.text import Text

        class Count(ProgressColumn):
            """k/N files, or MiB read of a big file's size."""

            def render(self, task: Any) -> Text:
                if task.fields.get("bytes"):
                    return Text(f"{task.completed / 2**20:.0f}/{(task.total or 0) / 2**20:.0f} MiB")
                return Text(f"{int(task.completed)}/{int(task.total or 0)}")

        columns = (
            BarColumn(),
            Count(),
            TimeRemainingColumn(),
            TextColumn("{task.description}", style="dim", markup=False),  # names are not markup
        )
        bar = Bar(*columns, console=Console(file=self.err), transient=True)
        with bar, Progress(bar, bar.add_task("", total=len(inputs)), sizes) as progress:
            yield progress


#: files bigger than this get a bar of their own, by bytes read
BIG_FILE = 200 << 20


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size if path != "-" else 0
    except OSError:
        return 0


class Progress:
    """What the batch tells the progress bar; does nothing off a terminal (no ``bar``). On
    one, a thread moves the byte bar of a big file as this process (or a worker) reads it,
    by what its reader reports (see :mod:`smoothcli.sources._consumed`)."""

    def __init__(self, bar: Any = None, files: Any = None, sizes: dict[str, int] | None = None):
        import threading

        self.bar, self.files, self.sizes = bar, files, sizes or {}
        self.path: str | None = None
        self.where: Callable[[], float | None] | None = None
        self.task: Any = None  # the big file's bar
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="smoothcli-progress", daemon=True)

    def __enter__(self) -> Progress:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(1)

    def reading(self, path: str, where: Callable[[], float | None] | None = None) -> None:
        """The batch waits for ``path`` now; ``where()`` says how far it has been read (0 to
        1), when that is known. A big file gets its own bar."""
        if self.bar is None:
            return
        self.bar.update(self.files, description=printable(os.path.basename(path) or path))
        self.where = where
        size = self.sizes.get(path, 0)
        if size <= BIG_FILE or where is None:
            if self.task is not None:
                self.bar.update(self.task, visible=False)
            self.path = None
            return
        name = f"  {printable(os.path.basename(path))}: bytes read"
        if self.task is None:
            self.task = self.bar.add_task(name, total=size, bytes=True)
        self.bar.reset(self.task, total=size, description=name, visible=True)
        self.path = path

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.advance(self.files)

    def _run(self) -> None:
        while not self.stop.wait(0.25):
            path, task, where = self.path, self.task, self.where
            if path is None or task is None or where is None:
                continue
            done = where()
            if done is not None:
                self.bar.update(task, completed=int(done * self.sizes.get(path, 0)))
