"""CSV and TSV tables: rows are time, columns are signals, values float64.

The text is read in pieces of whole lines (a file or a stream, in one pass), each parsed by
pandas, so memory stays bounded: the numbers stay in memory up to :data:`IN_MEMORY_BYTES`, and
are spooled to an anonymous temporary file beyond (the engine knows the table's shape before it
computes). Every problem is an :class:`InputError` found while reading: NUL bytes ("binary
data, not a text table", in the first piece, so ``/dev/zero`` fails at once), a line longer
than :data:`MAX_LINE_BYTES`, text that is not UTF-8, a row with too many fields, a cell that is
not a number (named by its line in the file and its column).

A UTF-8 byte order mark is skipped. The first non-blank line is a header unless every cell
in it is a number; pandas' default names ``0,1,2,...`` (with or without a leading empty cell)
are a header too. A leading unnamed column holding 0..N-1 (pandas' index, written by
``DataFrame.to_csv()``) is dropped, with a note.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .._text import error_line, excerpt
from ._base import read_rows
from ._errors import InputError
from ._gzip import InputBytes
from ._loaded import Loaded
from ._source import ArraySource, Source

NA_VALUES = ["n/a", "NA", "N/A", "nan", "NaN", ""]
#: bytes of text read at a time (whole lines of it are parsed together)
PIECE_BYTES = 4 << 20
#: the longest line buffered; a longer one is not a table
MAX_LINE_BYTES = 16 << 20
#: parsed values kept in memory; beyond this they are spooled to a temporary file
IN_MEMORY_BYTES = 64 << 20
BOM = b"\xef\xbb\xbf"
INDEX_NOTE = "dropped a leading unnamed column holding 0..N-1 (a pandas index)"

# what pandas' C parser reads as a float (cells are stripped first)
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity)", re.IGNORECASE)
_BOOL = {"True", "False", "TRUE", "FALSE", "true", "false"}
#: what a blank line holds, if anything
_BLANK = b" \t\r\n"


def _is_number(token: str) -> bool:
    """Whether pandas reads the cell as a number or a missing value. Cells are read with
    ``skipinitialspace``, so leading spaces go before the test for a missing value (a cell of
    spaces is empty: missing); a number may have spaces on either side."""
    bare = token.lstrip(" ")
    return bare in NA_VALUES or bare in _BOOL or _NUMBER.fullmatch(token.strip()) is not None


def _spans_lines(text: str, sep: str) -> bool:
    """Whether a line ends inside a quoted cell (one that goes on on the next line)."""
    try:
        next(csv.reader([text], delimiter=sep, strict=True))
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def _quoted_newline(line: int) -> InputError:
    return InputError(f"a quoted cell spans lines (line {line}); smoothcli reads one row a line")


def _is_default_names(tokens: list[str]) -> bool:
    """pandas' default column names ``0,1,2,...``, optionally after an empty index cell."""
    tokens = [t.strip() for t in tokens]
    if len(tokens) > 1 and tokens[0] == "":
        tokens = tokens[1:]
    return tokens == [str(i) for i in range(len(tokens))]


def _pieces(fh: Any) -> Iterator[tuple[int, bytes]]:
    """``(number of its first line, bytes)`` for consecutive pieces of whole lines."""
    line, rest, first = 1, b"", True
    while data := fh.read(PIECE_BYTES):
        if first:
            data, first = data.removeprefix(BOM), False
        if b"\0" in data:
            raise InputError("binary data, not a text table")
        data = rest + data
        cut = data.rfind(b"\n") + 1  # 0 without one: all of it waits for the next read
        piece, rest = data[:cut], data[cut:]
        if piece:
            yield line, piece
            line += piece.count(b"\n")
        if len(rest) > MAX_LINE_BYTES:
            raise InputError(f"line {line} is longer than {MAX_LINE_BYTES >> 20} MB: not a table")
    if rest:
        yield line, rest + b"\n"


def _decode(raw: bytes, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = line + raw[: exc.start].count(b"\n")
        raise InputError(f"line {at} is not UTF-8 text") from None


def _lines(piece: bytes, first: int, sep: str) -> Iterator[tuple[int, list[str]]]:
    """The non-blank lines of a piece as ``(line number, cells)``."""
    for i, raw in enumerate(piece.split(b"\n")):
        text = _decode(raw, first + i).rstrip("\r")
        if text.strip():
            yield first + i, next(csv.reader([text], delimiter=sep))


def _lines_counting(
    piece: bytes, char: str, keep: Callable[[np.ndarray], np.ndarray]
) -> Iterator[tuple[int, str]]:
    """``(index, text)`` of the lines of ``piece`` whose count of ``char`` passes ``keep``
    (counted with NumPy, so that only those few lines are decoded and parsed again)."""
    raw = np.frombuffer(piece, np.uint8)
    ends = np.flatnonzero(raw == ord("\n"))
    if not raw.size or raw[-1] != ord("\n"):
        ends = np.append(ends, raw.size)
    starts = np.concatenate(([0], ends[:-1] + 1))
    at = np.flatnonzero(raw == ord(char))
    for i in np.flatnonzero(keep(np.searchsorted(at, ends) - np.searchsorted(at, starts))):
        yield int(i), piece[starts[i] : ends[i]].decode("utf-8", "replace").rstrip("\r")


class _Parser:
    """Turns pieces of text into float64 rows, checking every cell."""

    def __init__(self, sep: str) -> None:
        self.sep = sep
        self.names: list[str] | None = None
        self.header = False
        #: blank lines at the end of what was parsed so far (one-column tables): missing
        #: values if a row follows them, nothing if the file ends
        self.pending = 0

    def start(self, piece: bytes, first: int) -> tuple[bytes, int] | None:
        """Find the header in the first piece that has a non-blank line; return the rest of the
        piece to parse as data (and its first line number), or ``None`` if the piece is blank."""
        for i, raw in enumerate(piece.split(b"\n")):
            text = _decode(raw, first + i).rstrip("\r")
            if not text.strip():
                continue
            if '"' in text and _spans_lines(text, self.sep):
                raise _quoted_newline(first + i)
            cells = next(csv.reader([text], delimiter=self.sep))
            self.header = not all(_is_number(c) for c in cells) or _is_default_names(cells)
            if self.header:
                self.names = [c if c.strip() else f"Unnamed: {j}" for j, c in enumerate(cells)]
                return piece.split(b"\n", i + 1)[-1], first + i + 1
            self.names = [str(j) for j in range(len(cells))]
            return piece.split(b"\n", i)[-1], first + i
        return None

    def parse(self, piece: bytes, first: int) -> np.ndarray:
        """The rows of a piece of whole lines. A blank line is a row of empty cells, so of missing
        values (NaN), as an empty cell is: skipping it would make the samples on either side
        neighbours in time. Only the blank lines at the end of the file are not rows."""
        assert self.names is not None
        last = len(piece.rstrip(_BLANK))  # just after the last non-blank character
        if not last:
            self.pending += piece.count(b"\n")
            return np.empty((0, len(self.names)))
        end = piece.find(b"\n", last)  # the end of that line: its spaces are its cells
        end = len(piece) if end < 0 else end
        lead, self.pending = self.pending, piece[end + 1 :].count(b"\n")
        values = self._parse(piece[:end] + b"\n", first)
        if lead:
            values = np.concatenate([np.full((lead, len(self.names)), np.nan), values])
        return values

    def _parse(self, piece: bytes, first: int) -> np.ndarray:
        import pandas as pd

        assert self.names is not None
        ncols = len(self.names)
        if b'"' in piece:
            self._check_quotes(piece, first)
        try:
            frame = pd.read_csv(
                io.BytesIO(piece),
                sep=self.sep,
                header=None,
                names=list(range(ncols)),
                index_col=False,
                na_values=NA_VALUES,
                keep_default_na=False,
                encoding="utf-8",
                skip_blank_lines=False,
                skipinitialspace=True,  # a cell of spaces is empty: a missing value
            )
        except UnicodeDecodeError:
            _decode(piece, first)  # names the line
            raise InputError(f"the table is not UTF-8 text (near line {first})") from None
        except pd.errors.EmptyDataError:
            return np.empty((0, ncols))
        except (pd.errors.ParserError, ValueError) as exc:
            for line, cells in _lines(piece, first, self.sep):
                if len(cells) > ncols:
                    raise InputError(
                        f"line {line} has {len(cells)} fields, but the table has {ncols} columns"
                    ) from None
            text = error_line(exc)
            raise InputError(f"the table cannot be parsed near line {first} ({text})") from None
        if frame.shape[0] == 0:  # blank lines only
            return np.empty((0, ncols))
        if ncols > 1:
            self._check_short_rows(piece, first, ncols)
        for j in range(ncols):
            col = frame[j]
            if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
                raise self._bad_cell(piece, first, j)
        return np.ascontiguousarray(frame.to_numpy(dtype=np.float64))

    def _check_quotes(self, piece: bytes, first: int) -> None:
        """A quoted cell with a newline in it is an error: pandas would read it as one
        cell, while line numbers and the check for short rows count lines. Only lines with an
        odd number of quotes (counted with NumPy) can end inside one."""
        for i, text in _lines_counting(piece, '"', lambda count: count % 2 == 1):
            if _spans_lines(text, self.sep):
                raise _quoted_newline(first + i)

    def _check_short_rows(self, piece: bytes, first: int, ncols: int) -> None:
        """No non-blank line may have fewer fields than the table has columns. pandas fills
        the missing cells with NaN, so a file cut in the middle of a line would be read as
        missing values, not as the truncated file it is. Only lines with too few separators
        (counted with NumPy) are parsed again, to tell a short row from a blank line."""
        for i, text in _lines_counting(piece, self.sep, lambda count: count < ncols - 1):
            fields = len(next(csv.reader([text], delimiter=self.sep))) if text.strip() else ncols
            if fields < ncols:
                noun = "field" if fields == 1 else "fields"
                raise InputError(
                    f"line {first + i} has {fields} {noun}, but the table has {ncols} "
                    "columns (is the file truncated?)"
                )

    def _bad_cell(self, piece: bytes, first: int, j: int) -> InputError:
        assert self.names is not None
        name = self.names[j]
        for line, cells in _lines(piece, first, self.sep):
            if j < len(cells) and not _is_number(cells[j]):
                return InputError(
                    f"line {line}, column {excerpt(name)}: {excerpt(cells[j])} is not a "
                    f"number, so column {excerpt(name)} is not numeric"
                )
        return InputError(f"column {excerpt(name)} is not numeric (near line {first})")


class SpooledTable(Source):
    """A float64 table spooled to an anonymous temporary file, read back in row blocks."""

    order = "C"
    chunk_axis = 0
    dtype = np.dtype(np.float64)

    def __init__(self, spool: Any, rows: int, width: int, drop_first: bool) -> None:
        self._spool, self._width, self._drop = spool, width, drop_first
        self.shape = (rows, width - drop_first)

    def __del__(self) -> None:
        self._spool.close()

    def chunks(self, rows: int) -> Iterator[np.ndarray]:
        self._spool.seek(0)
        blocks = read_rows(
            self._spool,
            self.shape[0],
            max(int(rows), 1),
            self._width * 8,
            short=lambda _: InputError("the spooled table is shorter than it was written"),
        )
        for _, k, raw in blocks:
            block = raw.view(np.float64).reshape(k, self._width)
            yield np.ascontiguousarray(block[:, 1:]) if self._drop else block


def open_table(where: Any, *, sep: str) -> Loaded:
    """A CSV (``sep=","``) or TSV (``sep="\\t"``) table from a path, a stream or bytes,
    gzip'd or not (``.csv.gz``, ``.tsv.gz``: told by gzip's magic, not by the name)."""
    import tempfile

    parser = _Parser(sep)
    rows = 0
    index = True  # does column 0 hold 0, 1, 2, ... so far?
    text = InputBytes(where, "the table")
    spool = tempfile.SpooledTemporaryFile(IN_MEMORY_BYTES, prefix="smoothcli-table-")  # noqa: SIM115
    try:
        with text.errors(), text.open() as fh:
            for first, piece in _pieces(fh):
                if parser.names is None:
                    started = parser.start(piece, first)
                    if started is None:
                        continue
                    piece, first = started
                values = parser.parse(piece, first)
                k = values.shape[0]
                if k:
                    index = index and np.array_equal(values[:, 0], np.arange(rows, rows + k))
                    rows += k
                    spool.write(memoryview(values).cast("B"))
        if parser.names is None:
            raise InputError("the table is empty")
        if rows == 0:
            raise InputError("the table has a header but no rows")
    except BaseException:
        spool.close()
        raise
    names = parser.names
    drop = parser.header and index and len(names) > 1 and names[0] in ("Unnamed: 0", "")
    notes = [INDEX_NOTE] if drop else []
    labels = {1: names[1:] if drop else list(names)}
    if spool.tell() > IN_MEMORY_BYTES:  # rolled over to a temporary file
        spool.flush()
        source: Any = SpooledTable(spool, rows, len(names), drop)
    else:
        X = np.empty((rows, len(names)))
        spool.seek(0)
        spool.readinto(memoryview(X).cast("B"))
        spool.close()
        source = ArraySource(np.ascontiguousarray(X[:, 1:]) if drop else X)
    return Loaded(source, 0, "table", labels=labels, notes=notes)


def open_csv(where: Any, *, mask: Any = None) -> list[Loaded]:
    return [open_table(where, sep=",")]


def open_tsv(where: Any, *, mask: Any = None) -> list[Loaded]:
    return [open_table(where, sep="\t")]
