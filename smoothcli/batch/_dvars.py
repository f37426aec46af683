"""The DVARS job: a loaded array -> :func:`smoothcli.metrics.dvars.dvars` -> rows (one per
frame, like fMRIPrep's confounds, or with ``--summary`` one per run with MRIQC's names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._job import Job, Task
from ._options import DvarsOptions
from ._summary import summary_stats

__all__ = ["DvarsJob"]

TABLE_COLUMNS = "path,frame,dvars,std_dvars,vx_std_dvars,status,check,error"
SUMMARY_TABLE_COLUMNS = (
    "path,dvars_nstd,dvars_std,dvars_vstd,dvars_std_max,dvars_std_max_frame,n_fail,status,"
    "check,error"
)
#: the per-frame columns, and the names of their means in MRIQC's IQMs
MEASURES = (("dvars", "dvars_nstd"), ("std_dvars", "dvars_std"), ("vx_std_dvars", "dvars_vstd"))

NEEDS_MASK = (
    "DVARS of a NIfTI volume needs a brain mask (--mask FILE, or --mask auto for the "
    "desc-brain_mask beside each run): the background would swamp its median and its voxels"
)


@dataclass(frozen=True)
class DvarsJob(Job):
    """DVARS of one input with ``opts``: frozen and picklable, run wherever a task runs."""

    opts: DvarsOptions
    checked = "std_dvars"

    @property
    def columns(self) -> tuple[str, ...]:  # type: ignore[override]
        from ..output import DVARS_COLUMNS, DVARS_SUMMARY_COLUMNS

        return DVARS_SUMMARY_COLUMNS if self.opts.summary else DVARS_COLUMNS

    @property
    def table_columns(self) -> str:  # type: ignore[override]
        return SUMMARY_TABLE_COLUMNS if self.opts.summary else TABLE_COLUMNS

    def check_mask(self, item: Any, task: Task) -> None:
        if item.kind == "nifti" and task.mask is None:
            raise ValueError(NEEDS_MASK)

    def rows(self, item: Any, notes: list[str]) -> list[dict]:
        from ..metrics._series import gather
        from ..metrics.dvars import dvars

        opts = self.opts
        shape = tuple(item.source.shape)
        series = gather(item.source, item.time_axis)
        found = dvars(
            series,
            normalization=opts.normalization,
            tolerance=opts.tolerance,
            drop_zero_variance=opts.drop_zero_variance,
        )
        if found.dropped:
            notes.append(
                f"{found.dropped} of {series.shape[0]} voxels left out: robust SD at most "
                f"{opts.tolerance:g} (constant, or an interquartile range of 0)"
            )
        base = {
            "shape": "x".join(map(str, shape)),
            "dtype": "float64",
            "voxels": found.voxels,
            "dropped": found.dropped,
            "median": found.median,
            "status": "ok",
        }
        values = {"dvars": found.dvars, "std_dvars": found.std_dvars}
        values["vx_std_dvars"] = found.vx_std_dvars
        checks = [opts.check(float(v)) for v in found.std_dvars]
        if opts.summary:
            row = dict(base)
            for column, iqm in MEASURES:
                stats = summary_stats(values[column])
                row[iqm] = stats["mean"]
                row[f"{iqm}_max"] = stats["max"]
                row[f"{iqm}_max_frame"] = stats["argmax"] + 1  # frame 0 has no difference
            if opts.has_thresholds:
                failed = checks.count("fail")
                row.update(n_fail=failed, check="fail" if failed else "pass")
            return [row]
        rows = [{**base, "frame": 0}]
        for t in range(1, series.shape[1]):
            row = {**base, "frame": t, **{c: float(values[c][t - 1]) for c, _ in MEASURES}}
            rows.append({**row, "check": checks[t - 1]})
        return rows
