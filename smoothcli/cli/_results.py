"""What stderr says of each input as it finishes: error rows, warnings, failed thresholds."""

from __future__ import annotations

import math
from typing import Any

from ._ui import UI

__all__ = ["report_result"]


def _threshold_text(score: float, opts: Any, what: str = "score") -> str:
    if math.isnan(score):
        return f"{what} nan (a NaN always fails)"
    if opts.fail_above is not None and score > opts.fail_above:
        return f"{what} {score:.6g} is above {opts.fail_above:g}"
    return f"{what} {score:.6g} is below {opts.fail_below:g}"


def _report_failures(result: Any, job: Any, ui: UI) -> None:
    """One line for an input that failed its threshold: which value, or how many."""
    opts, what, path = job.opts, job.checked, result.path
    failed = result.failed_rows
    if not failed:
        return
    first = failed[0]
    noun = "scores" if what == "score" else f"{what} values"
    if first.get("n_fail") is not None:  # a --summary row: the values are gone, the count stays
        ui.say(f"fail: {path}: {first['n_fail']} {noun} failed the threshold")
    elif len(failed) == 1 and len(result.rows) == 1:
        ui.say(f"fail: {path}: {_threshold_text(float(first[what]), opts, what)}")
    else:
        where = f"index {first['index']}" if what == "score" else f"frame {first['frame']}"
        ui.say(
            f"fail: {path}: {len(failed)} of {len(result.rows)} {noun} failed the threshold; "
            f"the first, {where}: {_threshold_text(float(first[what]), opts, what)}"
        )


def report_result(result: Any, job: Any, ui: UI) -> None:
    """What stderr says of one input's result: its errors, warnings and threshold failures."""
    path = result.path
    for row in result.rows:
        if row["status"] == "error":
            where = f"{path} [{row['array']}]" if row.get("array") else path
            ui.say(f"error: {where}: {row['error']}")
    if result.error is not None:
        ui.traceback(result.error)
    for note in result.warnings:
        ui.info(f"warning: {path}: {note}")
    _report_failures(result, job, ui)
    if ui.verbose:
        status = "error" if result.error is not None else "ok"
        ui.info(f"{path}: {len(result.rows)} row(s), status {status}")
