"""Tables written by ``smoothcli score`` or ``smoothcli dvars`` read back as row dicts, with
the sidecar beside them (the options that made them), for the HTML report.

Numbers come back as floats (integers as ints), a missing value as ``None``, text as text:
the same rows the batch produced, so the report is one function of rows, whether they come
from a file or straight from ``score --report``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import stat
from dataclasses import dataclass, field
from typing import Any

from ..output import BY_NAME, format_for_path
from ..sources._errors import check_regular

#: the formats a table can be read back from
READABLE = ("tsv", "csv", "jsonl", "json")


class TableError(ValueError):
    """A table that cannot be read as smoothcli's: one line that says why."""


@dataclass
class ReportInput:
    """The rows of one or more tables, and what their sidecars say."""

    rows: list[dict[str, Any]]
    sources: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)  # the first sidecar's Command/Options
    #: failed runs' carpet plots by ``(path, array)``, when the rows come straight from
    #: ``dvars --report`` (a table does not hold them)
    carpets: dict[tuple, Any] = field(default_factory=dict)


def _number(text: str | None, kind: str) -> Any:
    if text is None or text in ("", "n/a"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise TableError(f"{text!r} is not a number") from None
    if kind == "integer" and math.isfinite(value) and value == int(value):
        return int(value)
    return value


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in row.items():
        column = BY_NAME.get(name)
        if column is not None and column.kind in ("number", "integer"):
            out[name] = _number(
                value if not isinstance(value, int | float) else str(value), column.kind
            )
        else:
            out[name] = None if value in ("", "n/a") else value
    return out


def _json_rows(path: str, lines: bool) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        data = [json.loads(line) for line in fh if line.strip()] if lines else json.load(fh)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise TableError("not a list of rows (JSON objects)")
    return [_typed(row) for row in data]


#: a sidecar larger than this is not one of smoothcli's (they are a few kB)
SIDECAR_BYTES = 1 << 20


def _sidecar(path: str) -> dict[str, Any]:
    """What the sidecar beside a table says of the command (``Command``, ``Options``,
    ``Date``), where there is one of smoothcli's: a regular file, not a link (a name derived
    from the table's is not followed elsewhere), small, JSON, with those keys of the right
    types. Anything else is no sidecar (the page then shows no options)."""
    side = os.path.splitext(path)[0] + ".json"
    try:
        st = os.lstat(side)
        if side == path or not stat.S_ISREG(st.st_mode) or st.st_size > SIDECAR_BYTES:
            return {}
        with open(side, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError, RecursionError):
        return {}
    if not isinstance(doc, dict):
        return {}
    kinds = {"Command": str, "Options": dict, "Date": str}
    return {k: doc[k] for k, kind in kinds.items() if isinstance(doc.get(k), kind)}


def _same_kind(rows: list[dict], table: str, kinds: dict, seen: dict) -> None:
    """Tables of one kind only (a score table beside a dvars table, or a per-frame table
    beside a summary, would be read as one and give NaN), and each input in one table."""
    from ._model import table_kind

    columns = {name for row in rows for name in row}
    try:
        kind = table_kind(columns) if rows else None
    except ValueError as exc:
        raise TableError(f"{table}: {exc}") from None
    if kind is not None:
        kinds.setdefault(kind, table)
        if len(kinds) > 1:
            first, second = list(kinds.values())[:2]
            raise TableError(
                f"{first} and {second} are tables of different kinds (score, dvars, or a "
                "--summary of either): give tables of one kind to one report"
            )
    for row in rows:
        key = (row.get("path"), row.get("array"))
        if seen.setdefault(key, table) != table:
            raise TableError(f"{key[0]} is in both {seen[key]} and {table}: one table an input")


def read_table(paths: list[str]) -> ReportInput:
    """Every row of the tables at ``paths`` (TSV, CSV, JSONL or JSON, by extension), and the
    first sidecar's command and options. :class:`TableError` names the table that fails."""
    found = ReportInput([])
    kinds: dict[tuple, str] = {}  # a table's kind -> the first table of that kind
    seen: dict[tuple, str] = {}  # an input (path, array) -> the table that has it
    for path in dict.fromkeys(paths):  # a table named twice is read once
        fmt = format_for_path(path)
        if fmt not in READABLE:
            raise TableError(
                f"{path}: not a table smoothcli reads back (.tsv, .csv, .jsonl, .json)"
            )
        try:
            check_regular(path)  # a FIFO would wait forever, /dev/zero never end
            if fmt in ("tsv", "csv"):
                with open(path, newline="", encoding="utf-8") as fh:
                    table = csv.DictReader(fh, delimiter="\t" if fmt == "tsv" else ",")
                    rows = [_typed(row) for row in table]
            else:
                rows = _json_rows(path, lines=fmt == "jsonl")
        except OSError as exc:
            raise TableError(f"{path}: {exc.strerror or exc}") from None
        except RecursionError:
            raise TableError(f"{path}: its JSON is nested too deeply for a table") from None
        except (TableError, ValueError, UnicodeDecodeError) as exc:
            raise TableError(f"{path}: {exc}") from None
        if rows and ("path" not in rows[0] or "status" not in rows[0]):
            raise TableError(f"{path}: not a smoothcli table (it has no path and status columns)")
        _same_kind(rows, path, kinds, seen)
        found.rows.extend(rows)
        found.sources.append(path)
        if not found.meta:
            found.meta = _sidecar(path)
    return found
