"""Ctrl-C and SIGTERM at any moment: exit 130 or 143, never a traceback or an abort.

While smoothcli starts (imports, JAX set-up) an interruption ends the process at once with
``os._exit``: raising ``KeyboardInterrupt`` inside an import can leave a native library half
initialised (seen as exit -6, SIGABRT). Once the command has work to clean up (a temporary
output file), :func:`raise_on_signal` turns both signals into :class:`Interrupted`, a
``KeyboardInterrupt`` that unwinds through every ``with`` block and carries its exit status.
"""

from __future__ import annotations

# only what the console script has loaded already: this module is imported first thing, so
# that a Ctrl-C during the imports that follow ends the process cleanly
import os
import signal
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
#: set by :func:`take_over`: only the smoothcli process itself has its handlers changed, not
#: a program (or a test runner) that calls the CLI in-process
_managed = False
#: the thread that takes the signals (:func:`take_over` runs in it), as ``_thread`` names it
_main_thread = 0


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM (``signum``) arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_of(exc: KeyboardInterrupt) -> int:
    """The signal behind an interruption: SIGINT unless it was an :class:`Interrupted`."""
    return getattr(exc, "signum", signal.SIGINT)


def exit_status(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C, 143 for SIGTERM: 128 + the signal number."""
    return 128 + signal_of(exc)


def message(signum: int) -> str:
    """What to say on stderr: on a terminal, first leave the line the ``^C`` is on."""
    word = "terminated" if signum == signal.SIGTERM else "interrupted"
    lead = "\n" if sys.stderr.isatty() else ""
    return f"{lead}smoothcli: {word}\n"


def _exit_now(signum: int, frame: Any) -> None:
    try:
        sys.stderr.write(message(signum))
        sys.stderr.flush()
    finally:
        os._exit(128 + signum)


#: a signal :func:`_raise` raised and nobody has caught yet: Python ignores an exception
#: raised in a garbage-collector callback or a ``__del__`` (JAX registers a gc callback), so a
#: signal that lands there would be lost; :func:`check` raises it again
_pending: list[int] = []


def _raise(signum: int, frame: Any) -> None:
    _pending.append(signum)
    raise Interrupted(signum)


def check() -> None:
    """Raise :class:`Interrupted` again if a signal was raised but swallowed (see
    :data:`_pending`): called before work is committed (an output file linked into place)."""
    if _pending:
        signum = _pending[0]
        _pending.clear()  # raised here: not to be sent again (see _unraisable)
        raise Interrupted(signum)


def caught() -> None:
    """The interruption has been caught and is being handled: nothing is pending."""
    _pending.clear()


def _install(handler: Any) -> None:
    for signum in _SIGNALS:
        try:
            signal.signal(signum, handler)
        except ValueError:  # not the main thread (an embedding program): leave them be
            return


def _unraisable(info: Any) -> None:
    """Python's report of an exception it had to ignore (raised in a gc callback or a
    ``__del__``): for an :class:`Interrupted`, silent, and the signal is sent again from
    another thread, so that it lands in the main thread's own code, or breaks a read that
    blocks (stdin): raised here, it would be ignored too."""
    if isinstance(info.exc_value, Interrupted):
        import _thread

        _thread.start_new_thread(_again, (info.exc_value.signum,))
        return
    sys.__unraisablehook__(info)


def _again(signum: int) -> None:
    """Send ``signum`` again to the main thread, unless it has been raised (:func:`check`) or
    handled since. It waits a moment first: the main thread is still in the hook that started
    this thread, and a signal handled there would be ignored again."""
    import time

    time.sleep(0.02)
    if not _pending:
        return
    if hasattr(signal, "pthread_kill"):  # to the main thread: it breaks a read that blocks
        signal.pthread_kill(_main_thread, signum)
    else:  # Windows (os.kill would end the process): handled at the main thread's next step
        signal.raise_signal(signum)


def take_over(early: list[int] | None = None) -> None:
    """Called first thing when smoothcli is the program: this process's signals are ours,
    and from now on SIGINT/SIGTERM end it at once (as does one in ``early``, noted before
    this module was loaded)."""
    import _thread

    global _managed, _main_thread
    _managed, _main_thread = True, _thread.get_ident()
    sys.unraisablehook = _unraisable
    _install(_exit_now)
    if early:
        _exit_now(early[0], None)


def exit_at_once() -> None:
    """From now on, SIGINT/SIGTERM end the process at once (nothing to clean up)."""
    if _managed:
        _install(_exit_now)


def raise_on_signal() -> None:
    """From now on, SIGINT/SIGTERM raise :class:`Interrupted` (work with clean-up)."""
    if _managed:
        _install(_raise)


class deferred:
    """While the block runs (an import of JAX, after the work has begun), SIGINT/SIGTERM are
    only noted; :class:`Interrupted` is raised when it ends. Raising inside a native
    library's import aborts the process (a C++ exception through nanobind: exit -6)."""

    def __enter__(self) -> None:
        self._active = _managed and signal.getsignal(signal.SIGINT) is _raise
        self._pending: list[int] = []
        if self._active:
            _install(lambda signum, frame: self._pending.append(signum))

    def __exit__(self, *exc: object) -> None:
        if not self._active:
            return
        _install(_raise)
        if self._pending:
            raise Interrupted(self._pending[0])
