"""The report's plots, drawn by matplotlib: inline SVG for the page, PNG files for ``--plot``.

matplotlib because it is the plotting library of scientific Python (nipype's and fMRIPrep's
DVARS plots and MRIQC's reports are drawn with it), it renders to SVG and PNG with no browser
and no JavaScript, and its SVG inlines into one self-contained page; links on the points of
a scatter (``set_urls``) make each run in the distribution clickable. Figures are made with
:class:`matplotlib.figure.Figure`, never pyplot, so no global state and no GUI backend.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ._model import Batch, Run

MISSING = (
    "this needs matplotlib, which draws the plots: install it with pip install 'smoothcli[report]'"
)
OK, FLAG, WARN, LINE = "#3b6ea8", "#c0392b", "#d68910", "#444444"
#: what is removed from matplotlib's SVG to inline it: the XML prolog, the DOCTYPE, the
#: metadata, and namespace declarations (HTML's parser knows svg and xlink by itself), so the
#: page names no URL at all
_PROLOG = re.compile(
    r"<\?xml[^>]*\?>\s*|<!DOCTYPE[^>]*>\s*|<metadata>.*?</metadata>\s*|\s+xmlns(:\w+)?=\"[^\"]*\"",
    re.S,
)


def require_matplotlib() -> None:
    """``ImportError`` with :data:`MISSING` when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(MISSING) from None


def _figure(width: float, height: float, fixed: dict | None = None) -> Any:
    """A figure and its axes: laid out by matplotlib's constrained layout, or with
    ``fixed`` margins (``subplots_adjust``), which draws once instead of twice."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout=None if fixed else "constrained")
    if fixed:
        fig.subplots_adjust(**fixed)
    return fig, fig.add_subplot()


def _svg(fig: Any, salt: str) -> str:
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _PROLOG.sub("", buffer.getvalue())


def _positions(frames: Sequence[Any]) -> np.ndarray:
    try:
        return np.array([float(f) for f in frames])
    except (TypeError, ValueError):  # labels (CSV columns): their positions
        return np.arange(len(frames), dtype=float)


def _trace(run: Run, threshold: float | None, measure: str, width: float = 6.4) -> Any:
    from matplotlib.ticker import MaxNLocator

    seconds = run.tr is not None and run.tr > 0
    height = 2.25 if seconds else 1.7  # room above for the axis in seconds and the title
    top = 1 - (0.5 if seconds else 0.24) / height
    margins = {"left": 0.1, "right": 0.98, "bottom": 0.41 / height, "top": top}
    # fixed margins: 50 traces in a page, and constrained layout is half of each one's time
    fig, ax = _figure(width, height, margins)
    x = _positions(run.frames)
    counted = run.counted_mask
    if run.dummy and len(x):  # the dummy volumes and the differences that involve one
        ax.axvspan(min(x.min(), 0) - 0.5, run.dummy + 0.5, color="#bbbbbb", alpha=0.35, lw=0)
    ax.plot(x, run.values, color=LINE, linewidth=0.9)
    limit = run.threshold if run.threshold is not None else threshold
    if limit is not None and math.isfinite(limit):
        ax.axhline(limit, color=FLAG, linestyle="--", linewidth=0.8)
        over = (~(run.values <= limit) | run.failed_frames) & counted
        shown = np.where(np.isnan(run.values), limit, run.values)
        ax.plot(x[over], shown[over], "o", color=FLAG, markersize=3.5, linestyle="none")
    ax.set_ylabel(measure, fontsize=8, parse_math=False)
    ax.set_xlabel("frame", fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=7)
    if seconds:
        tr = float(run.tr)  # type: ignore[arg-type]
        second = ax.secondary_xaxis("top", functions=(lambda f: f * tr, lambda s: s / tr))
        second.set_xlabel("seconds", fontsize=7, labelpad=1, loc="right")
        second.tick_params(labelsize=6.5, pad=1)
    title = _short(run.label, 70) + (f"  ({run.dummy} dummy)" if run.dummy else "")
    ax.set_title(title, fontsize=8, loc="left", parse_math=False)
    ax.margins(x=0.01)
    return fig


def trace_svg(run: Run, threshold: float | None, measure: str, salt: str) -> str:
    """One run's per-frame values: a line, the threshold dashed, the counted frames over it
    dotted, the dummy volumes shaded; a second axis in seconds when the TR is known."""
    return _svg(_trace(run, threshold, measure), salt)


#: what a PNG of smoothcli's says in its ``Software`` text chunk: only such a file is replaced
PNG_SOFTWARE = "smoothcli"


def trace_png(run: Run, threshold: float | None, measure: str) -> bytes:
    """:func:`trace_svg` as a PNG (``--plot``), marked as smoothcli's."""
    buffer = io.BytesIO()
    fig = _trace(run, threshold, measure)
    fig.savefig(buffer, format="png", metadata={"Software": PNG_SOFTWARE})
    return buffer.getvalue()


def is_our_png(head: bytes) -> bool:
    """Whether a file's first bytes are a PNG that :func:`trace_png` wrote."""
    marker = b"tEXtSoftware\x00" + PNG_SOFTWARE.encode()
    return head.startswith(b"\x89PNG\r\n\x1a\n") and marker in head


def carpet_svg(run: Run, salt: str) -> str:
    """A failed run's carpet plot: rows are a sample of its voxels, columns its frames,
    each voxel centred on its median and divided by its robust SD (clipped to +-3), as a
    greyscale image inside the SVG, with the run's frame axis below."""
    from matplotlib.ticker import MaxNLocator

    data = np.asarray(run.carpet, np.float32)
    fig, ax = _figure(6.4, 1.9, {"left": 0.1, "right": 0.98, "bottom": 0.22, "top": 0.9})
    ax.imshow(
        data, aspect="auto", cmap="gray", vmin=-3, vmax=3, interpolation="nearest",
        extent=(-0.5, data.shape[1] - 0.5, data.shape[0], 0),
    )  # fmt: skip
    if run.dummy:  # the carpet's columns are volumes: the dummy ones are 0 .. d-1
        ax.axvline(run.dummy - 0.5, color=FLAG, linewidth=0.8, linestyle=":")
    ax.set_xlabel("frame", fontsize=8)
    ax.set_ylabel("voxels", fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=7)
    ax.set_title(f"carpet: {data.shape[0]} voxels", fontsize=8, loc="left", parse_math=False)
    return _svg(fig, salt)


def distribution_svg(batch: Batch, stats: Sequence[tuple[str, str]], salt: str) -> str:
    """Each run as a point, one row per statistic (``(attribute, label)``: a run's mean and
    max, or its score), over a box of the quartiles; the threshold as a line; failed runs in
    red, flagged in orange; each point links to the run's place in the page and is named in
    its tooltip (an SVG ``<title>``: names drawn beside the points would cover each other)."""
    fig, ax = _figure(7.5, 0.8 + 1.1 * len(stats))
    rng = np.random.default_rng(0)  # the same jitter every time: a page can be compared
    for row, (attr, _label) in enumerate(stats):
        values = np.array([getattr(r, attr) for r in batch.runs], dtype=float)
        finite = np.isfinite(values)
        if finite.any():
            ax.boxplot(
                values[finite], positions=[row], orientation="horizontal", widths=0.5,
                showfliers=False, patch_artist=False, medianprops={"color": LINE},
            )  # fmt: skip
        y = row + rng.uniform(-0.18, 0.18, len(values))
        colors = [{"fail": FLAG, "flagged": WARN}.get(r.status, OK) for r in batch.runs]
        points = ax.scatter(values[finite], y[finite], s=14, c=np.array(colors)[finite], zorder=3)
        points.set_urls([f"#{r.anchor}" for r, ok in zip(batch.runs, finite, strict=True) if ok])
    if batch.threshold is not None and math.isfinite(batch.threshold):
        ax.axvline(batch.threshold, color=FLAG, linestyle="--", linewidth=1)
        ax.annotate(
            f"threshold {batch.threshold:g}", (batch.threshold, len(stats) - 0.5),
            fontsize=7, color=FLAG, xytext=(3, 0), textcoords="offset points",
        )  # fmt: skip
    ax.set_yticks(range(len(stats)), [label for _, label in stats], fontsize=8, parse_math=False)
    ax.set_ylim(-0.6, len(stats) - 0.4)
    ax.set_xlabel(batch.measure, fontsize=8, parse_math=False)
    ax.tick_params(axis="x", labelsize=7)
    return _tooltips(_svg(fig, salt), batch)


def _tooltips(svg: str, batch: Batch) -> str:
    """A ``<title>`` (the browser's tooltip) inside each point's link: the run's name, its
    verdict and its values."""
    import html

    titles = {
        r.anchor: f"{r.label}\n{r.status}; mean {r.mean:.4g}, max {r.max:.4g}" for r in batch.runs
    }

    def add(match: re.Match) -> str:  # and in this page, not in a new tab
        text = titles.get(match.group(1))
        title = f"<title>{html.escape(text)}</title>" if text else ""
        return f'<a xlink:href="#{match.group(1)}">{title}'

    return re.sub(r'<a xlink:href="#(run-\d+)"(?: target="_blank")?>', add, svg)


def _short(label: str, width: int = 48) -> str:
    """A run's file name (no folders), cut to ``width`` characters."""
    name = label.replace("\\", "/").rsplit("/", 1)[-1]
    return name if len(name) <= width else name[: width - 1] + "…"
