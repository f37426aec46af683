"""The report as one self-contained HTML page: inline CSS, inline SVG, a few lines of inline
JavaScript to sort tables; no URL of any kind, so it opens from disk or as a CI artifact.

The page also carries its numbers as JSON (``<script type="application/json" id="runs">``),
so that a program can read what a person sees.
"""

from __future__ import annotations

import html
import json
import math
from datetime import UTC, datetime
from typing import Any

from ..output._values import number_text
from ._model import Batch, Run
from ._plots import distribution_svg, trace_svg

__all__ = ["TRACES", "render"]

#: runs drawn as traces; the rest are listed
TRACES = 50

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
  padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 13px; }
th { white-space: nowrap; }
th, td { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \\2195"; color: #aaa; }
.flag { color: #c0392b; } .muted { color: #777; }
.counts span { display: inline-block; margin-right: 1.5em; font-size: 1.1em; }
.trace { margin: 0.5em 0 1em; } svg { max-width: 100%; height: auto; }
code { background: #f4f4f4; padding: 0 3px; }
"""

SORT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var up = th.dataset.dir !== "up"; th.dataset.dir = up ? "up" : "down";
      rows.sort(function (a, b) {
        var x = a.cells[col].dataset.v || a.cells[col].textContent;
        var y = b.cells[col].dataset.v || b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
        return up ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _num(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan" if value is not None else ""
    return number_text(value)


def _cell(value: Any, digits: int | None = None) -> str:
    """A number cell: sorted by its full value; shown in full, or to ``digits`` significant
    digits (a mean, which no table row holds)."""
    text = _num(value) if isinstance(value, int | float) else _e(value)
    shown = f"{value:.{digits}g}" if digits and isinstance(value, float) else text
    return f'<td class="n" data-v="{text}">{shown}</td>'


def _overview(batch: Batch, sources: list[str], meta: dict) -> str:
    total = len({f.path for f in batch.failures} | {r.path for r in batch.runs})
    parts = [
        f"<span><b>{total}</b> inputs</span>",
        f"<span><b>{len(batch.runs)}</b> runs scored</span>",
        f'<span class="{"flag" if batch.failures else ""}"><b>{len(batch.failures)}</b> '
        "failed</span>",
        f'<span class="{"flag" if batch.flagged else ""}"><b>{len(batch.flagged)}</b> '
        "flagged</span>",
    ]
    rows = [("tables", _e(", ".join(sources) or "the rows of this run"))]
    if meta.get("Command"):
        rows.append(("command", f"<code>{_e(meta['Command'])}</code>"))
    for key, value in (meta.get("Options") or {}).items():
        if value is not None and value is not False:
            rows.append((f"--{key.replace('_', '-')}", _e(value)))
    if meta.get("Date"):
        rows.append(("written", _e(meta["Date"])))
    if batch.threshold is not None:
        rows.append(("threshold", f"{_num(batch.threshold)} ({_e(batch.threshold_from)})"))
    if batch.fences is not None:
        low, high = batch.fences
        fences = f"{_num(low)} .. {_num(high)} (1.5 IQR, on each run's max)"
        rows.append(("outlier fences", fences))
    table = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<p class="counts">{"".join(parts)}</p><table>{table}</table>'


def _stats(batch: Batch) -> list[tuple[str, str]]:
    single = all(len(r.values) == 1 for r in batch.runs)
    if single:
        return [("max", batch.measure)]
    return [("mean", f"mean {batch.measure}"), ("max", f"max {batch.measure}")]


def _runs_table(batch: Batch, runs: list[Run], anchors: bool = False) -> str:
    """A sortable table of ``runs``; with ``anchors``, each row is where the distribution's
    points link to (a page without traces)."""
    head = ["input", "array", "mean", "max", "frame of max", "over threshold", "why"]
    body = []
    for run in runs:
        link = f'<a href="#{run.anchor}">{_e(run.path)}</a>' if batch.per_frame else _e(run.path)
        row_id = f' id="{run.anchor}"' if anchors else ""
        body.append(
            f"<tr{row_id}><td>{link}</td><td>{_e(run.array)}</td>"
            f"{_cell(run.mean, 7)}{_cell(run.max)}{_cell(run.max_frame)}"
            f"{_cell(run.n_over if batch.threshold is not None else None)}"
            f'<td class="flag">{_e("; ".join(run.reasons(batch.threshold)))}</td></tr>'
        )
    header = "".join(f"<th>{h}</th>" for h in head)
    rows = "".join(body)
    return f'<table class="sortable"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>'


def _failures(batch: Batch) -> str:
    if not batch.failures:
        return '<p class="muted">Every input was scored.</p>'
    rows = "".join(
        f"<tr><td>{_e(f.path)}</td><td>{_e(f.array)}</td><td>{_e(f.error)}</td></tr>"
        for f in batch.failures
    )
    return (
        '<table class="sortable"><thead><tr><th>input</th><th>array</th><th>error</th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
    )


def _traces(batch: Batch) -> str:
    ordered = batch.worst_first()
    shown, rest = ordered[:TRACES], ordered[TRACES:]
    parts = [
        f'<div class="trace" id="{run.anchor}">'
        f"{trace_svg(run, batch.threshold, batch.measure, f'trace-{run.anchor}')}</div>"
        for run in shown
    ]
    if rest:
        items = "".join(
            f'<li id="{r.anchor}">{_e(r.label)}: max {_num(r.max)} (frame {_e(r.max_frame)}), '
            f"mean {_num(r.mean)}</li>"
            for r in rest
        )
        parts.append(f"<p>{len(rest)} more runs, not drawn:</p><ol>{items}</ol>")
    return "".join(parts)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _data(batch: Batch) -> str:
    runs = [
        {
            "path": r.path,
            "array": r.array,
            "mean": _finite(r.mean),
            "max": _finite(r.max),
            "max_frame": r.max_frame,
            "n_over": r.n_over,
            "n_nan": r.n_nan,
            "flagged": r.flagged,
            "outlier": r.outlier,
        }
        for r in batch.runs
    ]
    doc = {
        "kind": batch.kind,
        "measure": batch.measure,
        "threshold": _finite(batch.threshold),
        "runs": runs,
        "failures": [{"path": f.path, "array": f.array, "error": f.error} for f in batch.failures],
    }
    return json.dumps(doc, allow_nan=False).replace("<", "\\u003c")  # no tag can start inside


def render(batch: Batch, sources: list[str], meta: dict, title: str) -> str:
    """The page, as text."""
    from .. import __version__

    when = datetime.now(UTC).isoformat(timespec="seconds")
    sections = [
        f"<h1>{_e(title)}</h1>",
        f'<p class="muted">smoothcli {__version__} ({batch.kind}), {when}</p>',
        "<h2>Overview</h2>",
        _overview(batch, sources, meta),
    ]
    if batch.runs:
        what = "each run's mean and max" if len(_stats(batch)) > 1 else "each run's value"
        sections += [
            "<h2>Distribution</h2>",
            f"<p>{_e(batch.measure)} over the batch: {what}, a point per run (click one for "
            "its trace), flagged runs in red.</p>",
            distribution_svg(batch, _stats(batch), "distribution"),
        ]
    if batch.per_frame and batch.runs:
        sections += [
            "<h2>Per-run traces</h2>",
            f"<p>Worst first (by max); the first {TRACES} drawn, the threshold dashed, frames "
            "over it marked.</p>",
            _traces(batch),
        ]
    sections += ["<h2>Failed inputs</h2>", _failures(batch), "<h2>Flagged runs</h2>"]
    flagged = batch.flagged
    sections.append(
        _runs_table(batch, flagged) if flagged else '<p class="muted">No run is flagged.</p>'
    )
    sections += ["<h2>Every run</h2>", _runs_table(batch, batch.runs, not batch.per_frame)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(sections)
        + f'<script type="application/json" id="runs">{_data(batch)}</script>'
        + f"<script>{SORT}</script></body></html>\n"
    )
