"""What the report shows, computed from rows: one :class:`Run` per scored array (its per-frame
values, which frames count, mean, max and where, its verdict and reasons), the failed
inputs, the threshold, the outliers, and the order runs are shown in. No plotting and no HTML
here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..discover import entities

#: the entities the page shows as columns
ENTITIES = ("sub", "ses", "task", "run")
#: a run's place in the page: failed first, then flagged, then passed
RANKS = {"fail": 0, "flagged": 1, "pass": 2}


@dataclass
class Run:
    """One scored array: ``values`` along ``frames`` (one value for a scalar score or a
    summary row); ``counted`` says which frames count (not the dummy volumes and the
    differences that involve one: ``check`` ``skip``). ``mean`` and ``max`` are over the
    counted finite values (``n_nan`` counts the others: a NaN always flags a run, as it
    fails every threshold). ``verdict`` is the table's (``pass``/``fail``); a run that
    passed but has failed frames, NaN values or is an outlier is *flagged*."""

    path: str
    array: str | None
    frames: list[Any]
    values: np.ndarray
    mean: float
    max: float
    max_frame: Any
    n_over: int = 0
    n_nan: int = 0
    summary: bool = False
    failed_check: bool = False
    outlier: str | None = None  # "high" or "low"
    anchor: str = ""
    verdict: str = "pass"
    why: str | None = None  # the table's reason
    dummy: int = 0
    counted: np.ndarray | None = None
    fails: np.ndarray | None = None
    threshold: float | None = None  # the run's own (--fail-above auto), from the table
    tr: float | None = None
    entities: dict[str, str] = field(default_factory=dict)
    carpet: Any = None

    @property
    def label(self) -> str:
        return f"{self.path} [{self.array}]" if self.array else self.path

    @property
    def flagged(self) -> bool:
        """Passed, but with something to look at: failed frames, NaN, a high outlier (a
        low one, a run smoother than the rest, is noted among its reasons only)."""
        return self.verdict != "fail" and (
            self.n_over > 0 or self.n_nan > 0 or self.failed_check or self.outlier == "high"
        )

    @property
    def status(self) -> str:
        """``fail``, ``flagged`` or ``pass``: the run's place in the page."""
        return "fail" if self.verdict == "fail" else "flagged" if self.flagged else "pass"

    def reasons(self, threshold: float | None) -> list[str]:
        why = [self.why] if self.why else []
        limit = self.threshold if self.threshold is not None else threshold
        if self.n_over and limit is not None and not self.why:
            if self.summary:
                what = f"{self.n_over} value(s)"
            elif len(self.values) == 1:
                what = "the value"
            else:
                what = f"{self.n_over} of {int(self.counted_mask.sum())} values"
            why.append(f"{what} above {limit:.4g} (or NaN)")
        if self.n_nan:
            why.append(f"{self.n_nan} NaN value(s)")
        if self.failed_check and not self.n_over and not self.why:
            why.append("failed the table's threshold")
        if self.outlier:
            why.append(f"{self.outlier} outlier (beyond 1.5 IQR)")
        return why

    @property
    def failed_frames(self) -> np.ndarray:
        """The frames whose check failed (on another rule too, such as FD)."""
        return np.zeros(len(self.values), bool) if self.fails is None else self.fails

    @property
    def counted_mask(self) -> np.ndarray:
        return np.ones(len(self.values), bool) if self.counted is None else self.counted


@dataclass(frozen=True)
class Failure:
    path: str
    array: str | None
    error: str


@dataclass
class Batch:
    """Everything the page needs. ``kind`` is ``score`` or ``dvars``; ``measure`` names the
    values (``score``, ``std_dvars``); ``per_frame`` says whether runs have traces."""

    kind: str
    measure: str
    per_frame: bool
    runs: list[Run]
    failures: list[Failure]
    threshold: float | None
    threshold_from: str | None
    fences: tuple[float, float] | None = None

    @property
    def flagged(self) -> list[Run]:
        return [r for r in self.runs if r.flagged]

    @property
    def failed(self) -> list[Run]:
        return [r for r in self.runs if r.verdict == "fail"]

    def ranked(self) -> list[Run]:
        """Failed runs first, then flagged, then passed; within each, by their max, largest
        first (a NaN max first: it fails every threshold)."""
        return sorted(
            self.runs,
            key=lambda r: (RANKS[r.status], not math.isnan(r.max), -r.max if r.max == r.max else 0),
        )


#: summary tables: (the column that tells them, kind, measure, its mean, max, frame of max)
_SUMMARIES = (
    ("dvars_std", "dvars", "std_dvars", ("dvars_std", "dvars_std_max", "dvars_std_max_frame")),
    ("mean", "score", "score", ("mean", "max", "frame")),
)


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def table_kind(columns: set[str]) -> tuple[str, str, tuple[str, str, str] | None]:
    """``(kind, measure, summary columns or None)`` of a table from its columns."""
    if "std_dvars" in columns:
        return "dvars", "std_dvars", None
    for key, kind, measure, summary in _SUMMARIES:
        if key in columns:
            return kind, measure, summary
    if "score" in columns:
        return "score", "score", None
    raise ValueError(
        "the rows have neither a score, std_dvars nor summary columns: not a table of "
        "'smoothcli score' or 'smoothcli dvars'"
    )


def _summary_run(path: str, array: Any, row: dict, columns: tuple[str, str, str]) -> Run:
    mean, high, frame = columns
    value, top = _nan(row.get(mean)), _nan(row.get(high))
    nan = int(math.isnan(value) or math.isnan(top))
    return Run(
        path, array, [None], np.array([value]), value, top, row.get(frame), n_nan=nan, summary=True
    )


def _series_run(path: str, array: Any, rows: list[dict], measure: str) -> Run:
    values = np.array([_nan(r.get(measure)) for r in rows])
    frames = [r.get("frame") if r.get("frame") is not None else r.get("index") for r in rows]
    named = [f for f in frames if f is not None]
    if len(set(map(str, named))) < len(named):
        raise ValueError(
            f"{path}: its rows repeat frames or indices, so they are of several arrays or "
            "tables: give the table with its array column, and each input in one table"
        )
    counted = np.array([r.get("check") != "skip" for r in rows], bool)
    fails = np.array([r.get("check") == "fail" for r in rows], bool)
    nan = np.isnan(values) & counted
    mine = counted & ~nan
    mean, top, at = math.nan, math.nan, None
    if mine.any():
        arg = int(np.argmax(np.where(mine, values, -np.inf)))
        mean, top, at = float(np.mean(values[mine])), float(values[arg]), frames[arg]
    run = Run(path, array, frames, values, mean, top, at, n_nan=int(nan.sum()))
    run.counted, run.fails = counted, fails
    return run


def _verdict(rows: list[dict], summary: bool) -> tuple[str, str | None]:
    """The run's verdict and the table's reason: the ``verdict`` column where the table has one
    (per-frame DVARS), a summary row's ``check``; else ``fail`` when any row's check failed."""
    first = rows[0]
    if "verdict" in first and first["verdict"] is not None:
        return str(first["verdict"]), first.get("reason")
    if summary:
        return ("fail" if first.get("check") == "fail" else "pass"), first.get("reason")
    return ("fail" if any(r.get("check") == "fail" for r in rows) else "pass"), None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _make_run(
    path: str, array: Any, ok: list[dict], kind: tuple, threshold: float | None,
    carpets: dict | None,
) -> Run | None:  # fmt: skip
    """One run of the page from its rows (``kind``: the table's kind, measure and summary
    columns); None for a per-frame dvars run with no value at all."""
    kind_name, measure, summary = kind
    if not ok:
        return None
    verdict, why = _verdict(ok, summary is not None)
    if kind_name == "dvars" and summary is None:  # frame 0 has no difference, so no value
        ok = [r for r in ok if r.get(measure) is not None]
    if not ok:
        return None
    if summary is not None:
        run = _summary_run(path, array, ok[0], summary)
    else:
        run = _series_run(path, array, ok, measure)
    run.verdict, run.why = verdict, why
    run.dummy = _int(ok[0].get("dummy"))
    run.threshold = _number(ok[0].get("threshold"))
    run.tr = _number(ok[0].get("tr"))
    named = entities(path)  # a table without entity columns (smoothcli bids's)
    run.entities = {
        k: str(ok[0][k]) if ok[0].get(k) is not None else named[k]
        for k in ENTITIES
        if ok[0].get(k) is not None or k in named
    }
    run.carpet = (carpets or {}).get((path, array))
    counted = [r for r, c in zip(ok, run.counted_mask, strict=True) if c]
    run.failed_check = any(r.get("check") == "fail" for r in counted)
    limit = threshold if threshold is not None else run.threshold
    if limit is not None:
        values = run.values[run.counted_mask] if summary is None else np.array([run.max])
        run.n_over = int(np.count_nonzero(~(values <= limit)))  # a NaN is over
        if summary is not None and isinstance(ok[0].get("n_fail"), int):
            run.n_over = max(run.n_over, ok[0]["n_fail"])
    return run


def make_batch(
    rows: list[dict],
    threshold: float | None = None,
    meta: dict | None = None,
    carpets: dict | None = None,
) -> Batch:
    """The report's content from the rows of one kind of table (``ValueError`` for rows
    smoothcli does not write). ``threshold`` wins over the ``fail_above`` that the table's
    options record (``meta``, from its sidecar). ``carpets`` maps ``(path, array)`` to a
    failed run's carpet (``dvars --report`` has the data at hand)."""
    columns = {name for row in rows for name in row}
    kind, measure, summary = table_kind(columns) if rows else ("score", "score", None)
    options = (meta or {}).get("Options") or {}
    source = None
    if threshold is not None:
        source = "--threshold"
    elif isinstance(options.get("fail_above"), int | float):
        threshold, source = float(options["fail_above"]), "the table's --fail-above"
    runs: list[Run] = []
    failures: list[Failure] = []
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row.get("path"), row.get("array")), []).append(row)
    for (path, array), group in groups.items():
        for r in group:
            if r.get("status") == "error":
                failures.append(Failure(str(path), array, str(r.get("error") or "unknown error")))
        ok = [r for r in group if r.get("status") != "error"]
        run = _make_run(str(path), array, ok, (kind, measure, summary), threshold, carpets)
        if run is not None:
            run.anchor = f"run-{len(runs)}"
            runs.append(run)
    per_frame = summary is None and any(
        r.get("frame") is not None for r in rows if r.get("status") != "error"
    )
    batch = Batch(kind, measure, per_frame, runs, failures, threshold, source)
    _mark_outliers(batch)
    return batch


def _mark_outliers(batch: Batch) -> None:
    """Tukey's fences on each run's max (its score for a single score): below the first
    quartile or above the third by more than 1.5 IQR is an outlier. With 4 runs or fewer, or
    an IQR of 0 (the runs mostly equal, where any difference would be "outlying"), none is."""
    maxes = np.array([r.max for r in batch.runs if math.isfinite(r.max)])
    if len(maxes) < 5:
        return
    q1, q3 = np.percentile(maxes, [25, 75])
    if not q3 > q1:
        return
    low, high = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    batch.fences = (float(low), float(high))
    for run in batch.runs:
        if math.isfinite(run.max) and run.max > high:
            run.outlier = "high"
        elif math.isfinite(run.max) and run.max < low:
            run.outlier = "low"
