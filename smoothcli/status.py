"""Exit statuses, and the rule that picks one, in one place; CI jobs depend on them."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0  # every input scored, every score within the thresholds
    THRESHOLD_FAILED = 1  # a score (or a NaN) failed a threshold; dvars: a run failed QC
    USAGE = 2  # bad options, including a bad --scalarise spec or an unusable --mask
    INPUT_ERROR = 3  # one or more inputs could not be scored (takes precedence over 1)
    INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT
    BROKEN_PIPE = 141  # the reader went away (`| head`): 128 + SIGPIPE, as a shell reports
    TERMINATED = 143  # SIGTERM: 128 + SIGTERM


def run_failed(row: dict) -> bool:
    """Whether a table row says its run failed: its ``verdict`` where the table has one (a
    per-frame DVARS row), else its ``check`` (a score, a ``--summary`` row)."""
    return (row["verdict"] if "verdict" in row else row.get("check")) == "fail"


def exit_status_for(n_errors: int, n_failed: int) -> ExitStatus:
    """The status of a finished batch: unreadable inputs (3) win over failed thresholds
    (1); a failed input is never also counted as a failed threshold."""
    if n_errors:
        return ExitStatus.INPUT_ERROR
    if n_failed:
        return ExitStatus.THRESHOLD_FAILED
    return ExitStatus.OK
