"""What a batch computes (:class:`ScoreOptions`, :class:`DvarsOptions`) and what one input
gave (:class:`Result`)."""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from typing import Literal

from .._nan import NanPolicy
from .._text import error_line
from ..metrics.dvars import DEFAULT_NORMALIZATION, DEFAULT_TOLERANCE
from ..scalarise import ScalarisationMap, parse_scalarisation

__all__ = ["DvarsOptions", "Result", "ScoreOptions", "Thresholds"]


class Thresholds:
    """``fail_above``/``fail_below`` on a per-element value (a mixin of the options)."""

    fail_above: float | None
    fail_below: float | None

    def _check_thresholds(self) -> None:
        above, below = self.fail_above, self.fail_below
        for label, value in (("upper", above), ("lower", below)):
            if value is not None and math.isnan(value):
                raise ValueError(f"the {label} threshold is NaN (a NaN score always fails)")
        if below is not None and above is not None and below > above:
            raise ValueError(
                f"the lower threshold {below:g} is above the upper threshold {above:g}: "
                "every score would fail"
            )

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


@dataclass(frozen=True)
class ScoreOptions(Thresholds):
    """What to compute; the CLI's options, as a library user passes them. With ``summary``,
    a vector result becomes one row per input (mean, median, max and where, min)."""

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
    summary: bool = False

    def __post_init__(self) -> None:
        for label, value in (("nu", self.nu), ("pad_value", self.pad_value)):
            if value is not None and not math.isfinite(value):
                raise ValueError(f"{label} must be a finite number, not {value}")
        self._check_thresholds()
        object.__setattr__(self, "nan", NanPolicy.of(self.nan))

    def scalarisation(self) -> ScalarisationMap:
        s = self.scalarise
        return s if isinstance(s, ScalarisationMap) else parse_scalarisation(s)

    def options(self) -> dict:
        """The options as the sidecar records them."""
        return {
            "axis": self.axis,
            "n": self.n,
            "pad_value": self.pad_value,
            "scalarise": str(self.scalarisation()),
            "nu": self.nu,
            "name": self.name,
            "mask": self.mask,
            "nan": str(self.nan),
            "fail_above": self.fail_above,
            "fail_below": self.fail_below,
            "stdin_format": self.stdin_format,
            "summary": self.summary,
        }


@dataclass(frozen=True)
class DvarsOptions(Thresholds):
    """What ``smoothcli dvars`` computes: nipype's ``ComputeDVARS`` settings by default
    (``normalization`` its ``intensity_normalization``, ``tolerance`` its ``variance_tol``,
    ``drop_zero_variance`` its ``remove_zerovariance``). Thresholds apply to ``std_dvars``."""

    mask: str | None = None
    normalization: float = DEFAULT_NORMALIZATION
    tolerance: float = DEFAULT_TOLERANCE
    drop_zero_variance: bool = True
    summary: bool = False
    stdin_format: str | None = None
    fail_above: float | None = None
    fail_below: float | None = None

    def __post_init__(self) -> None:
        for label, value in (("normalization", self.normalization), ("tolerance", self.tolerance)):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{label} must be a finite number >= 0, not {value}")
        self._check_thresholds()

    def options(self) -> dict:
        """The options as the sidecar records them."""
        return {
            "mask": self.mask,
            "intensity_normalization": self.normalization,
            "variance_tol": self.tolerance,
            "remove_zerovariance": self.drop_zero_variance,
            "summary": self.summary,
            "fail_above": self.fail_above,
            "fail_below": self.fail_below,
            "stdin_format": self.stdin_format,
        }


@dataclass
class Result:
    """What one input gave: its rows (one error row if it failed; an error row among the
    others for an NPZ member that cannot be scored), its first error, its warnings, and the
    error's traceback as text (it survives the trip back from a worker process)."""

    path: str
    rows: list[dict]
    error: BaseException | None = None
    warnings: list[str] = field(default_factory=list)
    traceback: str | None = None

    @property
    def failed_rows(self) -> list[dict]:
        return [row for row in self.rows if row.get("check") == "fail"]

    def __getstate__(self) -> dict:
        """Pickled from a worker: an error that cannot be pickled travels as its text."""
        state = dict(self.__dict__)
        if self.error is not None:
            try:
                pickle.dumps(self.error)
            except Exception:
                state["error"] = RuntimeError(error_line(self.error))
        return state
