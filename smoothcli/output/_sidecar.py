"""The BIDS-style JSON sidecar: ``scores.tsv`` comes with ``scores.json`` describing it."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

from ._columns import BY_NAME
from ._formats import format_for_path
from ._values import clean

_WITH_SIDECAR = frozenset({"tsv", "csv", "jsonl"})


def is_sidecar(head: bytes) -> bool:
    """Whether a file's first bytes are a sidecar smoothcli wrote (its ``GeneratedBy`` names
    smoothcli): only such a file is replaced by a new sidecar."""
    return b'"GeneratedBy"' in head and b'"Name": "smoothcli"' in head


def sidecar_path(path: str) -> str | None:
    """``scores.json`` for ``scores.tsv``, ``.csv`` or ``.jsonl``; None for other names."""
    if format_for_path(path) not in _WITH_SIDECAR:
        return None
    return os.path.splitext(path)[0] + ".json"


def _plain(value: Any) -> Any:
    """``value`` as strict JSON data: strings cleaned, NaN/inf as None, others as text."""
    if value is None or isinstance(value, bool | int | str):
        return clean(value) if isinstance(value, str) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {clean(str(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return clean(str(value))


def sidecar(columns: Iterable[str], meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The sidecar's content: one key per column (``Description``, and ``Levels`` for a
    column of levels), ``GeneratedBy``, then ``meta`` (the command, options, date)."""
    from .._version import __version__

    doc: dict[str, Any] = {}
    for name in columns:
        column = BY_NAME[name]
        doc[name] = {"Description": column.description}
        if column.levels:
            doc[name]["Levels"] = dict(column.levels)
    doc["GeneratedBy"] = [
        {
            "Name": "smoothcli",
            "Version": __version__,
            "Description": "Per-input smoothness scores (scalarised differences) or DVARS.",
        }
    ]
    for key, value in (meta or {}).items():
        doc[clean(str(key))] = _plain(value)
    return doc


def write_sidecar(
    target: Any, columns: Iterable[str], meta: Mapping[str, Any] | None = None
) -> str | None:
    """Write ``target``'s sidecar atomically (if it has one); return its path, else None."""
    side = target.sidecar
    if side is None:
        return None
    text = json.dumps(sidecar(columns, meta), indent=2, allow_nan=False) + "\n"
    with side.open() as stream:
        stream.write(text)
    return side.path
