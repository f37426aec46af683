"""Exit statuses, in one place; CI jobs depend on them."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0  # every input scored, every score within the thresholds
    THRESHOLD_FAILED = 1  # a score (or a NaN) failed --fail-above / --fail-below
    USAGE = 2  # bad options, including a bad --scalarise spec
    INPUT_ERROR = 3  # one or more inputs could not be scored (takes precedence over 1)
    BROKEN_PIPE = 141  # the reader went away (`| head`): 128 + SIGPIPE, as a shell reports
    INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT
