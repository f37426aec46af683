"""What stderr says of each input as it finishes: error rows, warnings, failed thresholds."""

from __future__ import annotations

import math
from typing import Any

from ._ui import UI


def _threshold_text(score: float, opts: Any, what: str = "score") -> str:
    if math.isnan(score):
        return f"{what} nan (a NaN always fails)"
    if opts.fail_above is not None and score > opts.fail_above:
        return f"{what} {score:.6g} is above {opts.fail_above:g}"
    return f"{what} {score:.6g} is below {opts.fail_below:g}"


def _where(row: dict) -> str:
    """Where a failed score is: its frame where it has one (and its index where that
    differs), else its index."""
    frame, index = row.get("frame"), row.get("index")
    if frame is None:
        return f"index {index}"
    return f"frame {frame}" + (f" (index {index})" if str(index) != str(frame) else "")


def _report_verdicts(result: Any, ui: UI) -> None:
    """One line per run judged by rules (``dvars``): failed, or passed with failed frames."""
    seen: set[Any] = set()
    for row in result.rows:
        key = row.get("array")
        if row.get("status") != "ok" or key in seen:
            continue
        seen.add(key)
        verdict = row["verdict"] if "verdict" in row else row.get("check")
        where = f"{result.path} [{key}]" if key else result.path
        if verdict == "fail":
            ui.say(f"fail: {where}: {row.get('reason') or 'failed its rules'}")
        elif row.get("reason"):
            ui.info(f"flagged: {where}: {row['reason']} (the run passed)")


def _report_failures(result: Any, job: Any, ui: UI) -> None:
    """One line for an input that failed its threshold: which value, or how many."""
    opts, what, path = job.opts, job.checked, result.path
    if what != "score":
        return _report_verdicts(result, ui)
    failed = result.failed_rows
    if not failed:
        return
    first = failed[0]
    if first.get("n_fail") is not None:  # a --summary row: the values are gone, the count stays
        ui.say(f"fail: {path}: {first['n_fail']} scores failed the threshold")
    elif len(failed) == 1 and len(result.rows) == 1:
        ui.say(f"fail: {path}: {_threshold_text(float(first[what]), opts, what)}")
    else:
        ui.say(
            f"fail: {path}: {len(failed)} of {len(result.rows)} scores failed the threshold; "
            f"the first, {_where(first)}: {_threshold_text(float(first[what]), opts, what)}"
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
