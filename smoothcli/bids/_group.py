"""``smoothcli bids ... group``: the per-run tables ``participant`` wrote, read back, as one
row per run (``group_bold.tsv``, MRIQC's name): the run's entities, the ``dvars --summary``
statistics recomputed from its frames (the same numbers), its dummy volumes, failed frames
and verdict."""

from __future__ import annotations

import fnmatch
import os
import stat
from typing import Any

import numpy as np

from ..pairing import bids_name
from ._outputs import DVARS_DESC

#: BIDS's entities in the order names carry them (those of fMRIPrep's BOLD outputs)
ENTITY_ORDER = (
    "sub", "ses", "task", "acq", "ce", "rec", "dir", "run", "echo", "part", "space", "cohort",
    "res", "den",
)  # fmt: skip
#: the columns after the entities, as ``dvars --summary`` names them (``verdict``: its check)
GROUP_COLUMNS = (
    "dvars_nstd", "dvars_nstd_max", "dvars_nstd_max_frame", "dvars_std", "dvars_std_max",
    "dvars_std_max_frame", "dvars_vstd", "dvars_vstd_max", "dvars_vstd_max_frame", "fd_mean",
    "fd_max", "frames", "dummy", "n_fail", "fail_fraction", "verdict", "reason", "status",
    "error", "path", "mask", "confounds", "threshold", "tr", "voxels", "dropped", "median",
)  # fmt: skip
ENDING = f"_desc-{DVARS_DESC}_timeseries.tsv"


def dvars_tables(out: str, subject: str | None = None) -> list[str]:
    """The per-run tables under ``out`` (``sub-*/[ses-*/]func/*_desc-dvars_timeseries.tsv``;
    of ``sub-<subject>`` only, given one), in path order. Links are not followed: only files
    ``participant`` wrote are read."""
    found: list[str] = []
    for sub in _folders(out, f"sub-{subject}" if subject else "sub-*"):
        for ses in [sub, *_folders(sub, "ses-*")]:
            for func in _folders(ses, "func"):
                for name in sorted(os.listdir(func)):
                    path = os.path.join(func, name)
                    ours = name.startswith("sub-") and name.endswith(ENDING)
                    if ours and stat.S_ISREG(os.lstat(path).st_mode):
                        found.append(path)
    return found


def _folders(where: str, pattern: str) -> list[str]:
    """The folders (not links) in ``where`` whose names match ``pattern``, sorted."""
    try:
        names = sorted(n for n in os.listdir(where) if fnmatch.fnmatchcase(n, pattern))
    except OSError:
        return []
    paths = [os.path.join(where, n) for n in names]
    return [p for p in paths if stat.S_ISDIR(os.lstat(p).st_mode)]


def _entities(table: str) -> tuple[str, dict[str, str]]:
    """The source run's ``bids_name`` (``sub-01_task-rest_bold``) and entities."""
    parsed = bids_name(os.path.basename(table))
    pairs = [(k, v) for k, v in (parsed[0] if parsed else []) if k != "desc"]
    name = "_".join(f"{k}-{v}" for k, v in pairs) + "_bold"
    return name, dict(pairs)


def _run_row(rows: list[dict]) -> dict[str, Any]:
    from ..batch import run_summary
    from ..qc import counted_frames

    first = rows[0]
    keep = ("path", "mask", "confounds", "status", "error", "threshold", "tr", "voxels")
    row = {k: first.get(k) for k in (*keep, "dropped", "median", "dummy", "reason")}
    if first.get("status") != "ok":
        return row
    rows = sorted(rows, key=lambda r: r["frame"])
    frames, dummy = len(rows), int(first.get("dummy") or 0)

    def column(name: str) -> np.ndarray:
        return np.array([np.nan if r.get(name) is None else r[name] for r in rows], np.float64)

    values = {c: column(c) for c in ("dvars", "std_dvars", "vx_std_dvars")}
    has_fd = any(r.get("fd") is not None for r in rows)
    row.update(run_summary(values, column("fd") if has_fd else None, dummy))
    counted = len(counted_frames(frames, dummy))
    failed = sum(r.get("check") == "fail" for r in rows)
    row.update(
        frames=frames,
        n_fail=failed,
        fail_fraction=failed / counted if counted else None,
        verdict=first.get("verdict"),
    )
    return row


def group_rows(tables: list[tuple[str, list[dict]]]) -> tuple[list[dict], list[str]]:
    """One row per table (each with its rows, read back) and the entity columns the rows
    carry, in BIDS order."""
    out, keys = [], set()
    for table, rows in tables:
        name, found = _entities(table)
        keys |= set(found)
        head = {"bids_name": name, **found}
        out.append({**head, **_run_row(rows)} if rows else head)
    order = [k for k in ENTITY_ORDER if k in keys] + sorted(keys - set(ENTITY_ORDER))
    return out, order


def group_tsv(rows: list[dict], entities: list[str]) -> str:
    """The group table as TSV text: ``bids_name``, the entities, :data:`GROUP_COLUMNS`;
    numbers in their shortest exact form, ``n/a`` for a missing value."""
    from ..output._values import cell_text

    columns = ["bids_name", *entities, *GROUP_COLUMNS]
    lines = ["\t".join(columns)]
    for row in rows:
        cells = (cell_text(row.get(c), missing="n/a", nan="n/a") for c in columns)
        lines.append("\t".join(c.replace("\t", " ").replace("\n", " ") for c in cells))
    return "\n".join(lines) + "\n"


#: what the group table's own columns hold (the others are described as in every table)
OWN = {
    "bids_name": "The run's name: its source file's entities and suffix (MRIQC's bids_name).",
    "frames": "The run's frames (frame 0 included).",
    "n_fail": "How many counted frames failed a frame rule.",
    "verdict": "The run's verdict: fail when it failed a run rule (--max-fail-fraction, "
    "--fail-mean-above), or without one when a counted frame failed; else pass. n/a for a "
    "run that could not be scored.",
}


def group_sidecar(entities: list[str], meta: dict) -> dict:
    """``group_bold.json``: each column described (BIDS's tabular sidecar), and who made
    the table."""
    from ..output import BY_NAME, sidecar

    known = [c for c in GROUP_COLUMNS if c in BY_NAME and c not in OWN]
    doc = sidecar(known, meta)
    for key in entities:
        long = BY_NAME[key].description if key in BY_NAME else f"BIDS entity '{key}'."
        doc[key] = {"Description": long}
    for key, text in OWN.items():
        doc[key] = {"Description": text}
    order = ["bids_name", *entities, *GROUP_COLUMNS]
    return {k: doc[k] for k in order if k in doc} | {k: v for k, v in doc.items() if k not in order}
