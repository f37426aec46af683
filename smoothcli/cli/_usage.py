"""A usage error (exit 2): said plainly on stderr, with where to find help."""

from __future__ import annotations

import sys

import typer

from ..status import ExitStatus
from ._ui import say

__all__ = ["Usage", "usage_exit"]


def usage_exit(command: str, message: str, param: str | None = None) -> typer.Exit:
    """Say what is wrong with the command line, plainly, and return the exit to raise."""
    say(f"usage error: {param + ': ' if param else ''}{message}")
    sys.stderr.write(f"Try 'smoothcli {command} --help' for help.\n")
    return typer.Exit(ExitStatus.USAGE)


class Usage(Exception):
    """A problem with the command line: exit 2 with this message."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param
