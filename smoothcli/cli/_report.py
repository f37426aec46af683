"""``smoothcli report``: tables of ``score`` or ``dvars`` -> one self-contained HTML page."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..status import ExitStatus
from ._options import option
from ._ui import UI
from ._usage import Usage, as_usage, command

Tables = Annotated[list[str], typer.Argument(metavar="TABLE", show_default=False, hidden=True)]
Output = option(str, "-o", "--output", metavar="FILE", help="The page to write (atomically).")
Threshold = option(
    float | None,
    "--threshold",
    metavar="X",
    help="Draw and flag values above X; by default the --fail-above that the table's "
    "sidecar records.",
)
Title = option(str, "--title", metavar="TEXT", help="The page's title.")


HELP = """Write one self-contained HTML QC page (no network: it opens from disk or as a CI
artifact) from TABLEs written by 'smoothcli score' or 'smoothcli dvars' (.tsv, .csv,
.jsonl, .json; the options come from the JSON sidecar beside them).

The page decides: its runs are ranked failed (the table's verdict), flagged (frames over
the threshold, NaN, or an outlier beyond 1.5 IQR), then passed, each with its reasons and
BIDS entities; the distribution of each run's value (mean and max for per-frame tables)
with the threshold; per-run traces in that order (the first 50; dummy volumes shaded);
the unreadable inputs with their errors. Needs smoothcli[report] (matplotlib).

Example:

  smoothcli report dvars.tsv -o qc.html --threshold 1.5
"""


@command
def report(
    tables: Tables,
    output: Output,
    threshold: Threshold = None,
    title: Title = "smoothcli QC report",
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="No summary line.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """``smoothcli report``; its help is :data:`HELP`."""
    import math

    from ..output import OutputError, check_target
    from ..report import TableError, make_batch, read_table, render_batch, require_matplotlib

    ui = UI(quiet=quiet, silent=False, verbose=False, debug=debug)
    if threshold is not None and not math.isfinite(threshold):
        raise Usage(f"the threshold must be a finite number, not {threshold}")
    with as_usage(None, ImportError):
        require_matplotlib()
    with as_usage("TABLE", TableError):
        found = read_table(tables)
    if not found.rows:
        raise Usage("the tables hold no rows", "TABLE")
    sidecars = [t.rsplit(".", 1)[0] + ".json" for t in tables]
    with as_usage("--output", OutputError):
        target = check_target(output, protect=[*tables, *sidecars], sidecar=False)
    with as_usage("TABLE", ValueError):  # rows of no table smoothcli writes
        batch = make_batch(found.rows, threshold, found.meta)
    page = render_batch(batch, found, title)
    try:
        with target.open() as stream:
            stream.write(page)
    except OSError as exc:
        ui.say(f"error: cannot write the report to {output}: {exc.strerror or exc}")
        raise typer.Exit(ExitStatus.INPUT_ERROR) from None
    ui.info(
        f"{len(batch.runs)} run(s): {len(batch.failed)} failed, {len(batch.flagged)} flagged; "
        f"{len(batch.failures)} unreadable input(s); wrote {output}"
    )
    sys.stdout.flush()
