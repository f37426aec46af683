"""What an evaluation found: the score, and what the CLI says about it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate_info` found."""

    value: np.ndarray  # the score, as :func:`evaluate` returns it (in the compute dtype)
    nonfinite: int  # difference elements that were NaN or infinite (what omit leaves out)
    differences: int  # difference elements there were; 0 when ``n`` left none
    dtype: np.dtype  # the dtype the differences and reductions were computed in
