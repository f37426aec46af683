"""How non-finite differences are treated, in one place (the CLI, batch and the engine)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class NanPolicy(StrEnum):
    """``propagate``: NaN and Inf follow IEEE arithmetic, as NumPy float64 would (a NaN
    difference makes a sum NaN); ``omit``: non-finite differences are left out of every
    reduction. A str-valued enum, so ``"omit"`` and ``NanPolicy.omit`` are the same."""

    propagate = "propagate"
    omit = "omit"

    @classmethod
    def of(cls, value: Any) -> NanPolicy:
        """``value`` as a policy; ``ValueError`` naming the valid ones otherwise."""
        try:
            return cls(value)
        except ValueError:
            valid = " or ".join(repr(p.value) for p in cls)
            raise ValueError(f"nan must be {valid}, not {value!r}") from None
