"""QC decisions on per-frame values: dummy volumes, framewise displacement from fMRIPrep's
confounds, frame checks, run verdicts and censor files. NumPy only.

- :mod:`._dummy`: nipype's ``NonSteadyStateDetector`` count;
- :mod:`._confounds`: FD and the dummy columns of a confounds table;
- :mod:`._rules`: frame and run rules, :func:`judge`;
- :mod:`._censor`: the censor file of a run.
"""

from __future__ import annotations

from ._censor import censor_table, censored_frames
from ._confounds import Confounds, ConfoundsError, power_fd, read_confounds
from ._dummy import GLOBAL_FRAMES, nonsteady_volumes
from ._rules import AUTO, Judgement, Rules, counted_frames, judge

__all__ = [
    "AUTO", "GLOBAL_FRAMES", "Confounds", "ConfoundsError", "Judgement", "Rules",
    "censor_table", "censored_frames", "counted_frames", "judge", "nonsteady_volumes",
    "power_fd", "read_confounds"
]  # fmt: skip
