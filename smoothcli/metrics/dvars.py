"""DVARS, as nipype's ``compute_dvars`` defines it (and fMRIPrep's confounds and MRIQC's
IQMs report it), computed in float64 in bounded memory.

For a (voxels, frames) matrix ``Y`` of the brain's values (Power et al. 2012; standardised
as Nichols 2013, "Notes on creating a standardized version of DVARS", arXiv:1704.01469):

1. intensity normalisation: ``Y = Y / median(Y) * 1000`` (the median over every voxel and
   frame; skipped when the target is 0);
2. each voxel's robust SD: (75th - 25th percentile, NumPy's ``method="lower"``) / 1.349;
   voxels whose robust SD is at most a tolerance are dropped (nipype's
   ``remove_zerovariance``);
3. each voxel's lag-1 autocorrelation ``ar1``: of its demeaned series, Yule-Walker
   (``sum(y[t] y[t+1]) / sum(y[t]^2)``);
4. the SD a voxel's frame-to-frame difference should have: ``sqrt(2 (1 - ar1)) * robust SD``;
5. per frame ``t >= 1``, with ``D = Y[:, t] - Y[:, t-1]``: ``dvars = sqrt(mean(D^2))``
   (nipype's "nstd"), ``std_dvars = dvars / mean(expected SD)``, ``vx_std_dvars =
   sqrt(mean((D / expected SD)^2))``.

The median is exact from a radix select on the stored values (:mod:`._select`); everything
else goes through the voxels a few thousand at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._select import middle
from ._series import ROW_BYTES, Series

__all__ = ["DEFAULT_NORMALIZATION", "DEFAULT_TOLERANCE", "Dvars", "DvarsError", "dvars"]

#: the median of the normalised data (nipype's ``intensity_normalization``)
DEFAULT_NORMALIZATION = 1000.0
#: a voxel whose robust SD is at most this is dropped (nipype's ``variance_tol``)
DEFAULT_TOLERANCE = 1e-7
#: the interquartile range of a normal distribution, in SDs (nipype's constant)
IQR_TO_SD = 1.349


class DvarsError(ValueError):
    """The data cannot give DVARS: one line that says why."""


@dataclass(frozen=True)
class Dvars:
    """Per-frame DVARS (frame 0 has none: each array holds frames 1..T-1), the voxels used
    and those dropped for a robust SD at or under the tolerance, and the median the data was
    divided by (``None`` without normalisation)."""

    dvars: np.ndarray
    std_dvars: np.ndarray
    vx_std_dvars: np.ndarray
    voxels: int
    dropped: int
    median: float | None


def _robust_sd(stored: np.ndarray, value: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Each row's (75th - 25th percentile) / 1.349 of ``value(stored)``, NumPy's
    ``method="lower"``, which picks the element at ``floor(q (T - 1))`` in sorted order: for an
    increasing ``value``, the percentiles of the values are the values of the stored ones (the
    same arithmetic on the element as on the row). Sorting the stored rows (int16) with NumPy's
    vectorised sort is ~14x faster than ``np.partition`` (``np.percentile``'s), more on float64."""
    last = stored.shape[1] - 1
    k25, k75 = math.floor(0.25 * last), math.floor(0.75 * last)
    ordered = np.sort(stored, axis=1)
    return (value(ordered[:, k75]) - value(ordered[:, k25])) / IQR_TO_SD


def _ar1(y: np.ndarray) -> np.ndarray:
    """Each row's lag-1 autocorrelation (Yule-Walker, order 1) of its demeaned series."""
    c = y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.einsum("ij,ij->i", c[:, 1:], c[:, :-1]) / np.einsum("ij,ij->i", c, c)


def _check(series: Series) -> None:
    """At least 2 frames, a voxel, and (for floats) every value finite."""
    voxels, frames = series.shape
    if frames < 2:
        raise DvarsError(f"DVARS needs at least 2 frames; the data have {frames}")
    if voxels == 0:
        raise DvarsError("no voxel to compute DVARS over")
    if series.data.dtype.kind == "f":  # on the stored values: no float64 copy of each row
        step = max(ROW_BYTES // max(series.data.itemsize * frames, 1), 1)
        rows = (series.data[i : i + step] for i in range(0, voxels, step))
        bad = sum(int(np.count_nonzero(~np.isfinite(r))) for r in rows)
        if bad:
            raise DvarsError(f"{bad} values are NaN or infinite; DVARS needs finite data")


def _normaliser(series: Series, normalization: float) -> float | None:
    """The median the data are divided by (then multiplied by ``normalization``); None
    without normalisation."""
    if not normalization:
        return None
    lo, hi = middle(series.data)
    median = float((series.scaled(lo) + series.scaled(hi)) / 2)
    if median == 0:
        raise DvarsError(
            "the median of the data is 0, so they cannot be scaled to a median of "
            f"{normalization:g} (--intensity-normalization 0 leaves them unscaled)"
        )
    return median


def _check_voxels(voxels: int, used: int, zero: int, tolerance: float) -> None:
    if zero:
        raise DvarsError(
            f"{zero} of {voxels} voxels have a robust SD of at most {tolerance:g} (constant, "
            "or an interquartile range of 0): their standardised differences divide by 0 "
            "(without --keep-zero-variance they are left out)"
        )
    if not used:
        raise DvarsError(
            f"every one of the {voxels} voxels has a robust SD of at most {tolerance:g}: "
            "no voxel is left to compute DVARS over"
        )


def dvars(
    series: Series,
    *,
    normalization: float = DEFAULT_NORMALIZATION,
    tolerance: float = DEFAULT_TOLERANCE,
    drop_zero_variance: bool = True,
) -> Dvars:
    """DVARS of ``series`` (voxels x frames), nipype's ``compute_dvars`` in float64. Raises
    :class:`DvarsError` when there is no difference (fewer than 2 frames), a value is not finite,
    the median is 0 (normalisation would divide by it), no voxel is left, or a voxel's expected
    difference SD is 0 (with ``drop_zero_variance=False``: a robust SD of 0; the message says how
    many voxels)."""
    voxels, frames = series.shape
    _check(series)
    median = _normaliser(series, normalization)
    sq = np.zeros(frames - 1)
    vx = np.zeros(frames - 1)
    sd_sum, used, zero = 0.0, 0, 0

    def value(stored: np.ndarray) -> np.ndarray:
        y = series.scaled(stored)
        return y / median * normalization if median is not None else y

    slope = series.slope if series.slope is not None else 1.0
    increasing = slope > 0 and (median is None or median * normalization > 0)
    for rows, y in series.rows():
        if median is not None:
            y = y / median * normalization
        # a decreasing map reverses the order: then the percentiles of the values themselves
        sd = _robust_sd(series.data[rows], value) if increasing else _robust_sd(y, np.asarray)
        keep = sd > tolerance
        if drop_zero_variance:
            y, sd = y[keep], sd[keep]
        else:
            zero += int(np.count_nonzero(~keep))
        if not len(y):
            continue
        expected = np.sqrt(2 * (1 - _ar1(y))) * sd
        diff = np.diff(y, axis=1)
        sq += np.einsum("ij,ij->j", diff, diff)
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = diff / expected[:, None]
        vx += np.einsum("ij,ij->j", scaled, scaled)
        sd_sum += float(expected.sum())
        used += len(y)
    _check_voxels(voxels, used, zero, tolerance)
    dv = np.sqrt(sq / used)
    mean_sd = sd_sum / used
    if not (np.isfinite(vx).all() and np.isfinite(mean_sd) and mean_sd > 0):
        raise DvarsError(
            "a voxel's expected difference SD is 0 or not finite (a lag-1 autocorrelation "
            "of 1): standardised DVARS is undefined"
        )
    return Dvars(dv, dv / mean_sd, np.sqrt(vx / used), used, voxels - used, median)
