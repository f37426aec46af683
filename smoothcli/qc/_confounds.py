"""fMRIPrep's confounds table of a run: framewise displacement and the dummy volumes it marks.

fMRIPrep writes ``*_desc-confounds_timeseries.tsv`` (``_desc-confounds_regressors.tsv``
from 1.2 to 20.1) beside each run: one row per frame, ``n/a`` where a value is missing (the first
row of every derivative, of ``framewise_displacement``, of ``dvars``). What is read here:

- ``framewise_displacement``: Power et al. (2012)'s FD, as fMRIPrep computes it (nipype's
  ``FramewiseDisplacement``); when the column is missing, the same sum is formed from the
  six head-motion columns ``trans_x``, ``trans_y``, ``trans_z`` (mm) and ``rot_x``,
  ``rot_y``, ``rot_z`` (radians, turned into mm on a sphere of 50 mm);
- ``non_steady_state_outlier*``: one one-hot column per dummy volume.

Only those columns are kept; the file is read with the standard library's ``csv``, row by
row, so a wide table (fMRIPrep's have hundreds of CompCor columns) costs no more memory
than its kept columns.
"""

from __future__ import annotations

import csv
import math
import os
import stat
from dataclasses import dataclass

import numpy as np

from .._text import excerpt

FD_COLUMN = "framewise_displacement"
MOTION = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")
DUMMY_PREFIX = "non_steady_state_outlier"
#: the head's radius that turns rotations (radians) into displacements (mm): Power 2012
HEAD_RADIUS = 50.0
#: what reads as a missing value (BIDS writes n/a)
_MISSING = ("n/a", "", "nan", "NaN", "NA")
#: a confounds table larger than this is not one (fMRIPrep's are a few MB)
MAX_BYTES = 1 << 30


class ConfoundsError(ValueError):
    """A confounds file that cannot be used: one line that says why."""


@dataclass(frozen=True)
class Confounds:
    """What a run's confounds table says: ``frames`` rows; ``fd`` per frame (frame 0 NaN,
    as fMRIPrep writes ``n/a`` there) or ``None`` when the table has neither FD nor the six
    motion columns; ``fd_from`` names where FD came from; ``dummy`` the dummy volumes its
    ``non_steady_state_outlier*`` columns mark (0 when it has none)."""

    frames: int
    fd: np.ndarray | None
    fd_from: str | None
    dummy: int


def power_fd(motion: np.ndarray, radius: float = HEAD_RADIUS) -> np.ndarray:
    """Framewise displacement of ``motion`` (frames x 6: three translations in mm, three
    rotations in radians), frame 0 NaN: the sum of the absolute changes from the frame
    before, rotations as arcs on a sphere of ``radius`` mm (Power et al. 2012), the same
    subtraction and order as nipype's ``FramewiseDisplacement``."""
    motion = np.asarray(motion, np.float64)
    diff = motion[:-1, :6] - motion[1:, :6]
    diff[:, 3:6] *= radius
    return np.concatenate([[math.nan], np.abs(diff).sum(axis=1)])


def _number(cell: str, line: int, column: str) -> float:
    if cell.strip() in _MISSING:
        return math.nan
    try:
        return float(cell)
    except ValueError:
        raise ConfoundsError(
            f"line {line}, column {column}: {excerpt(cell)} is not a number"
        ) from None


def _check_file(path: str) -> None:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise ConfoundsError(exc.strerror or str(exc)) from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfoundsError("not a regular file")
    if st.st_size > MAX_BYTES:
        raise ConfoundsError(f"{st.st_size} bytes is too large for a confounds table")


def _columns(path: str) -> tuple[int, dict[str, list[float]]]:
    """How many rows the table has (the header aside), and the kept columns' values."""
    _check_file(path)
    rows = 0
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh, delimiter="\t")
            header = next(reader, None)
            if not header:
                raise ConfoundsError("it is empty: no header row")
            wanted = {
                i: name
                for i, name in enumerate(header)
                if name in (FD_COLUMN, *MOTION) or name.startswith(DUMMY_PREFIX)
            }
            kept: dict[str, list[float]] = {name: [] for name in wanted.values()}
            for line, row in enumerate(reader, start=2):
                if not row:
                    continue
                rows += 1
                if len(row) != len(header):
                    raise ConfoundsError(
                        f"line {line} has {len(row)} cells, the header {len(header)}"
                    )
                for i, name in wanted.items():
                    kept[name].append(_number(row[i], line, name))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfoundsError(f"not a tab-separated text table ({exc})") from None
    except OSError as exc:
        raise ConfoundsError(exc.strerror or str(exc)) from None
    return rows, kept


def _dummy(kept: dict[str, list[float]]) -> int:
    """The dummy volumes the one-hot columns mark: they must be the first frames."""
    columns = [np.asarray(v) for k, v in kept.items() if k.startswith(DUMMY_PREFIX)]
    if not columns:
        return 0
    marked = np.flatnonzero(np.any([np.nan_to_num(c) != 0 for c in columns], axis=0))
    if not np.array_equal(marked, np.arange(len(marked))):
        shown = ", ".join(map(str, marked[:8])) + (", ..." if len(marked) > 8 else "")
        raise ConfoundsError(
            f"its {DUMMY_PREFIX}* columns mark frames {shown}, not the first frames of the run"
        )
    return len(marked)


def read_confounds(path: str) -> Confounds:
    """The FD and dummy volumes of the confounds table at ``path``. :class:`ConfoundsError`
    for a file that is not a tab-separated table, a row of another length than the header, a
    kept cell that is not a number, an FD missing after frame 0, or dummy columns that do not
    mark the first frames."""
    frames, kept = _columns(path)
    fd, fd_from = None, None
    if FD_COLUMN in kept:
        fd, fd_from = np.asarray(kept[FD_COLUMN]), FD_COLUMN
    elif all(name in kept for name in MOTION):
        motion = np.column_stack([kept[name] for name in MOTION])
        bad = np.flatnonzero(~np.isfinite(motion).all(axis=1))
        if bad.size:
            raise ConfoundsError(f"a motion parameter is missing at frame {bad[0]}")
        fd = power_fd(motion) if frames else np.zeros(0)
        fd_from = "trans_*/rot_* (Power's FD, 50 mm)"
    if fd is not None:
        missing = np.flatnonzero(~np.isfinite(fd[1:]))
        if missing.size:
            raise ConfoundsError(f"{FD_COLUMN} is missing or not finite at frame {missing[0] + 1}")
    return Confounds(frames, fd, fd_from, _dummy(kept))
