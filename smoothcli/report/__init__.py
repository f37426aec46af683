"""``smoothcli report``: a batch's tables (or the rows just scored) as one self-contained HTML
QC page: an overview, the distribution of each run's value with the threshold and the
outliers, per-run traces worst first, the failed inputs and the flagged runs.

- :mod:`._read`: tables read back as rows, with their sidecars;
- :mod:`._model`: runs, failures, threshold, outliers (no plotting);
- :mod:`._plots`: matplotlib figures (inline SVG, PNG for ``--plot``);
- :mod:`._page`: the HTML.

matplotlib is the optional extra ``smoothcli[report]``; :func:`require_matplotlib` says so.
"""

from __future__ import annotations

from typing import Any

from ._model import Batch, Run, make_batch
from ._plots import MISSING, require_matplotlib
from ._read import ReportInput, TableError, read_table

__all__ = [
    "MISSING", "Batch", "ReportInput", "Run", "TableError", "make_batch", "read_table",
    "render_batch", "require_matplotlib"
]  # fmt: skip

TITLE = "smoothcli QC report"


def render_batch(batch: Batch, found: ReportInput, title: str = TITLE) -> str:
    """The page (text) of ``batch``, made from ``found``'s rows."""
    from ._page import render

    return render(batch, found.sources, found.meta, title)


def write_report(
    target: Any, found: ReportInput, *, threshold: float | None = None, title: str = TITLE
) -> Batch:
    """Write the page of ``found``'s rows to ``target`` (a checked
    :class:`smoothcli.output.Target`, atomically); return what it shows. ``ValueError`` (from
    :func:`make_batch`) for rows that no smoothcli table holds."""
    batch = make_batch(found.rows, threshold, found.meta, found.carpets)
    with target.open() as stream:
        stream.write(render_batch(batch, found, title))
    return batch
