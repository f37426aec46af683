"""What a batch computes (:class:`ScoreOptions`, :class:`DvarsOptions`) and what one input
gave (:class:`Result`)."""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass, field
from typing import Any, Literal

from .._nan import NanPolicy
from .._text import error_line
from ..metrics.dvars import DEFAULT_NORMALIZATION, DEFAULT_TOLERANCE
from ..qc import AUTO, Rules
from ..scalarise import ScalarisationMap, parse_scalarisation
from ..status import run_failed


@dataclass(frozen=True)
class ScoreOptions:
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
    dummy_scans: int | str = 0
    confounds: str | None = None
    external_data: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "dummy_scans", dummy_option(self.dummy_scans))
        if self.confounds is not None and self.dummy_scans != AUTO:
            raise ValueError(
                "score reads --confounds only for --dummy-scans auto (their "
                "non_steady_state_outlier* columns)"
            )
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

    @property
    def has_thresholds(self) -> bool:
        return self.fail_above is not None or self.fail_below is not None

    def check(self, score: float) -> Literal["pass", "fail"] | None:
        """``pass`` or ``fail`` against the thresholds (a NaN always fails); ``None``
        without thresholds."""
        if not self.has_thresholds:
            return None
        above, below = self.fail_above, self.fail_below
        high = above is not None and not score <= above
        return "fail" if high or (below is not None and not score >= below) else "pass"

    def scalarisation(self) -> ScalarisationMap:
        s = self.scalarise
        return s if isinstance(s, ScalarisationMap) else parse_scalarisation(s)

    def options(self) -> dict:
        """The options as the sidecar records them."""
        mine = {**vars(self), "scalarise": str(self.scalarisation()), "nan": str(self.nan)}
        return _recorded(
            mine,
            "axis n pad_value scalarise nu name mask nan fail_above fail_below stdin_format "
            "summary dummy_scans confounds external_data:allow_external_data",
        )


def _recorded(values: dict, names: str) -> dict:
    """The options a sidecar records, in the order of ``names``: each word a field of
    ``values``, or ``field:key`` for a field recorded under another key."""
    words = (word.partition(":") for word in names.split())
    return {key or name: values[name] for name, _, key in words}


def dummy_option(value: int | str) -> int | str:
    """``--dummy-scans``: ``auto`` or a count of frames (an int, or its text)."""
    if value == AUTO:
        return AUTO
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if count < 0 or (isinstance(value, float) and value != count):
        raise ValueError(f"--dummy-scans takes a number of frames or 'auto', not {value!r}")
    return count


@dataclass(frozen=True)
class DvarsOptions:
    """What ``smoothcli dvars`` computes: nipype's ``ComputeDVARS`` settings by default
    (``normalization`` its ``intensity_normalization``, ``tolerance`` its ``variance_tol``,
    ``drop_zero_variance`` its ``remove_zerovariance``), and how frames and runs are judged
    (:class:`smoothcli.qc.Rules`: thresholds on ``std_dvars`` and FD, run rules).
    ``dummy_scans`` is ``auto`` (the confounds table's ``non_steady_state_outlier*``
    columns, else nipype's detector) or a count; ``confounds`` a table path or ``auto``;
    ``carpet`` sends a carpet of each failed run back for the report."""

    mask: str | None = None
    normalization: float = DEFAULT_NORMALIZATION
    tolerance: float = DEFAULT_TOLERANCE
    drop_zero_variance: bool = True
    summary: bool = False
    stdin_format: str | None = None
    fail_above: float | str | None = None
    fail_below: float | None = None
    dummy_scans: int | str = AUTO
    confounds: str | None = None
    fd_above: float | None = None
    max_fail_fraction: float | None = None
    fail_mean_above: float | None = None
    carpet: bool = False
    external_data: bool = False

    def __post_init__(self) -> None:
        for label, value in (("normalization", self.normalization), ("tolerance", self.tolerance)):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{label} must be a finite number >= 0, not {value}")
        object.__setattr__(self, "dummy_scans", dummy_option(self.dummy_scans))
        self.rules  # noqa: B018 (checks the rules)
        if self.fd_above is not None and self.confounds is None:
            raise ValueError("--fd-above needs framewise displacement: give --confounds auto|FILE")

    @property
    def rules(self) -> Rules:
        above = float(self.fail_above) if isinstance(self.fail_above, int) else self.fail_above
        return Rules(
            above, self.fail_below, self.fd_above, self.max_fail_fraction, self.fail_mean_above
        )

    @property
    def has_thresholds(self) -> bool:
        return self.rules.any

    def options(self) -> dict:
        """The options as the sidecar records them."""
        return _recorded(
            vars(self),
            "mask normalization:intensity_normalization tolerance:variance_tol "
            "drop_zero_variance:remove_zerovariance summary dummy_scans confounds fail_above "
            "fail_below fd_above max_fail_fraction fail_mean_above stdin_format "
            "external_data:allow_external_data",
        )


@dataclass(frozen=True)
class RunQC:
    """What the QC of one run decided, for its censor file and the report: the array (an
    NPZ member, else ``None``), its frames, dummy volumes and failed frames, the repetition
    time, and with ``carpet`` a (voxels, frames) float32 sample of the run, robust-scaled,
    for the report's carpet plot of a failed run."""

    array: str | None
    frames: int
    dummy: int
    failed: tuple[int, ...]
    tr: float | None = None
    carpet: Any = None


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

    runs: list[RunQC] = field(default_factory=list)

    @property
    def failed_rows(self) -> list[dict]:
        """The rows that make the run fail (see :func:`run_failed`)."""
        return [row for row in self.rows if run_failed(row)]

    def __getstate__(self) -> dict:
        """Pickled from a worker: an error that cannot be pickled travels as its text."""
        state = dict(self.__dict__)
        if self.error is not None:
            try:
                pickle.dumps(self.error)
            except Exception:
                state["error"] = RuntimeError(error_line(self.error))
        return state
