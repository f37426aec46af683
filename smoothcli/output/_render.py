"""Rows as the bytes a table's writer makes of them, one input at a time (``--resume``
appends them to FILE), and the ``path`` cells read back from such bytes."""

from __future__ import annotations

import io
import json
from typing import Any

from ._values import ESCAPE_ERRORS
from ._writers import make_writer

__all__ = ["Render"]


class Render:
    """Rows to bytes through the format's own writer, so the text is a normal run's."""

    def __init__(self, fmt: str, columns: list[str]):
        self.fmt = fmt
        self._buffer = io.StringIO(newline="")
        self._writer = make_writer(fmt, self._buffer, columns)
        self.header = self._take()
        self._path_at = columns.index("path") if "path" in columns else None

    def _take(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        return text.encode("utf-8", ESCAPE_ERRORS)

    def rows(self, rows: list[dict[str, Any]]) -> bytes:
        self._writer.add(rows)
        return self._take()

    def _paths(self, data: bytes) -> list[Any]:
        """The ``path`` cell of each row in ``data`` (rows as this writer writes them)."""
        import csv

        text = data.decode("utf-8", ESCAPE_ERRORS)
        if self.fmt == "jsonl":
            return [json.loads(line).get("path") for line in text.splitlines() if line]
        sep = "\t" if self.fmt == "tsv" else ","
        quoting = csv.QUOTE_NONE if self.fmt == "tsv" else csv.QUOTE_MINIMAL
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, quoting=quoting)
        return [row[self._path_at] for row in reader if len(row) > (self._path_at or 0)]

    def names(self, data: bytes, path: str) -> bool:
        """Whether every row in ``data`` is a row of the input ``path`` (true where the
        table has no path column: the digest alone vouches for the rows then)."""
        if self._path_at is None:
            return True
        try:
            cells = self._paths(data)
            (own,) = self._paths(self.rows([{"path": path}]))
        except (ValueError, AttributeError, IndexError, RecursionError):
            return False
        return bool(cells) and all(cell == own for cell in cells)
