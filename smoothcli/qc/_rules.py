"""Which frames count and how a run is judged: frame checks, run verdicts and their reasons.

Values never change here; what QC options change is the judgement:

- **dummy frames**: with ``d`` dummy volumes (frames ``0 .. d-1``), every frame whose
  difference involves one (frames ``1 .. d``) is ``skip``: it keeps its value and never
  counts toward a verdict or a statistic; frame 0 (no difference) is ``skip`` too when
  ``d > 0``;
- **frame rules**: a counted frame ``fail``\\ s when its value is above ``fail_above`` (a
  number, or ``auto``: the run's own 75th percentile + 1.5 IQR of its counted values, as
  ``fsl_motion_outliers`` by default) or below ``fail_below`` (a NaN always fails), or its
  FD is above ``fd_above``: fMRIPrep's motion outliers are "FD > 0.5 mm or std DVARS > 1.5";
- **run rules**: a run fails when more than ``max_fail_fraction`` of its counted frames
  fail, or when the mean of its counted values is above ``fail_mean_above``. Without a run
  rule, a run fails when any counted frame fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: ``--fail-above auto``
AUTO = "auto"
#: failed frames named in a reason, at most
NAMED_FRAMES = 8


def _finite(label: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ValueError(f"{label} must be a finite number, not {value}")


@dataclass(frozen=True)
class Rules:
    """Frame and run rules (see the module's docstring); ``measure`` names the values."""

    fail_above: float | str | None = None
    fail_below: float | None = None
    fd_above: float | None = None
    max_fail_fraction: float | None = None
    fail_mean_above: float | None = None
    measure: str = "std_dvars"

    def __post_init__(self) -> None:
        if isinstance(self.fail_above, str):
            if self.fail_above != AUTO:
                raise ValueError(f"--fail-above takes a number or 'auto', not {self.fail_above!r}")
        else:
            _finite("--fail-above", self.fail_above)
        _finite("--fail-below", self.fail_below)
        _finite("--fd-above", self.fd_above)
        _finite("--fail-mean-above", self.fail_mean_above)
        above, below = self.fail_above, self.fail_below
        if isinstance(above, float | int) and below is not None and below > above:
            raise ValueError(
                f"--fail-below {below:g} is above --fail-above {above:g}: every frame would fail"
            )
        fraction = self.max_fail_fraction
        if fraction is not None and not 0 <= fraction <= 1:
            raise ValueError(f"--max-fail-fraction is a fraction from 0 to 1, not {fraction}")
        if fraction is not None and not self.frame_rules:
            raise ValueError(
                "--max-fail-fraction needs a frame rule to count failed frames by "
                "(--fail-above, --fail-below or --fd-above)"
            )

    @property
    def frame_rules(self) -> bool:
        return any(v is not None for v in (self.fail_above, self.fail_below, self.fd_above))

    @property
    def run_rules(self) -> bool:
        return self.max_fail_fraction is not None or self.fail_mean_above is not None

    @property
    def any(self) -> bool:
        return self.frame_rules or self.run_rules


@dataclass(frozen=True)
class Judgement:
    """A run judged: ``checks`` per frame (``None``, ``pass``, ``fail``, ``skip``), the
    value threshold used (``auto``'s own), how many frames counted, those that failed,
    their fraction, the mean of the counted values, the run's verdict (``pass``/``fail``,
    ``None`` without rules) and a one-line reason (``None`` when nothing failed)."""

    checks: list[str | None]
    threshold: float | None
    counted: int
    failed: tuple[int, ...]
    fraction: float | None
    mean: float | None
    verdict: str | None
    reason: str | None


def counted_frames(frames: int, dummy: int) -> range:
    """The frames whose difference involves no dummy volume (and that have one: not 0)."""
    return range(min(max(dummy, 0) + 1, frames), frames)


def auto_threshold(values: np.ndarray) -> float | None:
    """The 75th percentile + 1.5 IQR of ``values`` (NumPy's default, linear)."""
    if not values.size:
        return None
    q25, q75 = np.percentile(values, [25, 75])
    return float(q75 + 1.5 * (q75 - q25))


def _percent(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` as percentages, with digits enough to tell them apart."""
    for digits in (1, 2, 3, 4):
        x, y = f"{100 * a:.{digits}f}", f"{100 * b:.{digits}f}"
        if (x != y) == (a != b):
            break
    return f"{float(x):g}%", f"{float(y):g}%"


def _fraction_text(failed: int, counted: int, fraction: float, limit: float | None) -> str:
    text = f"{failed} of {counted} frames failed"
    if limit is None:
        return text
    shown, most = _percent(fraction, limit)
    return f"{text} ({shown} {'>' if fraction > limit else '<='} {most})"


def _frames_text(failed: tuple[int, ...]) -> str:
    named = ", ".join(map(str, failed[:NAMED_FRAMES]))
    more = ", ..." if len(failed) > NAMED_FRAMES else ""
    return f"frame{'s' if len(failed) > 1 else ''} {named}{more}"


def judge(values: np.ndarray, fd: np.ndarray | None, dummy: int, rules: Rules) -> Judgement:
    """Judge one run: ``values`` per frame (frame 0, which has no difference, NaN), ``fd`` per frame
    or ``None``, ``dummy`` dummy volumes. ``ValueError`` when no frame is left to count."""
    values = np.asarray(values, np.float64)
    frames = len(values)
    counted = counted_frames(frames, dummy)
    if not len(counted):
        raise ValueError(
            f"no frame is left to judge: {dummy} dummy scan(s) in a run of {frames} frames "
            "(every difference involves one)"
        )
    if rules.fd_above is not None and fd is None:
        raise ValueError("--fd-above needs framewise displacement: give --confounds")
    mine = values[counted.start :]
    threshold = auto_threshold(mine) if rules.fail_above == AUTO else rules.fail_above
    fail = np.zeros(len(mine), bool)
    if threshold is not None:
        fail |= ~(mine <= threshold)
    if rules.fail_below is not None:
        fail |= ~(mine >= rules.fail_below)
    if rules.fd_above is not None and fd is not None:
        fail |= ~(np.asarray(fd, np.float64)[counted.start :] <= rules.fd_above)
    checks: list[str | None] = ["skip" if dummy > 0 else None]
    checks += ["skip"] * (counted.start - 1)
    checks += ["fail" if f else "pass" for f in fail] if rules.frame_rules else [None] * len(mine)
    failed = tuple(int(t) for t in np.flatnonzero(fail) + counted.start)
    fraction = len(failed) / len(mine)
    mean = float(np.mean(mine))
    verdict: str | None = None
    why: list[str] = []
    if rules.run_rules:
        limit, top = rules.max_fail_fraction, rules.fail_mean_above
        over = limit is not None and fraction > limit
        high = top is not None and mean > top
        verdict = "fail" if over or high else "pass"
        if failed:
            why.append(_fraction_text(len(failed), len(mine), fraction, limit))
        if high:
            why.append(f"mean {rules.measure} {mean:.4g} > {top:g}")
    elif rules.frame_rules:
        verdict = "fail" if failed else "pass"
        if failed:
            why.append(f"{len(failed)} of {len(mine)} frames failed ({_frames_text(failed)})")
    shown = float(threshold) if threshold is not None else None
    reason = "; ".join(why) or None
    return Judgement(checks, shown, len(mine), failed, fraction, mean, verdict, reason)
