"""A usage error (exit 2): said plainly on stderr, with where to find help."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

import typer

from ..status import ExitStatus
from ._ui import say


class Usage(Exception):
    """A problem with the command line: exit 2 with this message."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


@contextlib.contextmanager
def as_usage(param: str | None, *errors: type[Exception]) -> Iterator[None]:
    """Within the block, ``errors`` are usage errors of ``param``, saying what they say."""
    try:
        yield
    except errors as exc:
        raise Usage(str(exc), param) from None


def make_folder(path: str, param: str) -> None:
    """Make the folder ``path`` (and those above it) if it is missing; a usage error of
    ``param`` if it cannot be made."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise Usage(f"cannot make the folder {path}: {exc.strerror}", param) from None


def command(func: Callable[..., Any]) -> Callable[..., Any]:
    """A command (named as ``func``) whose :class:`Usage` errors say what is wrong with the
    command line, plainly, and exit 2."""

    @functools.wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except Usage as exc:
            say(f"usage error: {exc.param + ': ' if exc.param else ''}{exc.message}")
            sys.stderr.write(f"Try 'smoothcli {func.__name__} --help' for help.\n")
            raise typer.Exit(ExitStatus.USAGE) from None

    return run
