"""What a reader gives the engine for one array: :class:`Loaded`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ._errors import InputError

if TYPE_CHECKING:  # NumPy is not imported until a reader is used
    from ._source import Source


@dataclass
class Loaded:
    """One array to score."""

    source: Source | None  # None when ``problem`` says why this array cannot be scored
    time_axis: int
    kind: str
    member: str | None = None  # the array's name inside an NPZ
    labels: dict[int, list[str]] = field(default_factory=dict)  # axis -> element names
    notes: list[str] = field(default_factory=list)  # one-line remarks, shown as warnings
    #: why this array cannot be scored (an NPZ member that is not one), while the file's
    #: other arrays can; ``source`` is then ``None``
    problem: InputError | None = None
    #: seconds between time points (a NIfTI header's repetition time, a CIFTI-2 series'
    #: step), when the file says
    tr: float | None = None
