"""The one exception this package raises for a bad output target or column list."""

from __future__ import annotations


class OutputError(ValueError):
    """An output that cannot be written, said in one line (the CLI makes it a usage error)."""
