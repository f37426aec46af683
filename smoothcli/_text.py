"""One-line text, for table cells and error messages. Imports nothing."""

from __future__ import annotations

__all__ = ["error_line", "one_line"]


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (tabs, newlines) made one space."""
    return " ".join(text.split())


def error_line(exc: BaseException) -> str:
    """An exception as one line: the message alone for the kinds whose messages say what
    went wrong (ValueError, TypeError, OSError), else with the exception's type."""
    if isinstance(exc, MemoryError):
        return "out of memory while reading or scoring this input"
    if isinstance(exc, OSError) and exc.strerror and exc.filename is not None:
        return one_line(f"{exc.strerror}: {exc.filename}")
    text = one_line(str(exc))
    if isinstance(exc, (ValueError, TypeError, OSError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
