"""Where the CLI's messages go: one object for stderr, quiet/silent/verbose and progress.

stdout carries the table and nothing else. stderr gets, by level: ``say`` (input errors and
threshold failures: hidden only by ``--silent``), ``info`` (warnings, the summary, verbose
lines: hidden by ``--quiet`` too) and a progress bar on a terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["UI", "Progress", "say"]


def _safe(stream: IO[str]) -> IO[str]:
    """A name that is not UTF-8 (surrogate escapes) must never crash a message."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        stream.reconfigure(errors="backslashreplace")  # type: ignore[attr-defined]
    return stream


def say(message: str) -> None:
    """One ``smoothcli: ...`` line on stderr."""
    _safe(sys.stderr).write(f"smoothcli: {message}\n")


class UI:
    def __init__(
        self,
        *,
        quiet: bool = False,
        silent: bool = False,
        verbose: bool = False,
        debug: bool = False,
    ) -> None:
        self.quiet = quiet or silent
        self.silent = silent
        self.verbose = verbose and not self.quiet
        self.debug = debug
        self.err = _safe(sys.stderr)
        _safe(sys.stdout)

    def say(self, message: str) -> None:
        """An input error or a failed threshold: hidden by --silent only."""
        if not self.silent:
            self.err.write(f"smoothcli: {message}\n")

    def info(self, message: str) -> None:
        """A warning, the summary or a verbose line: hidden by --quiet and --silent."""
        if not self.quiet:
            self.err.write(f"smoothcli: {message}\n")

    def traceback(self, exc: BaseException) -> None:
        if self.debug and not self.silent:
            import traceback

            traceback.print_exception(exc, file=self.err)

    @contextlib.contextmanager
    def progress(self, total: int) -> Iterator[Progress]:
        """A transient progress bar on a terminal (files done of ``total``, and the file being
        read); it is gone when the block ends, before anything else is printed."""
        if self.quiet or total < 2 or not self.err.isatty() or os.environ.get("CI"):
            yield Progress()
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        columns = (
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.description}", style="dim"),
        )
        with Bar(*columns, console=Console(file=self.err), transient=True) as bar:
            yield Progress(bar, bar.add_task("", total=total))


class Progress:
    """What the batch tells the progress bar; does nothing off a terminal."""

    def __init__(self, bar: Any = None, task: Any = None) -> None:
        self.bar, self.task = bar, task

    def reading(self, path: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=os.path.basename(path) or path)

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.advance(self.task)
