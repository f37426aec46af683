"""One-line text, for table cells and error messages. Imports nothing."""

from __future__ import annotations

#: characters of an input's own text (a cell, a column name) a message quotes, at most
EXCERPT = 24


def excerpt(text: str, width: int = EXCERPT) -> str:
    """A short, escaped quote of text from an input, for a message: at most ``width``
    characters, non-ASCII and control characters escaped (``ascii``), ``...`` where it was
    cut. An input can be a link to anything; a message must not print a file's contents."""
    cut = text[:width]
    return ascii(cut) + ("..." if len(text) > width else "")


def printable(text: str) -> str:
    """``text`` safe to show on a terminal: each character that is not printable (control
    characters such as ESC, which a file name can hold, and invisible format characters
    such as a right-to-left override) written as its Python escape, as ``ls`` and git
    quote such names; a line of ordinary text comes back as it was."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


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
