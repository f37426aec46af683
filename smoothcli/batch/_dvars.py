"""The DVARS job: a loaded array -> :func:`smoothcli.metrics.dvars.dvars` -> rows (one per
frame, like fMRIPrep's confounds, or with ``--summary`` one per run with MRIQC's names),
judged by :mod:`smoothcli.qc`: dummy volumes skipped, frames checked on ``std_dvars`` and
FD, the run given a verdict and a reason."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..output import DVARS_COLUMNS, DVARS_SUMMARY_COLUMNS
from ..qc import AUTO, GLOBAL_FRAMES
from ._job import IMAGES, Context, Job, Task, task_confounds
from ._options import DvarsOptions, RunQC
from ._summary import summary_stats

TABLE_COLUMNS = "path,frame,dvars,std_dvars,vx_std_dvars,fd,status,check,verdict,error"
SUMMARY_TABLE_COLUMNS = (
    "path,dvars_nstd,dvars_std,dvars_vstd,dvars_std_max,dvars_std_max_frame,fd_mean,dummy,"
    "n_fail,fail_fraction,status,check,reason,error"
)
#: the per-frame columns, and the names of their means in MRIQC's IQMs
MEASURES = (("dvars", "dvars_nstd"), ("std_dvars", "dvars_std"), ("vx_std_dvars", "dvars_vstd"))
#: voxels drawn in a failed run's carpet plot, at most (an even subsample)
CARPET_VOXELS = 600

NEEDS_MASK = (
    "DVARS of a NIfTI volume needs a brain mask (--mask FILE, or --mask auto for the "
    "desc-brain_mask beside each run): the background would swamp its median and its voxels"
)


def _global_signal(item: Any, series: Any) -> np.ndarray:
    """Each of the first frames' mean over the whole image (a NIfTI image's reader kept it
    before the mask), or over every column of other inputs."""
    if item.kind == "nifti":
        return item.source.global_signal()
    return series.scaled(series.data[:, :GLOBAL_FRAMES]).mean(axis=0)


def _carpet(series: Any, keep: int = CARPET_VOXELS) -> np.ndarray:
    """An even subsample of the voxels, each centred on its median and divided by its
    robust SD (the IQR / 1.349), clipped to +-3: the rows of a carpet plot."""
    voxels = series.shape[0]
    rows = np.unique(np.linspace(0, voxels - 1, min(keep, voxels)).round().astype(int))
    y = series.scaled(series.data[rows])
    q25, q50, q75 = np.percentile(y, [25, 50, 75], axis=1, keepdims=True)
    sd = (q75 - q25) / 1.349
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(sd > 0, (y - q50) / np.where(sd > 0, sd, 1), 0.0)
    return np.clip(z, -3, 3).astype(np.float32)


def _mean_max(values: np.ndarray, frames: range) -> tuple[Any, Any, Any]:
    """The mean, max and frame of the max of ``values`` (per frame) over ``frames``."""
    stats = summary_stats(values[frames.start :])
    arg = stats["argmax"]
    return stats["mean"], stats["max"], (arg + frames.start if arg is not None else None)


def run_summary(values: dict[str, np.ndarray], fd: np.ndarray | None, dummy: int) -> dict:
    """A run's ``--summary`` statistics from its per-frame ``values`` (``dvars``,
    ``std_dvars``, ``vx_std_dvars``; frame 0 n/a) and ``fd``, over its counted frames: the
    means (MRIQC's names), the max of each and its frame, and the mean and max FD."""
    from ..qc import counted_frames

    counted = counted_frames(len(values["std_dvars"]), dummy)
    row: dict[str, Any] = {}
    for column, iqm in MEASURES:
        mean, top, where = _mean_max(values[column], counted)
        row.update({iqm: mean, f"{iqm}_max": top, f"{iqm}_max_frame": where})
    if fd is not None:
        row["fd_mean"], row["fd_max"], _ = _mean_max(fd, counted)
    return row


@dataclass(frozen=True)
class DvarsJob(Job):
    """DVARS of one input with ``opts``: frozen and picklable, run wherever a task runs."""

    opts: DvarsOptions
    checked = "std_dvars"
    failed_words = "failed QC"
    scanned = IMAGES  # a folder's tables (fMRIPrep's confounds) are not runs
    tables = (DVARS_COLUMNS, DVARS_SUMMARY_COLUMNS)
    terminal = (TABLE_COLUMNS, SUMMARY_TABLE_COLUMNS)

    def check_mask(self, item: Any, task: Task) -> None:
        if item.kind == "nifti" and task.mask is None:
            raise ValueError(NEEDS_MASK)

    def prepare(self, item: Any, task: Task) -> None:
        if item.kind == "nifti" and self.opts.dummy_scans == AUTO and task.confounds is None:
            item.source.keep_global(GLOBAL_FRAMES)

    def _dummy(self, item: Any, series: Any, confounds: Any) -> int:
        from ..qc import nonsteady_volumes

        wanted = self.opts.dummy_scans
        if wanted != AUTO:
            return int(wanted)
        if confounds is not None:
            return confounds.dummy
        return nonsteady_volumes(_global_signal(item, series))

    def rows(self, item: Any, ctx: Context) -> list[dict]:
        from ..metrics._series import gather
        from ..metrics.dvars import dvars
        from ..qc import judge

        opts = self.opts
        shape = tuple(item.source.shape)
        series = gather(item.source, item.time_axis)
        frames = series.shape[1]
        confounds = task_confounds(ctx.task, frames)
        dummy = self._dummy(item, series, confounds)
        found = dvars(
            series,
            normalization=opts.normalization,
            tolerance=opts.tolerance,
            drop_zero_variance=opts.drop_zero_variance,
        )
        if found.dropped:
            ctx.notes.append(
                f"{found.dropped} of {series.shape[0]} voxels left out: robust SD at most "
                f"{opts.tolerance:g} (constant, or an interquartile range of 0)"
            )
        fd = confounds.fd if confounds is not None else None
        if confounds is not None and fd is None:
            what = "the confounds file has neither framewise_displacement nor trans_*/rot_*"
            if opts.fd_above is not None:
                raise ValueError(f"--fd-above needs framewise displacement, and {what}")
            ctx.notes.append(f"{what}: no FD")
        nan = np.array([np.nan])
        values = {c: np.concatenate([nan, getattr(found, c)]) for c, _ in MEASURES}
        judged = judge(values["std_dvars"], fd, dummy, opts.rules)
        carpet = _carpet(series) if opts.carpet and judged.verdict == "fail" else None
        ctx.runs.append(RunQC(item.member, frames, dummy, judged.failed, item.tr, carpet))
        base = {
            "shape": "x".join(map(str, shape)),
            "dtype": "float64",
            "voxels": found.voxels,
            "dropped": found.dropped,
            "median": found.median,
            "dummy": dummy,
            "threshold": judged.threshold,
            "tr": item.tr,
            "status": "ok",
        }
        if opts.summary:
            row = {**base, **run_summary(values, fd, dummy)}
            if opts.rules.any:
                row.update(n_fail=len(judged.failed), fail_fraction=judged.fraction)
            return [{**row, "check": judged.verdict, "reason": judged.reason}]
        run = {"verdict": judged.verdict, "reason": judged.reason}
        rows = []
        for t in range(frames):
            row = {**base, **run, "frame": t, "check": judged.checks[t]}
            if t:
                row.update({c: float(values[c][t]) for c, _ in MEASURES})
            if fd is not None and t:
                row["fd"] = float(fd[t])
            rows.append(row)
        return rows
