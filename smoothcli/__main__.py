"""``python -m smoothcli`` and the ``smoothcli`` script: start the CLI.

Ctrl-C exits 130 and SIGTERM 143 at any moment, start-up and shut-down included; a closed
pipe (``| head``) exits 141 without a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys


def _flush() -> int | None:
    """Flush stdout and stderr; 141 if stdout's reader has gone."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return 141
    except (OSError, ValueError):
        pass
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    return None


def _release() -> None:
    """Free what worker pools leave (their queues' semaphores) as the interpreter's exit
    would: this process leaves with ``os._exit``, and multiprocessing's resource tracker
    warns of "leaked semaphore objects" that nobody freed."""
    if "multiprocessing" in sys.modules:
        import gc

        with contextlib.suppress(Exception):
            gc.collect()
            # what multiprocessing's own atexit hook runs: each queue's and lock's finalizer
            # (which unlinks its semaphore), and the end of any process still running
            from multiprocessing import util

            util._exit_function()


def main() -> None:
    from ._signals import exit_status, message, signal_of, take_over

    take_over()  # before anything slow is imported
    from .status import ExitStatus

    code: int
    try:
        from .cli import app

        app()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if exc.code is not None and not isinstance(exc.code, int):
            sys.stderr.write(f"{exc.code}\n")
    except KeyboardInterrupt as exc:
        sys.stderr.write(message(signal_of(exc)))
        code = exit_status(exc)
    except BrokenPipeError:
        code = ExitStatus.BROKEN_PIPE
    _release()
    # Leave without the interpreter's shut-down: it restores the default signal handlers
    # (a Ctrl-C then would kill the process, not exit 130) and tears JAX down slowly.
    broken = _flush()
    os._exit(broken if broken is not None and code == 0 else int(code))


if __name__ == "__main__":
    main()
