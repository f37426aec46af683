"""The output's columns: one fixed order for every input, each described for the sidecar."""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import OutputError


@dataclass(frozen=True)
class Column:
    """One output column.

    ``kind`` says what its values are: ``text``, ``number`` (a float), ``integer``,
    ``level`` (one of ``levels``) or ``entity`` (a BIDS entity, always a string).
    """

    name: str
    description: str
    kind: str
    levels: tuple[tuple[str, str], ...] = ()


def _entity(key: str, long: str) -> Column:
    return Column(
        key,
        f"BIDS entity '{key}' ({long}) taken from the file name, as a string "
        f"(so '01' stays '01'); n/a when the name has none.",
        "entity",
    )


COLUMNS: tuple[Column, ...] = (
    Column("path", "The input, as given or found in a folder; '-' is stdin.", "text"),
    Column(
        "index",
        "Which element of a vector-valued score this row holds: a CSV/TSV column name, or "
        "an integer position (positions of a score with more than one axis are joined by "
        "commas); n/a for a single score.",
        "text",
    ),
    Column(
        "score",
        "The smoothness score: nu times the scalarised n-th backward differences. "
        "Written in full precision (the shortest text that reads back to the same value in "
        "the precision it was computed in); n/a when no score was computed.",
        "number",
    ),
    Column(
        "status",
        "Whether the input could be scored.",
        "level",
        (("ok", "the input was scored"), ("error", "the input could not be scored; see error")),
    ),
    Column(
        "check",
        "The threshold check (--fail-above/--fail-below); a NaN score always fails; n/a "
        "when no threshold was given.",
        "level",
        (("pass", "the score is within the thresholds"), ("fail", "the score is not")),
    ),
    Column("error", "Why the input could not be scored, in one line; n/a when it was.", "text"),
    Column("name", "The loss's name (--name).", "text"),
    Column("array", "The array's name inside an NPZ file; n/a for other inputs.", "text"),
    Column(
        "mask",
        "The mask the input was scored with (--mask, or the one --mask auto paired with it), "
        "as its path; n/a without a mask.",
        "text",
    ),
    Column(
        "shape",
        "The shape of the array that was differenced, sizes joined by 'x' (voxels x time "
        "for a masked image).",
        "text",
    ),
    Column("axis", "The axis the differences ran along (0-based, in that shape).", "integer"),
    Column(
        "dtype",
        "The precision the score was computed in (float32 or float64), which follows the "
        "input's data type.",
        "text",
    ),
    _entity("sub", "subject"),
    _entity("ses", "session"),
    _entity("task", "task"),
    _entity("acq", "acquisition"),
    _entity("run", "run"),
    _entity("echo", "echo"),
    _entity("space", "space"),
    _entity("desc", "description"),
)

COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}


def select_columns(spec: str | None) -> list[str]:
    """The columns to write: every column in the fixed order for ``None``, else the names in
    ``spec`` (``"score,path"``), in that order.

    Raises
    ------
    OutputError
        For an empty list, an unknown name or a name given twice.
    """
    if spec is None:
        return list(COLUMN_NAMES)
    names = [part.strip() for part in spec.split(",")]
    valid = ", ".join(COLUMN_NAMES)
    if not any(names):
        raise OutputError(f"no column named; choose from {valid}")
    seen: set[str] = set()
    for name in names:
        if name not in BY_NAME:
            shown = name if name.isprintable() else ascii(name)
            raise OutputError(f"unknown column {shown!r}; choose from {valid}")
        if name in seen:
            raise OutputError(f"column {name!r} is given twice; choose each of {valid} once")
        seen.add(name)
    return names
