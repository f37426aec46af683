"""``python -m smoothcli`` and the ``smoothcli`` script: start the CLI.

Ctrl-C exits 130 and SIGTERM 143 at any moment, start-up included; a closed pipe
(``| head``) exits 141 without a traceback.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    from ._signals import exit_at_once, exit_status

    exit_at_once()  # before anything slow is imported
    from .status import ExitStatus

    try:
        from .cli import app

        app()
    except KeyboardInterrupt as exc:
        sys.stderr.write("\nsmoothcli: interrupted\n")
        sys.exit(exit_status(exc))
    except BrokenPipeError:
        # stdout's reader is gone: point stdout at /dev/null so the final flush is quiet
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(ExitStatus.BROKEN_PIPE)


if __name__ == "__main__":
    main()
