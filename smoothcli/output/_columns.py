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


def _number(name: str, description: str) -> Column:
    return Column(name, description, "number")


#: the BIDS entities a table has columns for, with their long names
_ENTITY_WORDS = {
    "sub": "subject", "ses": "session", "task": "task", "acq": "acquisition", "run": "run",
    "echo": "echo", "space": "space", "desc": "description",
}  # fmt: skip

#: the columns of ``smoothcli score``, in order
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
        "when no threshold was given. dvars: the frame's check (on std_dvars, and on fd "
        "with --fd-above); skip for the dummy volumes and the frames whose difference "
        "involves one; in a --summary row, the run's verdict.",
        "level",
        (
            ("pass", "the score is within the thresholds"),
            ("fail", "the score is not"),
            ("skip", "a dummy volume, or a difference that involves one: never counted"),
        ),
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
    Column(
        "frame",
        "The frame (0-based) a row's value belongs to, numbered as fMRIPrep's confounds are. "
        "score: for a score per frame, the frame its difference ends on (index + n; index + n - 1 "
        "with --pad-value), in a --summary row the frame of the max; dvars: the frame itself "
        "(frame 0 has no difference, so no value); n/a otherwise.",
        "integer",
    ),
    Column(
        "dummy",
        "How many dummy (non-steady-state) volumes the run starts with (--dummy-scans); "
        "score drops them before differencing, dvars keeps their values and skips them.",
        "integer",
    ),
    *(_entity(key, long) for key, long in _ENTITY_WORDS.items()),
)

_STATS = (
    _number("mean", "The mean of the input's scores (of one array), in float64; NaN if any is."),
    _number("median", "The median of the input's scores, in float64; NaN if any score is."),
    _number("max", "The largest of the input's scores (NaN if any is NaN)."),
    Column(
        "argmax",
        "Which score is the largest: its index (as the index column would give it; the "
        "first NaN if there is one).",
        "text",
    ),
    _number("min", "The smallest of the input's scores (NaN if any is NaN)."),
    Column(
        "n_fail", "How many of the input's scores failed the threshold; n/a without one.", "integer"
    ),
)

_DVARS = (
    _number(
        "dvars",
        "DVARS: the RMS over the brain's voxels of the frame's difference from the frame "
        "before, after scaling the data to a median of --intensity-normalization (nipype's "
        "'nstd', fMRIPrep's 'non-std dvars').",
    ),
    _number(
        "std_dvars",
        "Standardised DVARS: dvars over the mean of the voxels' expected difference SD "
        "(Nichols 2013; fMRIPrep's 'std_dvars'). Thresholds apply to this column.",
    ),
    _number(
        "vx_std_dvars",
        "Voxelwise standardised DVARS: the RMS of each voxel's difference over its own "
        "expected difference SD (nipype's 'vxstd').",
    ),
)
_FD = _number(
    "fd",
    "Framewise displacement (mm) of the frame from the one before, from the run's confounds "
    "table (--confounds): its framewise_displacement, or Power's FD from trans_*/rot_* "
    "(rotations in radians on a 50 mm sphere); n/a without confounds and for frame 0.",
)
_QC = (
    Column(
        "verdict",
        "The run's verdict: fail when it fails a run rule (--max-fail-fraction, "
        "--fail-mean-above), or without one when any counted frame fails; n/a without rules. "
        "The same on every row of the run.",
        "level",
        (("pass", "the run passed its rules"), ("fail", "the run failed them")),
    ),
    Column(
        "reason",
        "Why, in one line: how many frames failed, of how many counted, and which rule; n/a "
        "when nothing failed.",
        "text",
    ),
    Column(
        "confounds",
        "The confounds table FD and dummy volumes were read from (--confounds), as its path.",
        "text",
    ),
    _number(
        "threshold",
        "The std_dvars threshold the frames were checked against: --fail-above, or with "
        "'auto' the run's own 75th percentile + 1.5 IQR of its counted std_dvars.",
    ),
    _number(
        "tr", "The repetition time in seconds, from the image's header; n/a when it does not say."
    ),
)
_QC_SUMMARY = (
    _number("fd_mean", "The mean FD of the counted frames (MRIQC's IQM of this name)."),
    _number("fd_max", "The largest FD of the counted frames."),
    _number(
        "fail_fraction",
        "The fraction of the counted frames (those whose difference involves no dummy "
        "volume) that failed a frame rule.",
    ),
)

_DVARS_SUMMARY = tuple(
    Column(f"{iqm}{suffix}", text.format(col=col), kind)
    for col, iqm in (
        ("dvars", "dvars_nstd"),
        ("std_dvars", "dvars_std"),
        ("vx_std_dvars", "dvars_vstd"),
    )
    for suffix, text, kind in (
        (
            "",
            "The mean of {col} over the counted frames: those whose difference involves no "
            "dummy volume (MRIQC's IQM of this name).",
            "number",
        ),
        ("_max", "The largest {col} of the counted frames.", "number"),
        ("_max_frame", "The frame of the largest {col} of the counted frames.", "integer"),
    )
)
_DVARS_INFO = (
    Column(
        "voxels",
        "The voxels (or vertices, brainordinates, columns) DVARS was computed over.",
        "integer",
    ),
    Column(
        "dropped",
        "Voxels left out for a robust SD at most --variance-tol (nipype's remove_zerovariance).",
        "integer",
    ),
    _number(
        "median",
        "The median of the data over every voxel and frame, which the data were divided by "
        "(then multiplied by --intensity-normalization); n/a without normalisation.",
    ),
)

#: every column any table has, by name (the writers and the sidecar look them up here)
BY_NAME: dict[str, Column] = {
    c.name: c
    for c in (*COLUMNS, *_STATS, *_DVARS, _FD, *_QC, *_QC_SUMMARY, *_DVARS_SUMMARY, *_DVARS_INFO)
}


def _names(*parts: str | tuple[Column, ...]) -> tuple[str, ...]:
    """Column names, as space-separated words or a group of columns."""
    words = (p.split() if isinstance(p, str) else [c.name for c in p] for p in parts)
    found = tuple(word for part in words for word in part)
    assert all(n in BY_NAME for n in found), found
    return found


COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
_TAIL = "status check error"
_ENTITIES = tuple(c for c in COLUMNS if c.kind == "entity")
#: the tables each command writes: their columns, in order
SCORE_COLUMNS = COLUMN_NAMES
SUMMARY_COLUMNS = _names(
    "path", _STATS, "frame dummy", _TAIL, "name array mask shape axis dtype", _ENTITIES
)
DVARS_COLUMNS = _names(
    "path frame dvars std_dvars vx_std_dvars fd",
    _TAIL,
    "verdict reason array mask confounds dummy threshold",
    _DVARS_INFO,
    "tr shape dtype",
    _ENTITIES,
)
DVARS_SUMMARY_COLUMNS = _names(
    "path",
    _DVARS_SUMMARY,
    "fd_mean fd_max dummy n_fail fail_fraction",
    _TAIL,
    "reason array mask confounds threshold",
    _DVARS_INFO,
    "tr shape dtype",
    _ENTITIES,
)


def select_columns(spec: str | None, available: tuple[str, ...] = COLUMN_NAMES) -> list[str]:
    """The columns to write: every one of ``available`` (a table's columns, in its fixed
    order) for ``None``, else the names in ``spec`` (``"score,path"``), in that order.

    Raises
    ------
    OutputError
        For an empty list, an unknown name or a name given twice.
    """
    if spec is None:
        return list(available)
    names = [part.strip() for part in spec.split(",")]
    valid = ", ".join(available)
    if not any(names):
        raise OutputError(f"no column named; choose from {valid}")
    seen: set[str] = set()
    for name in names:
        if name not in available:
            shown = name if name.isprintable() else ascii(name)
            raise OutputError(f"unknown column {shown!r}; choose from {valid}")
        if name in seen:
            raise OutputError(f"column {name!r} is given twice; choose each of {valid} once")
        seen.add(name)
    return names
