"""``python -m smoothcli`` and the ``smoothcli`` script: start the CLI, exit 130 on Ctrl-C."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli import app

        app()
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    main()
