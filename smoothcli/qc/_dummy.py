"""Non-steady-state (dummy) volumes at the start of a run, as nipype's
``NonSteadyStateDetector`` counts them (fMRIPrep's ``non_steady_state_outlier`` columns).

The global signal of the first :data:`GLOBAL_FRAMES` frames (the mean of each frame over the
whole image) is scored with the modified z-score of Iglewicz and Hoaglin (1993),
``0.6745 * |x - median| / MAD``; the frames before the first one at or under 3.5 are the
dummy volumes. One deliberate difference: where the MAD is 0 (most frames share one value),
nipype divides 0 by 0 and counts every frame as an outlier; here a frame equal to the median
is not one, and a frame that differs is (its z-score is infinite).
"""

from __future__ import annotations

import numpy as np

#: frames of the global signal looked at (nipype's ``[:, :, :, :50]``)
GLOBAL_FRAMES = 50
#: a modified z-score above this is an outlier (nipype's ``is_outlier`` default)
MODIFIED_Z = 3.5
#: the modified z-score's constant: the 0.75 quantile of the standard normal
_Z_CONSTANT = 0.6745


def nonsteady_volumes(signal: np.ndarray, threshold: float = MODIFIED_Z) -> int:
    """How many leading frames of ``signal`` (the global signal, one value per frame, only the first
    :data:`GLOBAL_FRAMES` are looked at) are outliers by their modified z-score. Raises
    ``ValueError`` when the signal is not finite (no count can be trusted)."""
    x = np.asarray(signal, np.float64).reshape(-1)[:GLOBAL_FRAMES]
    if not x.size:
        return 0
    if not np.isfinite(x).all():
        raise ValueError(
            "the global signal of the first frames is not finite, so the dummy scans "
            "cannot be detected; give --dummy-scans N"
        )
    median = np.median(x)
    deviation = np.sqrt((x - median) ** 2)  # nipype's formula (a distance in 1 dimension)
    mad = np.median(deviation)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = _Z_CONSTANT * deviation / mad if mad > 0 else np.where(deviation > 0, np.inf, 0.0)
    inside = np.flatnonzero(~(z > threshold))
    return int(inside[0]) if inside.size else int(x.size)
