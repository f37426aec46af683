"""One writer class per format: rows (dicts keyed by column name) to a text stream.

Streaming writers (TSV, CSV, JSONL) write the header at once and each ``add(rows)`` as it
comes, flushed; the others (JSON, Markdown, the terminal table) write on ``close()``.
A row may hold any subset of the columns; an absent key or ``None`` is a missing value.
"""

from __future__ import annotations

import csv
from typing import IO, Any, ClassVar

from .._text import one_line, printable
from ._columns import BY_NAME
from ._errors import OutputError
from ._formats import FORMATS
from ._values import cell_text, json_object, table_text


class Writer:
    """Rows in one format to ``stream``; ``add(rows)`` then ``close()`` once. This base
    collects the rows and writes them all on ``close()`` (:meth:`_write`)."""

    fmt: ClassVar[str]

    def __init__(
        self, stream: IO[str], columns: list[str], *, color: bool = False, hide_empty: bool = True
    ):
        unknown = [c for c in columns if c not in BY_NAME]
        if unknown:
            raise OutputError(f"unknown column(s): {', '.join(map(ascii, unknown))}")
        self.stream, self.columns = stream, list(columns)
        self.color, self.hide_empty = color, hide_empty
        self.rows: list[dict[str, Any]] = []

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend(rows)

    def close(self) -> None:
        self._write()
        self.stream.flush()

    def _write(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()


class _Streaming(Writer):
    """Writes the header at once and each ``add(rows)`` as it comes, flushed."""

    def __init__(self, stream: IO[str], columns: list[str], **kwargs: Any):
        super().__init__(stream, columns, **kwargs)
        self._header()
        self.stream.flush()

    def _header(self) -> None:
        pass

    def _row(self, row: dict[str, Any]) -> None:
        raise NotImplementedError

    def add(self, rows: list[dict[str, Any]]) -> None:
        for row in rows:
            self._row(row)
        self.stream.flush()

    def _write(self) -> None:
        pass  # written as they came


class TsvWriter(_Streaming):
    """BIDS-style TSV: no quoting, ``n/a`` for a missing value and for NaN."""

    fmt = "tsv"

    def _line(self, cells: list[str]) -> None:
        self.stream.write("\t".join(one_line(c) for c in cells) + "\n")

    def _header(self) -> None:
        self._line(self.columns)

    def _row(self, row: dict[str, Any]) -> None:
        self._line([cell_text(row.get(c), missing="n/a", nan="n/a") for c in self.columns])


class CsvWriter(_Streaming):
    """RFC 4180-style CSV: an empty cell for a missing value, ``nan`` for NaN (pandas reads
    both back as NaN)."""

    fmt = "csv"

    def __init__(self, stream: IO[str], columns: list[str], **kwargs: Any):
        self._csv = csv.writer(stream, lineterminator="\n")
        super().__init__(stream, columns, **kwargs)

    def _header(self) -> None:
        self._csv.writerow(self.columns)

    def _row(self, row: dict[str, Any]) -> None:
        self._csv.writerow([cell_text(row.get(c), missing="", nan="nan") for c in self.columns])


class JsonlWriter(_Streaming):
    """One strict JSON object per line (``null`` for missing, NaN and +-inf)."""

    fmt = "jsonl"

    def _row(self, row: dict[str, Any]) -> None:
        self.stream.write(json_object(row, self.columns) + "\n")


class JsonWriter(Writer):
    """A strict JSON array of objects, one per line."""

    fmt = "json"

    def _write(self) -> None:
        if not self.rows:
            self.stream.write("[]\n")
            return
        objects = (" " + json_object(row, self.columns) for row in self.rows)
        self.stream.write("[\n" + ",\n".join(objects) + "\n]\n")


class MarkdownWriter(Writer):
    """A Markdown (GFM) table; numbers in full precision, ``|`` escaped."""

    fmt = "markdown"

    def _write(self) -> None:
        def line(cells: list[str]) -> str:
            return "| " + " | ".join(one_line(c).replace("|", "\\|") for c in cells) + " |\n"

        self.stream.write(line(self.columns))
        self.stream.write("|" + "|".join("---" for _ in self.columns) + "|\n")
        for row in self.rows:
            self.stream.write(
                line([cell_text(row.get(c), missing="", nan="nan") for c in self.columns])
            )


class TableWriter(Writer):
    """A rich table for a person: scores may be rounded but are never cut short; columns
    empty in every row are left out (unless ``hide_empty=False``); error and failed rows
    are red when ``color``."""

    fmt = "table"
    _WHOLE = frozenset({"score", "index", "status", "check", "axis", "shape", "dtype"})

    def _write(self) -> None:
        from rich.console import Console
        from rich.table import Table
        from rich.text import Text

        # a cell is text, never markup ('[/]' in a file name), and shown escaped (a name can
        # hold a terminal's control sequences)
        texts = [[printable(table_text(row.get(c))) for c in self.columns] for row in self.rows]
        every = not self.hide_empty or not self.rows
        shown = [i for i in range(len(self.columns)) if every or any(t[i] for t in texts)]
        table = Table(show_edge=False, header_style="bold")
        for i in shown:
            name = self.columns[i]
            whole = name in self._WHOLE  # never cut short; long paths and errors fold
            width = max([len(name)] + [len(t[i]) for t in texts]) if whole else None
            justify = "right" if BY_NAME[name].kind in ("number", "integer") else "left"
            table.add_column(name, justify=justify, overflow="fold", no_wrap=whole, min_width=width)
        for row, text in zip(self.rows, texts, strict=True):
            bad = row.get("status") == "error" or row.get("check") == "fail"
            table.add_row(*(Text(text[i]) for i in shown), style="red" if bad else None)
        # colour only on a terminal; NO_COLOR still wins there, and FORCE_COLOR never puts
        # escape codes into a pipe or a file
        console = Console(
            file=self.stream,
            force_terminal=self.color,
            no_color=None if self.color else True,
            width=None if self.color else 200,
            soft_wrap=not self.color,
        )
        console.print(table)


WRITERS: dict[str, type[Writer]] = {
    cls.fmt: cls
    for cls in (TableWriter, TsvWriter, CsvWriter, JsonWriter, JsonlWriter, MarkdownWriter)
}
assert tuple(WRITERS) == FORMATS


def make_writer(
    fmt: str, stream: IO[str], columns: list[str], *, color: bool = False, hide_empty: bool = True
) -> Writer:
    """A writer of ``fmt`` (one of :data:`FORMATS`) onto ``stream`` for ``columns`` in that
    order; a streaming format writes its header now. ``color`` colours error and failed
    rows, and ``hide_empty`` leaves out columns empty in every row (pass False when the user
    chose the columns): the terminal table only."""
    cls = WRITERS.get(fmt)
    if cls is None:
        raise OutputError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return cls(stream, columns, color=color, hide_empty=hide_empty)
