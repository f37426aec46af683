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
from ._model import ENTITIES, Batch, Run
from ._plots import carpet_svg, distribution_svg, trace_svg

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
.flag, td.fail, .why.fail { color: #c0392b; } .warn, td.flagged, .why.flagged { color: #b9770e; }
.muted { color: #777; } td.why { min-width: 12em; max-width: 24em; }
.wide { overflow-x: auto; }
.name { display: inline-block; max-width: 16em; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; vertical-align: bottom; }
p.why { margin: 0 0 0.3em; font-size: 13px; }
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
    """A number in full (the shortest text that reads back to it)."""
    return "" if value is None else number_text(value)


def _short(value: Any) -> str:
    """A number as a person reads it: 4 significant digits (integers whole)."""
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.4g}"


def _cell(value: Any) -> str:
    """A number cell: sorted by its full value, shown to 4 significant digits."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return f"<td>{_e(value)}</td>"
    return f'<td class="n" data-v="{_num(value)}">{_short(value)}</td>'


def _overview(batch: Batch, sources: list[str], meta: dict) -> str:
    total = len({f.path for f in batch.failures} | {r.path for r in batch.runs})
    failed, flagged = len(batch.failed), len(batch.flagged)
    parts = [
        f"<span><b>{total}</b> inputs</span>",
        f"<span><b>{len(batch.runs)}</b> runs scored</span>",
        f'<span class="{"flag" if failed else ""}"><b>{failed}</b> failed</span>',
        f'<span class="{"warn" if flagged else ""}"><b>{flagged}</b> flagged</span>',
        f'<span class="{"flag" if batch.failures else ""}"><b>{len(batch.failures)}</b> '
        "unreadable</span>",
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
        fences = f"{_short(low)} .. {_short(high)} (1.5 IQR, on each run's max)"
        rows.append(("outlier fences", fences))
    table = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<p class="counts">{"".join(parts)}</p><table>{table}</table>'


def _stats(batch: Batch) -> list[tuple[str, str]]:
    if all(len(r.values) == 1 for r in batch.runs):
        return [("max", batch.measure)]
    return [("mean", f"mean {batch.measure}"), ("max", f"max {batch.measure}")]


def _runs_table(batch: Batch, runs: list[Run], anchors: bool = False) -> str:
    """A sortable table of ``runs`` (ranked: failed, flagged, passed); with ``anchors``,
    each row is where the distribution's points link to (a page without traces)."""
    entities = [k for k in ENTITIES if any(k in r.entities for r in runs)]
    arrays = any(r.array for r in runs)
    head = ["verdict", *entities, "why", "mean", "max", "at frame", "dummy", "over"]
    head += ["input", *(["array"] if arrays else [])]
    body = []
    for run in runs:
        # the input's file name, the whole path as its tooltip (a path does not wrap)
        file = _e(run.path.replace("\\", "/").rsplit("/", 1)[-1])
        name = f'<span class="name" title="{_e(run.path)}">{file}</span>'
        link = f'<a href="#{run.anchor}">{name}</a>' if batch.per_frame else name
        row_id = f' id="{run.anchor}"' if anchors else ""
        over = run.n_over if batch.threshold is not None or run.threshold is not None else None
        why = "; ".join(run.reasons(batch.threshold))
        cells = [f'<td class="{run.status}">{run.status}</td>']
        cells += [f"<td>{_e(run.entities.get(k))}</td>" for k in entities]
        cells.append(f'<td class="why">{_e(why)}</td>')
        cells += [_cell(run.mean), _cell(run.max), _cell(run.max_frame), _cell(run.dummy)]
        cells += [_cell(over), f"<td>{link}</td>"]
        if arrays:
            cells.append(f"<td>{_e(run.array)}</td>")
        body.append(f"<tr{row_id}>{''.join(cells)}</tr>")
    return f'<div class="wide">{_sortable(head, "".join(body))}</div>'


def _sortable(head: list[str], rows: str) -> str:
    header = "".join(f"<th>{h}</th>" for h in head)
    return f'<table class="sortable"><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>'


def _failures(batch: Batch) -> str:
    if not batch.failures:
        return '<p class="muted">Every input was read.</p>'
    rows = "".join(
        f"<tr><td>{_e(f.path)}</td><td>{_e(f.array)}</td><td>{_e(f.error)}</td></tr>"
        for f in batch.failures
    )
    return _sortable(["input", "array", "error"], rows)


def _trace(batch: Batch, run: Run) -> str:
    parts = [trace_svg(run, batch.threshold, batch.measure, f"trace-{run.anchor}")]
    why = run.reasons(batch.threshold)
    if why:
        parts.append(f'<p class="why {run.status}">{run.status}: {_e("; ".join(why))}</p>')
    if run.carpet is not None:
        parts.append(carpet_svg(run, f"carpet-{run.anchor}"))
    return f'<div class="trace" id="{run.anchor}">{"".join(parts)}</div>'


def _traces(batch: Batch) -> str:
    ordered = batch.ranked()
    shown, rest = ordered[:TRACES], ordered[TRACES:]
    parts = [_trace(batch, run) for run in shown]
    if rest:
        items = "".join(
            f'<li id="{r.anchor}">{_e(r.label)}: {r.status}, max {_short(r.max)} '
            f"(frame {_e(r.max_frame)}), mean {_short(r.mean)}</li>"
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
            "verdict": r.verdict,
            "status": r.status,
            "reasons": r.reasons(batch.threshold),
            **{k: r.entities.get(k) for k in ENTITIES},
            "mean": _finite(r.mean),
            "max": _finite(r.max),
            "max_frame": r.max_frame,
            "dummy": r.dummy,
            "threshold": _finite(r.threshold),
            "n_over": r.n_over,
            "n_nan": r.n_nan,
            "flagged": r.flagged,
            "outlier": r.outlier,
        }
        for r in batch.ranked()
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
    from .._version import __version__

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
            "<h2>Runs</h2>",
            "<p>Failed first, then flagged (passed, with frames over the threshold, NaN values "
            "or a high outlier), then passed; within each, by max. Dummy volumes and the frames "
            "whose difference involves one are not counted.</p>",
            _runs_table(batch, batch.ranked(), not batch.per_frame),
            "<h2>Distribution</h2>",
            f"<p>{_e(batch.measure)} over the batch: {what}, a point per run (hover for its "
            "name, click for its trace), failed runs in red, flagged in orange.</p>",
            distribution_svg(batch, _stats(batch), "distribution"),
        ]
    if batch.per_frame and batch.runs:
        sections += [
            "<h2>Per-run traces</h2>",
            f"<p>In the order above; the first {TRACES} drawn, the threshold dashed, counted "
            "frames over it marked, dummy volumes shaded. A failed run's carpet plot (a sample "
            "of its voxels over time, each scaled by its median and robust SD) follows its "
            "trace when the page was made by <code>dvars --report</code>.</p>",
            _traces(batch),
        ]
    sections += ["<h2>Unreadable inputs</h2>", _failures(batch)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(sections)
        + f'<script type="application/json" id="runs">{_data(batch)}</script>'
        + f"<script>{SORT}</script></body></html>\n"
    )
