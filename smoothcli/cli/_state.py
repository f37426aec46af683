"""One command's batch in one object (:class:`BatchRun`): what it reads and where the rows
go, checked before any work, and how the inputs went (:class:`Counts`)."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, field
from typing import Any

from ._results import report_result
from ._ui import UI


def batch_meta(job: Any) -> dict:
    from datetime import UTC, datetime

    options = job.opts.options()
    return {
        "Command": shlex.join(["smoothcli", *sys.argv[1:]]),
        "Options": options,
        "Date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


@dataclass
class Counts:
    """How the inputs went: scored, could not be scored, failed a threshold, and (with
    ``--resume``) already in the table."""

    ok: int = 0
    error: int = 0
    fail: int = 0
    done: int = 0


@dataclass
class BatchRun:
    """One command's batch, checked before any work: the job, its inputs, where the rows go
    (a table, ``--resume``'s journal, pages and other sinks), and how it went."""

    job: Any
    ui: UI
    inputs: list[str]
    output: str | None
    fmt: str
    names: list[str]
    columns: str | None
    protect: list[str]
    target: Any = None  # the checked table (None: stdout, or --resume's FILE)
    resume: bool = False
    log: Any = None  # --resume's journal, once open
    mask: Any = None
    pages: Any = None
    sinks: list[Any] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)

    def meta(self) -> dict:
        return batch_meta(self.job)

    def skip_done(self) -> None:
        """Leave out the inputs whose rows the resumed FILE holds; those count as they did
        (an error row there still makes the batch exit 3)."""
        todo = []
        for path in self.inputs:
            if self.log.done(path):
                errors, fails = self.log.counts(path)
                self.counts.done += 1
                self.counts.error += bool(errors)
                self.counts.ok += not errors
                self.counts.fail += bool(fails)
            else:
                todo.append(path)
        self.inputs = todo

    def add(self, result: Any) -> None:
        """An input's result: to the sinks and pages, counted, and said on stderr."""
        problems = [p for p in (sink.add(result) for sink in self.sinks) if p is not None]
        failed = result.error is not None or bool(problems)
        self.counts.error += failed
        self.counts.ok += not failed
        self.counts.fail += bool(result.failed_rows)
        report_result(result, self.job, self.ui)
        for problem in problems:
            self.ui.say(f"error: {result.path}: {problem}")
        self.pages.add(result, self.job.opts.fail_above)
