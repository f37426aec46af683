"""How far a process has read into a file, from Linux's ``/proc`` (for the progress bar).

The readers need not report anything: the offset of the file descriptor that this process,
or one of its worker processes, holds on the file is its progress. Where ``/proc`` is not
there (not Linux), nothing is known and the bar shows files only.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

__all__ = ["family", "read_position"]


def family(pid: int | None = None) -> list[int]:
    """This process and its children (worker processes)."""
    pid = os.getpid() if pid is None else pid
    found = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                found += [int(child) for child in fh.read().split()]
    except OSError:
        pass
    return found


def read_position(path: str, pids: Iterable[int]) -> int | None:
    """The largest offset at which any of ``pids`` has ``path`` open, or ``None``."""
    target = os.path.realpath(path)
    best: int | None = None
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") != target:
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}") as fh:
                    pos = int(fh.readline().split()[1])  # "pos:\t1234"
            except (OSError, ValueError, IndexError):
                continue
            best = pos if best is None else max(best, pos)
    return best
