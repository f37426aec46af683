"""The score job: a loaded array -> the smoothness loss through the engine -> rows (one per
element of the score, or with ``--summary`` one per array)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._nan import NanPolicy
from ..discover import STDIN
from ..output import SCORE_COLUMNS, SUMMARY_COLUMNS
from ..scalarise import ScalarisationMap
from ._job import Context, Job, Task, task_confounds
from ._options import ScoreOptions
from ._summary import summary_stats

#: a terminal table's columns, for a person (every column is in the machine formats)
TABLE_COLUMNS = "path,array,index,frame,score,status,check,shape,dtype,error"
SUMMARY_TABLE_COLUMNS = "path,array,mean,median,max,argmax,frame,min,n_fail,status,check,error"


def _labels(item: Any, value: np.ndarray, scal: ScalarisationMap, axis: int) -> Iterator[Any]:
    """The ``index`` of each element of a vector or array score, in ``np.ndindex`` order: per
    output axis, the name of the element where the input axis it came from has names (CSV
    columns), else its position; several axes are joined by commas."""
    sources = scal.output_axes(len(item.source.shape), axis)
    names = []
    for pos, size in enumerate(value.shape):
        found = item.labels.get(sources[pos]) if pos < len(sources) else None
        names.append(found if found is not None and len(found) == size else None)
    for idx in np.ndindex(value.shape):
        parts = [n[i] if n is not None else i for n, i in zip(names, idx, strict=True)]
        yield parts[0] if len(parts) == 1 else ",".join(map(str, parts))


def _dummy(item: Any, opts: ScoreOptions, task: Task) -> int:
    """How many leading frames to drop: ``--dummy-scans N``, or with ``auto`` what the
    run's confounds table marks, else nipype's detector on a first read of the input."""
    from ..qc import AUTO, GLOBAL_FRAMES, nonsteady_volumes

    if opts.dummy_scans != AUTO:
        return int(opts.dummy_scans)
    if task.confounds is not None:
        return task_confounds(task, item.source.shape[item.time_axis]).dummy
    if task.path == STDIN:
        raise ValueError(
            "--dummy-scans auto reads the first frames of an input before scoring it, and "
            "stdin can be read once: give --dummy-scans N (or --confounds)"
        )
    from ..sources import open_path
    from ..sources._base import global_signal

    for other in open_path(task.path):  # without the mask: the whole image, as nipype
        if other.member == item.member and other.source is not None:
            try:
                signal = global_signal(other.source, other.time_axis, GLOBAL_FRAMES)
            finally:
                other.source.close()
            return nonsteady_volumes(signal)
    return 0


def _axis(item: Any, opts: ScoreOptions, source: Any, dummy: int) -> int:
    """The axis differenced (0-based); ``ValueError`` when it is out of range, or it or
    the dummy volumes leave nothing to score (corrupt data say so first)."""
    from ..sources._base import verify

    shape = tuple(source.shape)
    ndim = len(shape)
    axis = item.time_axis if opts.axis == "time" else int(opts.axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for an input of shape {shape}")
    axis %= ndim
    frames = item.source.shape[item.time_axis]
    if dummy and dummy >= frames:
        raise ValueError(f"--dummy-scans {dummy} leaves no frame of {frames}")
    length = shape[axis] + (opts.pad_value is not None)
    if opts.n > 0 and length - opts.n <= 0:
        verify(source)  # corrupt data says so first: the -n is not all that is wrong
        after = f" after {dummy} dummy scans" if dummy and axis == item.time_axis else ""
        raise ValueError(
            f"-n {opts.n} leaves no differences along axis {axis} (length {shape[axis]}"
            f"{after}): there is nothing to score"
        )
    return axis


def _summary(value: np.ndarray, labels: list, frames: list | None, opts: ScoreOptions) -> dict:
    """The ``--summary`` row of one array's scores (``labels`` in ``np.ndindex`` order)."""
    flat = value.reshape(-1)
    stats = summary_stats(flat)
    arg = stats["argmax"]
    stats["argmax"] = labels[arg] if arg is not None else None
    stats["frame"] = frames[arg] if frames is not None and arg is not None else None
    if opts.has_thresholds:
        failed = sum(opts.check(s) == "fail" for s in flat)
        stats.update(n_fail=failed, check="fail" if failed else "pass")
    return stats


def _frames(
    item: Any, value: np.ndarray, scal: ScalarisationMap, opts: ScoreOptions, axis: int, dummy: int
) -> list[int] | None:
    """The frame each element of a per-frame result ends on (``None`` when the result is not
    along the time axis): a difference along time ends on frame ``index + n`` without a pad,
    ``index + n - 1`` with one (the pad takes the place of a frame before the first), after
    the ``dummy`` frames dropped."""
    ndim = len(item.source.shape)
    if value.ndim != 1 or scal.output_axes(ndim, axis)[:1] != (item.time_axis % ndim,):
        return None
    shift = dummy
    if axis == item.time_axis % ndim:
        shift += opts.n - (1 if opts.pad_value is not None else 0)
    return [i + shift for i in range(value.shape[0])]


@dataclass(frozen=True)
class ScoreJob(Job):
    """Score one input with ``opts``: frozen and picklable, run wherever a task runs."""

    opts: ScoreOptions
    scal: ScalarisationMap = field(init=False, repr=False, compare=False)
    tables = (SCORE_COLUMNS, SUMMARY_COLUMNS)
    terminal = (TABLE_COLUMNS, SUMMARY_TABLE_COLUMNS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scal", self.opts.scalarisation())

    def head(self, task: Task) -> dict:
        return {**super().head(task), "name": self.opts.name}

    def rows(self, item: Any, ctx: Context) -> list[dict]:
        from .._signals import deferred
        from ..sources._source import trim

        opts, scal = self.opts, self.scal
        dummy = _dummy(item, opts, ctx.task)
        # JAX is imported here, while the reader thread is already at work; a signal then
        # waits until it is (in a thread of two inputs at once, signals go to the main one)
        with deferred():
            from ..engine import evaluate_info
            from ..loss import SmoothnessLoss

        source = trim(item.source, item.time_axis, dummy)
        shape = tuple(source.shape)
        axis = _axis(item, opts, source, dummy)
        loss = SmoothnessLoss(
            opts.nu, opts.name, n=opts.n, pad_value=opts.pad_value, axis=axis, scalarisation=scal
        )
        info = evaluate_info(loss, source, nan=opts.nan)
        value = np.asarray(info.value)
        if info.nonfinite and opts.nan is NanPolicy.propagate and np.isnan(value).any():
            nans = int(np.isnan(value).sum())
            which = "score is NaN" if value.size == 1 else f"{nans} of {value.size} scores are NaN"
            ctx.notes.append(
                f"{which}: {info.nonfinite} of {info.differences} differences are NaN or "
                "infinite (--nan omit leaves them out)"
            )
        base = {
            "shape": "x".join(map(str, shape)),
            "axis": axis,
            "dtype": np.dtype(info.dtype).name,
            "dummy": dummy if opts.dummy_scans != 0 else None,
            "status": "ok",
        }
        labels = list(_labels(item, value, scal, axis)) if value.ndim else [None]  # a single score
        frames = _frames(item, value, scal, opts, axis, dummy)
        if opts.summary:
            return [{**base, **_summary(value, labels, frames, opts)}]
        scores = [value[idx] for idx in np.ndindex(value.shape)]
        frames = frames or [None] * len(scores)
        return [
            {**base, "index": label, "frame": frame, "score": score, "check": opts.check(score)}
            for score, label, frame in zip(scores, labels, frames, strict=True)
        ]
