"""Scalarisation maps: composable reductions of a tensor-valued score to a scalar.

Each map is a frozen, hashable :class:`ScalarisationMap`. It is used the hypercoil way,
``mean_scalarise(inner=vnorm_scalarise(axis=0))(f)(X, axis=0)``, or applied directly to an
array, ``vnorm_scalarise(p=1, axis=None)(X)``. It also says how it decomposes into an
elementwise transform, a combining reduction and a finaliser (:meth:`decomposition`), which is
what lets :mod:`smoothcli.engine` evaluate it chunk by chunk.

Axes may be ints, tuples, ``None`` or the names ``"time"`` (the difference axis) and
``"space"`` (every other axis), resolved when the map is applied.
"""

from __future__ import annotations

from ._apply import apply_maps
from ._axes import AXIS_NAMES, AxisSpec, trace
from ._decompose import Decomposition
from ._map import (
    ScalarisationMap,
    max_scalarise,
    mean_scalarise,
    meansq_scalarise,
    norm_scalarise,
    rms_scalarise,
    sum_scalarise,
    vnorm_scalarise,
)
from ._spec import MAP_NAMES, parse_scalarisation

__all__ = [
    "AXIS_NAMES", "AxisSpec", "Decomposition", "MAP_NAMES", "ScalarisationMap", "apply_maps",
    "max_scalarise", "mean_scalarise", "meansq_scalarise", "norm_scalarise",
    "parse_scalarisation", "rms_scalarise", "sum_scalarise", "trace", "vnorm_scalarise"
]  # fmt: skip
