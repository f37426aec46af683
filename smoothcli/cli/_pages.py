"""``--report FILE`` and ``--plot DIR`` of ``score`` and ``dvars``: the HTML page of the rows
just produced, and a PNG per input of its per-frame trace. Both need matplotlib
(``smoothcli[report]``): a usage error before any work when it is missing."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ._names import Names
from ._usage import Usage, as_usage, make_folder


def _as_written(row: dict) -> dict:
    """A row's numbers as the table writes them (a float32 score as its shortest text), so
    that the page of ``--report`` shows the numbers of the table beside it."""
    from ..output import BY_NAME
    from ..output._values import number_text

    out = dict(row)
    for name, value in row.items():
        column = BY_NAME.get(name)
        if column is not None and column.kind == "number" and value is not None:
            out[name] = float(number_text(value))
    return out


@dataclass
class Pages:
    """What ``--report``/``--plot`` asked for, checked at once; rows added as inputs finish."""

    report: str | None = None
    plot: str | None = None
    protect: list[str] = field(default_factory=list)
    output: str | None = None  # the table (-o): with --resume the page is of all of it
    resume: bool = False
    rows: list[dict] = field(default_factory=list)
    carpets: dict[tuple, Any] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    _target: Any = None
    _names: Names = field(default_factory=lambda: Names(".png"))

    def check(self, inputs: list[str]) -> None:
        """Usage errors for a missing matplotlib, a report path that cannot be written, a
        plot folder that is a file. Every input's PNG is named up front (a resumed batch
        gives each its name again), and each name checked: never a link, never a file
        smoothcli did not write."""
        self._names = Names(".png", inputs)
        if self.report is None and self.plot is None:
            return
        from ..output import OutputError, check_target, sidecar_path
        from ..report import require_matplotlib

        with as_usage("--report" if self.report else "--plot", ImportError):
            require_matplotlib()
        if self.report is not None:
            # the table and its sidecar may not exist yet: told apart by name as well
            ours = [self.output, sidecar_path(self.output)] if self.output else []
            mine = os.path.realpath(self.report)
            if any(p is not None and os.path.realpath(p) == mine for p in ours):
                raise Usage(f"{self.report} is where the table or its sidecar goes", "--report")
            with as_usage("--report", OutputError):
                self._target = check_target(self.report, protect=self.protect, sidecar=False)
        if self.plot is None:
            return
        make_folder(self.plot, "--plot")
        for path in inputs:
            with as_usage("--plot", OutputError):
                self._png_target(os.path.join(self.plot, self._names.name(path)))

    def _png_target(self, path: str) -> Any:
        from ..output import check_target
        from ..report._plots import is_our_png

        return check_target(path, protect=self.protect, derived=True, ours=is_our_png)

    def add(self, result: Any, threshold: float | None) -> None:
        """An input's rows: kept for the page; drawn now for ``--plot``."""
        if self.report is not None and not self.resume:
            self.rows.extend(_as_written(row) for row in result.rows)
        if self.report is not None:
            for run in result.runs:
                if run.carpet is not None:
                    self.carpets[(result.path, run.array)] = run.carpet
        if self.plot is None:
            return
        from ..report import make_batch
        from ..report._plots import trace_png

        try:
            batch = make_batch(result.rows)
        except ValueError:  # only error rows
            return
        if not batch.per_frame:
            return
        for run in batch.runs:
            path = os.path.join(self.plot, self._names.name(result.path, run.array))
            self._png_target(path).write_bytes(trace_png(run, threshold, batch.measure))
            self.written.append(path)

    def finish(self, meta: dict) -> str:
        """Write the page; the words for the summary line."""
        said = ""
        if self.plot is not None:
            said += f"; {len(self.written)} plot(s) in {self.plot}"
        if self._target is not None:
            from ..report import ReportInput, read_table, write_report

            found = ReportInput(self.rows, [], meta)
            if self.resume and self.output is not None:  # the rows of earlier runs too
                found = read_table([self.output])
            found.carpets = self.carpets
            write_report(self._target, found)
            said += f"; wrote the report {self.report}"
        return said
