"""Score many inputs: one task per input, each isolated, each giving a :class:`Result`.

A failure in one input becomes an error row and the batch goes on. ``score_paths`` is the
library entry point; the CLI streams :func:`iter_scores` instead.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

import numpy as np

from ._nan import NanPolicy
from ._text import error_line
from .discover import STDIN, Unlisted, discover, entities
from .scalarise import ScalarisationMap, parse_scalarisation

__all__ = ["Result", "ScoreOptions", "iter_scores", "score_paths"]


@dataclass(frozen=True)
class ScoreOptions:
    """What to compute; the CLI's options, as a library user passes them."""

    axis: int | Literal["time"] = "time"
    n: int = 1
    pad_value: float | None = None
    scalarise: str | ScalarisationMap = "vnorm(p=1, axis=None)"
    nu: float = 1.0
    name: str = "Smoothness"
    mask: str | None = None
    nan: NanPolicy | str = NanPolicy.propagate
    stdin_format: str | None = None
    fail_above: float | None = None
    fail_below: float | None = None

    def __post_init__(self) -> None:
        for label, value in (("nu", self.nu), ("pad_value", self.pad_value)):
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{label} must be a finite number, not {value}")
        above, below = self.fail_above, self.fail_below
        for label, value in (("upper", above), ("lower", below)):
            if value is not None and math.isnan(value):
                raise ValueError(f"the {label} threshold is NaN (a NaN score always fails)")
        if below is not None and above is not None and below > above:
            raise ValueError(
                f"the lower threshold {below:g} is above the upper threshold {above:g}: "
                "every score would fail"
            )
        object.__setattr__(self, "nan", NanPolicy.of(self.nan))

    def scalarisation(self) -> ScalarisationMap:
        s = self.scalarise
        return s if isinstance(s, ScalarisationMap) else parse_scalarisation(s)

    @property
    def has_thresholds(self) -> bool:
        return self.fail_above is not None or self.fail_below is not None

    def check(self, score: float) -> Literal["pass", "fail"] | None:
        """``pass`` or ``fail`` against the thresholds (a NaN always fails); ``None``
        without thresholds."""
        if not self.has_thresholds:
            return None
        if self.fail_above is not None and not score <= self.fail_above:
            return "fail"
        if self.fail_below is not None and not score >= self.fail_below:
            return "fail"
        return "pass"


@dataclass
class Result:
    """What one input gave: its rows (one error row if it failed; an error row among the
    others for an NPZ member that cannot be scored), its first error, and its warnings."""

    path: str
    rows: list[dict]
    error: BaseException | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def failed_rows(self) -> list[dict]:
        return [row for row in self.rows if row.get("check") == "fail"]


def _labels(item: Any, value: np.ndarray, scal: ScalarisationMap, axis: int) -> Iterator[Any]:
    """The ``index`` of each element of a vector or array score, in ``np.ndindex`` order: per
    output axis, the name of the element where the input axis it came from has names (CSV
    columns), else its position; several axes are joined by commas."""
    sources = scal.output_axes(len(item.source.shape), axis)
    names = []
    for pos, size in enumerate(value.shape):
        found = item.labels.get(sources[pos]) if pos < len(sources) else None
        names.append(found if found is not None and len(found) == size else None)
    for idx in np.ndindex(value.shape):
        parts = [n[i] if n is not None else i for n, i in zip(names, idx, strict=True)]
        yield parts[0] if len(parts) == 1 else ",".join(map(str, parts))


def _score_loaded(
    item: Any, opts: ScoreOptions, scal: ScalarisationMap, notes: list[str]
) -> list[dict]:
    from .engine import evaluate_info
    from .loss import SmoothnessLoss

    shape = tuple(item.source.shape)
    ndim = len(shape)
    axis = item.time_axis if opts.axis == "time" else int(opts.axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for an input of shape {shape}")
    axis %= ndim
    loss = SmoothnessLoss(
        opts.nu, opts.name, n=opts.n, pad_value=opts.pad_value, axis=axis, scalarisation=scal
    )
    info = evaluate_info(loss, item.source, nan=opts.nan)
    value = np.asarray(info.value)
    if info.differences == 0:
        notes.append(f"-n {opts.n} leaves no differences along axis {axis} (length {shape[axis]})")
    elif info.nonfinite and opts.nan is NanPolicy.propagate and np.isnan(value).any():
        nans = int(np.isnan(value).sum())
        which = "score is NaN" if value.size == 1 else f"{nans} of {value.size} scores are NaN"
        notes.append(
            f"{which}: {info.nonfinite} of {info.differences} differences are NaN or "
            "infinite (--nan omit leaves them out)"
        )
    base = {
        "shape": "x".join(map(str, shape)),
        "axis": axis,
        "dtype": np.dtype(info.dtype).name,
    }
    if value.ndim == 0:
        return [{**base, "index": None, "score": value[()]}]
    labels = _labels(item, value, scal, axis)
    rows = []
    for idx, label in zip(np.ndindex(value.shape), labels, strict=True):
        rows.append({**base, "index": label, "score": value[idx]})
    return rows


def _open(path: str, opts: ScoreOptions, mask: Any, stdin: BinaryIO | None) -> list:
    from .sources import open_path, open_stdin

    if isinstance(path, Unlisted):
        raise ValueError(path.reason)
    if path == STDIN:
        if stdin is None:
            raise ValueError("'-' means stdin, and there is none here")
        return open_stdin(stdin, fmt=opts.stdin_format, mask=mask)
    return open_path(path, mask=mask)


def _score_one(
    path: str, opts: ScoreOptions, scal: ScalarisationMap, mask: Any, stdin: BinaryIO | None
) -> Result:
    head = {"path": path, **entities(path), "name": opts.name}
    notes: list[str] = []
    rows: list[dict] = []
    error: Exception | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for item in _open(path, opts, mask, stdin):
                notes.extend(item.notes)
                member = {"array": item.member} if item.member is not None else {}
                if item.problem is not None:  # one array of several: the others still count
                    error = error or item.problem
                    rows.append({**head, **member, **_error_row(item.problem)})
                    continue
                for row in _score_loaded(item, opts, scal, notes):
                    row = {**head, **member, **row, "status": "ok"}
                    rows.append({**row, "check": opts.check(row["score"])})
        except Exception as exc:  # one bad input must not stop the batch; MemoryError too
            error, rows = exc, [{**head, **_error_row(exc)}]
    notes.extend(str(w.message) for w in caught)  # said before a failure too
    return Result(path, rows, error, notes)


def _error_row(exc: BaseException) -> dict:
    return {"score": None, "status": "error", "error": error_line(exc)}


def load_mask(path: str) -> Any:
    """Load ``--mask``; a ``ValueError`` that names the problem if it cannot serve."""
    from .sources.nifti import load_mask as load

    try:
        return load(path)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot use mask {path}: {error_line(exc)}") from None


def iter_scores(
    paths: Iterable[str],
    opts: ScoreOptions,
    *,
    stdin: BinaryIO | None = None,
    mask: Any = None,
) -> Iterator[Result]:
    """Yield each input's :class:`Result` in turn. Every input gives at least one row, with
    ``path``, ``score``, ``status`` (``ok``/``error``) and ``error``. ``mask`` is a mask
    already loaded with :func:`load_mask`; without it, ``opts.mask`` is loaded here."""
    scal = opts.scalarisation()
    if mask is None and opts.mask is not None:
        mask = load_mask(opts.mask)
    for path in paths:
        yield _score_one(path, opts, scal, mask, stdin)


def score_paths(paths: str | Iterable[str], **options: Any) -> Any:
    """Score files or directories; return a ``pandas.DataFrame`` with one row per score.

    ``options`` are the fields of :class:`ScoreOptions` (``axis``, ``n``, ``pad_value``,
    ``scalarise``, ``nu``, ``name``, ``mask``, ``nan``, ``fail_above``, ``fail_below``).
    The columns are :data:`smoothcli.output.COLUMNS`; BIDS entities are strings.
    """
    import pandas as pd

    from .output import COLUMNS

    if isinstance(paths, str):
        paths = [paths]
    opts = ScoreOptions(**options)
    inputs = discover(paths)
    stdin = sys.stdin.buffer if STDIN in inputs else None
    rows = [row for result in iter_scores(inputs, opts, stdin=stdin) for row in result.rows]
    names = [c.name for c in COLUMNS]
    frame = pd.DataFrame(rows, columns=names)
    frame["score"] = frame["score"].astype(np.float64)
    # strings stay strings ('01' is not 1), and a missing value is None, not NaN
    text = [c.name for c in COLUMNS if c.kind in ("text", "entity", "level")]
    frame[text] = frame[text].astype(object).where(frame[text].notna(), None)
    return frame
