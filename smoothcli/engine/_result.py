"""What an evaluation found: the score, and what the CLI says about it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Evaluation"]


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate_info` found.

    Attributes
    ----------
    value
        The score, as :func:`evaluate` returns it (in the compute dtype).
    nonfinite
        How many difference elements were NaN or infinite (what ``nan="omit"`` leaves out).
    differences
        How many difference elements there were; 0 when ``n`` left none.
    dtype
        The dtype the differences and reductions were computed in.
    """

    value: np.ndarray
    nonfinite: int
    differences: int
    dtype: np.dtype
