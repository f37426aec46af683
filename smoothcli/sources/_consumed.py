"""How far the reader of this process's current input has read: a fraction from 0 to 1, for
the progress bar of a big file. The readers report it (:func:`report`, from
:func:`~smoothcli.sources._base.read_rows`, which every block reader uses); a worker process
passes it on to the process that started it (see :mod:`smoothcli.batch._executors`), and a
thread scoring one of two inputs at once to its own :func:`reporting` sink.
Portable: nothing is asked of the OS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_fraction = 0.0
_sink: Callable[[float], None] | None = None
#: where this context's reports go too (a thread's input; its reader runs in a copy)
_own: ContextVar[Callable[[float], None] | None] = ContextVar("smoothcli_report", default=None)


def report(done: float) -> None:
    """The current input is ``done`` (0 to 1) read."""
    global _fraction
    _fraction = min(max(float(done), 0.0), 1.0)
    if _sink is not None:
        _sink(_fraction)
    own = _own.get()
    if own is not None:
        own(_fraction)


@contextmanager
def reporting(sink: Callable[[float], None]) -> Iterator[None]:
    """Inside the block, this thread's reports (and its readers') also go to ``sink``."""
    token = _own.set(sink)
    try:
        yield
    finally:
        _own.reset(token)


def fraction() -> float:
    """How far this process's reader has got into its current input."""
    return _fraction


def set_sink(sink: Callable[[float], None] | None) -> None:
    """Also give every report to ``sink`` (a worker process: to its slot in a shared table)."""
    global _sink
    _sink = sink
