"""smoothcli's warning class, and warnings recorded per thread, in a module that imports
nothing heavy."""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any


class SmoothcliWarning(UserWarning):
    """A smoothcli notice, such as a fall-back to whole-array evaluation."""


#: the list the warnings of this context go to, if any: a thread's own, or the one of the
#: thread that started it in a copy of its context (a reader thread, see ``_prefetch``)
_into: ContextVar[list | None] = ContextVar("smoothcli_warnings_into", default=None)
_lock = threading.Lock()
_depth = 0  # recordings open, in every thread
_saved: Any = None  # the warnings module's state before the first one opened
_shown: Any = None  # and its showwarning then
_filters: list = []  # and its filters then


def _show(message: Any, category: Any, filename: str, lineno: int, file: Any = None,
          line: Any = None) -> None:  # fmt: skip
    into = _into.get()
    if into is not None:
        into.append(warnings.WarningMessage(message, category, filename, lineno, file, line))
        return
    action = _action(str(message), category, filename, lineno)
    if action == "error":
        raise message if isinstance(message, Warning) else category(message)
    if action != "ignore":
        _shown(message, category, filename, lineno, file, line)  # as Python would


def _action(text: str, category: type, filename: str, lineno: int) -> str:
    """What the filters before the first recording do with a warning raised in a thread that
    records nothing (a ResourceWarning, ignored by default, stays ignored): its module is
    told from its file's name, as ``warnings`` does when it has no module name. ("once" and
    "module" show a warning each time.)"""
    module = os.path.splitext(os.path.basename(filename))[0]
    for action, msg, cat, mod, line in _filters:
        if (
            (msg is None or msg.match(text))
            and issubclass(category, cat)
            and (mod is None or mod.match(module))
            and (line == 0 or lineno == line)
        ):
            return action
    return warnings.defaultaction


@contextmanager
def recorded() -> Iterator[list]:
    """Every warning this thread raises inside the block, in a list, each one (no "once"
    rule drops a repeat). Unlike ``warnings.catch_warnings``, which swaps the module's state
    for every thread, blocks in several threads at once each get their own warnings; the
    module's state is set when the first block opens and put back when the last one closes.
    A thread started inside the block records into the same list if it runs in a copy of
    the block's context (``contextvars.copy_context().run``)."""
    global _depth, _saved, _shown, _filters
    with _lock:
        if _depth == 0:
            _filters = list(warnings.filters)
            _saved = warnings.catch_warnings()
            _saved.__enter__()
            warnings.simplefilter("always")
            _shown, warnings.showwarning = warnings.showwarning, _show
        _depth += 1
    into: list = []
    token = _into.set(into)
    try:
        yield into
    finally:
        _into.reset(token)
        with _lock:
            _depth -= 1
            if _depth == 0:
                _saved.__exit__(None, None, None)
