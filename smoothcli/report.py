"""Rows to output: table, TSV, CSV, JSON, JSONL or Markdown; files are written atomically.

Streaming formats (TSV, CSV, JSONL) write each input's rows as it finishes; the others
collect rows and write once. Nothing here computes a score.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

FORMATS = ("table", "tsv", "csv", "json", "jsonl", "markdown")
_EXTENSIONS = {
    ".tsv": "tsv",
    ".tab": "tsv",
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "table",
}


def format_for_path(path: str) -> str | None:
    return _EXTENSIONS.get(Path(path).suffix.lower())


def _text(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return _shortest(value)
    return " ".join(str(value).split()) if isinstance(value, str) else str(value)


def _shortest(value: float) -> str:
    """The shortest text that reads back as the same float32 (scores are float32)."""
    import numpy as np

    f32 = np.float32(value)
    return str(f32) if float(f32) == value or not math.isfinite(value) else repr(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else float(_shortest(value))
    return value


class Writer:
    """Writes rows in one format to a text stream."""

    def __init__(self, fmt: str, stream: IO[str], columns: list[str], *, color: bool = False):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        self.fmt, self.stream, self.columns, self.color = fmt, stream, columns, color
        self.held: list[dict] = []
        self._csv = None
        if fmt in ("tsv", "csv"):
            sep = "\t" if fmt == "tsv" else ","
            quoting = csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL
            self._csv = csv.writer(
                stream, delimiter=sep, quoting=quoting, escapechar="\\", lineterminator="\n"
            )
            self._csv.writerow(columns)

    def add(self, rows: list[dict]) -> None:
        if self._csv is not None:
            for row in rows:
                self._csv.writerow([_text(row.get(c, "")) for c in self.columns])
        elif self.fmt == "jsonl":
            for row in rows:
                obj = {c: _json_value(row.get(c, "")) for c in self.columns}
                self.stream.write(json.dumps(obj, allow_nan=False) + "\n")
        else:
            self.held.extend(rows)
            return
        self.stream.flush()

    def close(self) -> None:
        if self.fmt == "json":
            objs = [{c: _json_value(r.get(c, "")) for c in self.columns} for r in self.held]
            self.stream.write(json.dumps(objs, indent=1, allow_nan=False) + "\n")
        elif self.fmt == "markdown":
            self.stream.write(self._markdown())
        elif self.fmt == "table":
            self._rich_table()
        self.stream.flush()

    def _markdown(self) -> str:
        def cell(v: Any) -> str:
            return _text(v).replace("|", "\\|")

        out = io.StringIO()
        out.write("| " + " | ".join(self.columns) + " |\n")
        out.write("|" + "|".join("---" for _ in self.columns) + "|\n")
        for row in self.held:
            out.write("| " + " | ".join(cell(row.get(c, "")) for c in self.columns) + " |\n")
        return out.getvalue()

    def _rich_table(self) -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table(show_edge=False, header_style="bold")
        texts = [[_text(row.get(c, "")) for c in self.columns] for row in self.held]
        for i, c in enumerate(self.columns):
            # numbers are never cut short; long paths and errors fold onto more lines
            whole = c in ("score", "index", "status", "check", "axis", "shape")
            width = max([len(c)] + [len(t[i]) for t in texts]) if whole else None
            table.add_column(
                c,
                justify="right" if c in ("score", "axis") else "left",
                overflow="fold",
                no_wrap=whole,
                min_width=width,
            )
        for row, text in zip(self.held, texts, strict=True):
            style = "red" if row.get("status") == "error" or row.get("check") == "fail" else None
            table.add_row(*text, style=style)
        # colour only on a terminal; NO_COLOR still wins there, and FORCE_COLOR never
        # puts escape codes into a pipe or a file
        console = Console(
            file=self.stream,
            force_terminal=self.color,
            no_color=None if self.color else True,
            width=None if self.color else 200,
            soft_wrap=not self.color,
        )
        console.print(table)


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[IO[str]]:
    """A text stream that becomes ``path`` only when the block ends without an error: a
    temporary file in the same folder, then a rename. An interrupted run leaves any existing
    file as it was."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
