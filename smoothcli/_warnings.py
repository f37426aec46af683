"""smoothcli's warning class, and warnings recorded per thread, in a module that imports
nothing heavy."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class SmoothcliWarning(UserWarning):
    """A smoothcli notice, such as a fall-back to whole-array evaluation."""


_local = threading.local()  # ``into``: the list this thread's warnings go to, if any
_lock = threading.Lock()
_depth = 0  # recordings open, in every thread
_saved: Any = None  # the warnings module's state before the first one opened
_shown: Any = None  # and its showwarning then
_filters: list = []  # and its filters then


def _show(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
          line: Any = None) -> None:  # fmt: skip
    into = getattr(_local, "into", None)
    if into is not None:
        into.append(warnings.WarningMessage(message, category, filename, lineno, file, line))
    elif not _ignored(str(message), category, filename, lineno):
        _shown(message, category, filename, lineno, file, line)  # as Python would


def _ignored(text: str, category: type, filename: str, lineno: int) -> bool:
    """Whether the filters before the first recording ignore a warning (one raised in a
    thread that records nothing, such as a ResourceWarning, ignored by default): its module
    is told from its file's name, as ``warnings`` does when it has no module name."""
    module = os.path.splitext(os.path.basename(filename))[0]
    for action, msg, cat, mod, line in _filters:
        if (
            (msg is None or msg.match(text))
            and issubclass(category, cat)
            and (mod is None or mod.match(module))
            and (line == 0 or lineno == line)
        ):
            return action == "ignore"
    return warnings.defaultaction == "ignore"


@contextmanager
def recorded(into: list | None = None) -> Iterator[list]:
    """Every warning this thread raises inside the block, in a list (``into``, or a new
    one), each one (no "once" rule drops a repeat). Unlike ``warnings.catch_warnings``,
    which swaps the module's state for every thread, blocks in several threads at once each
    get their own warnings; the module's state is set when the first block opens and put
    back when the last one closes. A thread started inside the block records into the same
    list if it runs its work in ``recorded(current())``."""
    global _depth, _saved, _shown, _filters
    with _lock:
        if _depth == 0:
            _filters = list(warnings.filters)
            _saved = warnings.catch_warnings()
            _saved.__enter__()
            warnings.simplefilter("always")
            _shown, warnings.showwarning = warnings.showwarning, _show
        _depth += 1
    into = [] if into is None else into
    outer, _local.into = getattr(_local, "into", None), into
    try:
        yield into
    finally:
        _local.into = outer
        with _lock:
            _depth -= 1
            if _depth == 0:
                _saved.__exit__(None, None, None)


def current() -> list | None:
    """The list this thread's warnings are recorded into, if any (see :func:`recorded`)."""
    return getattr(_local, "into", None)
