"""How far the reader of this process's current input has read: a fraction from 0 to 1, for
the progress bar of a big file. The readers report it (:func:`report`, from
:func:`~smoothcli.sources._base.read_rows`, which every block reader uses); a worker process
passes it on to the process that started it (see :mod:`smoothcli.batch._executors`).
Portable: nothing is asked of the OS."""

from __future__ import annotations

from collections.abc import Callable

_fraction = 0.0
_sink: Callable[[float], None] | None = None


def report(done: float) -> None:
    """The current input is ``done`` (0 to 1) read."""
    global _fraction
    _fraction = min(max(float(done), 0.0), 1.0)
    if _sink is not None:
        _sink(_fraction)


def fraction() -> float:
    """How far this process's reader has got into its current input."""
    return _fraction


def set_sink(sink: Callable[[float], None] | None) -> None:
    """Also give every report to ``sink`` (a worker process: to its slot in a shared table)."""
    global _sink
    _sink = sink
