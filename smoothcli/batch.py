"""Score many inputs: one task per input, each isolated, each giving rows.

A failure in one input becomes an error row and the batch goes on. ``score_paths`` is the
library entry point; the CLI streams :func:`iter_scores` instead.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .discover import ENTITIES, STDIN, discover, entities
from .engine import evaluate
from .loss import SmoothnessLoss
from .scalarise import ScalarisationMap, parse_scalarisation
from .sources import Loaded, open_bytes, open_path

__all__ = ["ScoreOptions", "columns_for", "iter_scores", "score_paths"]


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
    nan: Literal["propagate", "omit"] = "propagate"
    stdin_format: str | None = None
    fail_above: float | None = None
    fail_below: float | None = None

    def scalarisation(self) -> ScalarisationMap:
        s = self.scalarise
        return s if isinstance(s, ScalarisationMap) else parse_scalarisation(s)

    @property
    def has_thresholds(self) -> bool:
        return self.fail_above is not None or self.fail_below is not None

    def fails(self, score: float) -> bool:
        """A NaN score always fails a threshold."""
        if self.fail_above is not None and not score <= self.fail_above:
            return True
        return self.fail_below is not None and not score >= self.fail_below


def columns_for(paths: list[str], opts: ScoreOptions) -> list[str]:
    """The table's columns, known before any input is read, so output can stream."""
    found = {key for p in paths for key in entities(p)}
    cols = ["path"]
    if any(p == STDIN or p.lower().endswith(".npz") for p in paths):
        cols.append("array")
    cols += [e for e in ENTITIES if e in found]
    cols += ["name", "index", "score"]
    if opts.has_thresholds:
        cols.append("check")
    return [*cols, "status", "shape", "axis", "error"]


def one_line(exc: BaseException) -> str:
    plain = (ValueError, TypeError, OSError)
    text = str(exc) if isinstance(exc, plain) and str(exc) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


def _output_axis(scal: ScalarisationMap, ndim: int, time: int) -> int | None:
    """The input axis that a 1-d result runs along, if exactly one does."""
    hits = []
    for axis in range(ndim):
        pos: int | None = axis
        cur, t = ndim, time
        for m in scal.chain():
            pos, t, cur = m.out_position(cur, t, pos), m.out_time(cur, t), m.out_ndim(cur, t)
        if pos == 0:
            hits.append(axis)
    return hits[0] if len(hits) == 1 else None


def _score_loaded(item: Loaded, opts: ScoreOptions, scal: ScalarisationMap) -> list[dict]:
    shape = tuple(item.source.shape)
    ndim = len(shape)
    axis = item.time_axis if opts.axis == "time" else int(opts.axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for an input of shape {shape}")
    axis %= ndim
    loss = SmoothnessLoss(
        opts.nu, opts.name, n=opts.n, pad_value=opts.pad_value, axis=axis, scalarisation=scal
    )
    value = np.asarray(evaluate(loss, item.source, nan=opts.nan))
    base = {"shape": "x".join(map(str, shape)), "axis": axis}
    if value.ndim == 0:
        return [{**base, "index": "", "score": value.item()}]
    along = _output_axis(scal, ndim, axis) if value.ndim == 1 else None
    names = item.labels.get(along) if along is not None else None
    rows = []
    for idx in np.ndindex(value.shape):
        if names is not None and len(names) == value.shape[0]:
            label: Any = names[idx[0]]
        else:
            label = idx[0] if len(idx) == 1 else ",".join(map(str, idx))
        rows.append({**base, "index": label, "score": value[idx].item()})
    return rows


def _open(path: str, opts: ScoreOptions, mask: Any, stdin: Callable[[], bytes] | None) -> list:
    if path == STDIN:
        if stdin is None:
            raise ValueError("'-' means stdin, and there is none here")
        return open_bytes(stdin(), fmt=opts.stdin_format, mask=mask)
    return open_path(path, mask=mask)


def iter_scores(
    paths: Iterable[str],
    opts: ScoreOptions,
    *,
    stdin: Callable[[], bytes] | None = None,
    on_error: Callable[[str, BaseException], None] | None = None,
) -> Iterator[list[dict]]:
    """Yield the rows of each input in turn. Every input gives at least one row, with
    ``path``, ``score``, ``status`` (``ok``/``error``) and ``error``."""
    scal = opts.scalarisation()
    mask: Any = None
    mask_error: BaseException | None = None
    if opts.mask is not None:
        from .sources.nifti import load_mask

        try:
            mask = load_mask(opts.mask)
        except Exception as exc:  # every input will report it
            mask_error = ValueError(f"cannot use mask {opts.mask}: {one_line(exc)}")
    for path in paths:
        head = {"path": path, **entities(path), "name": opts.name}
        try:
            if mask_error is not None:
                raise mask_error
            rows = []
            for item in _open(path, opts, mask, stdin):
                for row in _score_loaded(item, opts, scal):
                    if item.member is not None:
                        row["array"] = item.member
                    rows.append(row)
            out = [{**head, **row, "status": "ok", "error": ""} for row in rows]
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one bad input must not stop the batch
            if on_error is not None:
                on_error(path, exc)
            out = [
                {**head, "index": "", "score": math.nan, "status": "error", "error": one_line(exc)}
            ]
        if opts.has_thresholds:
            for row in out:
                row["check"] = "fail" if opts.fails(row["score"]) else "pass"
        yield out


def score_paths(paths: str | Iterable[str], **options: Any) -> Any:
    """Score files or directories; return a ``pandas.DataFrame`` with one row per score.

    ``options`` are the fields of :class:`ScoreOptions` (``axis``, ``n``, ``pad_value``,
    ``scalarise``, ``nu``, ``name``, ``mask``, ``nan``, ``fail_above``, ``fail_below``).
    """
    import pandas as pd

    if isinstance(paths, str):
        paths = [paths]
    opts = ScoreOptions(**options)
    inputs = discover(paths)
    stdin = (lambda: sys.stdin.buffer.read()) if STDIN in inputs else None
    rows = [row for rows in iter_scores(inputs, opts, stdin=stdin) for row in rows]
    return pd.DataFrame(rows, columns=columns_for(inputs, opts))
