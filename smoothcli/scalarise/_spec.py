"""The spec language of the CLI, parsed with ``ast`` (never ``eval``), and its printer.

The keywords each map takes come from its factory's signature.
"""

from __future__ import annotations

import ast
import inspect
import math
from collections.abc import Callable
from typing import Any

from ._axes import AXIS_NAMES
from ._map import (
    MATRIX_ORDERS,
    ScalarisationMap,
    max_scalarise,
    mean_scalarise,
    meansq_scalarise,
    norm_scalarise,
    rms_scalarise,
    sum_scalarise,
    vnorm_scalarise,
)

_FACTORIES: dict[str, Callable[..., ScalarisationMap]] = {
    f.__name__.removesuffix("_scalarise"): f
    for f in (
        sum_scalarise, mean_scalarise, meansq_scalarise, max_scalarise, rms_scalarise,
        norm_scalarise, vnorm_scalarise,
    )
}  # fmt: skip
_ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "l1": ("vnorm", {"p": 1, "axis": None}),
    "l2": ("vnorm", {"p": 2, "axis": None}),
    "linf": ("vnorm", {"p": math.inf, "axis": None}),
}
_KEYWORDS = {
    name: tuple(p for p in inspect.signature(factory).parameters if p != "key")
    for name, factory in _FACTORIES.items()
}
MAP_NAMES = tuple(_FACTORIES) + tuple(_ALIASES)
_CONSTANTS = {"None": None, "True": True, "False": False, "inf": math.inf}
_CONSTANTS.update({n: n for n in (*AXIS_NAMES, *MATRIX_ORDERS)})


class _SpecError(ValueError):
    def __init__(self, message: str, node: ast.AST | None) -> None:
        super().__init__(message)
        self.col = getattr(node, "col_offset", 0) if node is not None else 0


def parse_scalarisation(spec: str) -> ScalarisationMap:
    """Parse a spec such as ``mean(vnorm(p=2, axis=0))`` into a map, without ``eval``. A positional
    argument is the inner map; keyword values may be ints, floats, tuples, ``None``,
    ``True``/``False``, ``inf``, ``time``, ``space``, ``fro`` and ``nuc``."""
    text = spec.strip()
    try:
        tree = ast.parse(text, mode="eval")
        return _build(tree.body)
    except SyntaxError as exc:
        col = max((exc.offset or 1) - 1, 0)
        msg = f"not a valid expression ({exc.msg})"
    except _SpecError as exc:
        col, msg = exc.col, str(exc)
    except (TypeError, ValueError) as exc:
        col, msg = 0, str(exc)
    caret = " " * col + "^"
    raise ValueError(
        f"bad scalarisation spec: {msg}\n  {text}\n  {caret}\n"
        f"maps: {', '.join(MAP_NAMES)}; axis names: {', '.join(AXIS_NAMES)}"
    )


def _build(node: ast.AST) -> ScalarisationMap:
    if isinstance(node, ast.Name):
        func, args, keywords = node, [], []
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        func, args, keywords = node.func, node.args, node.keywords
    else:
        raise _SpecError("expected a map name such as vnorm or mean(...)", node)
    name = func.id
    if name not in _FACTORIES and name not in _ALIASES:
        raise _SpecError(f"unknown map {name!r}", func)
    base, preset = _ALIASES.get(name, (name, {}))
    allowed = _KEYWORDS[base]
    kwargs: dict[str, Any] = dict(preset)
    if len(args) > 1:
        raise _SpecError(f"{name} takes at most one positional argument (the inner map)", args[1])
    if args:
        kwargs["inner"] = _build(args[0])
    for kw in keywords:
        if kw.arg is None or kw.arg not in allowed:
            raise _SpecError(
                f"{name} has no argument {kw.arg!r}; it takes {', '.join(allowed)}", kw.value
            )
        if kw.arg == "inner":
            kwargs["inner"] = _build(kw.value)
        else:
            kwargs[kw.arg] = _literal(kw.value)
    try:
        return _FACTORIES[base](**kwargs)
    except (TypeError, ValueError) as exc:
        raise _SpecError(f"{name}: {exc}", node) from None


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, type(None))):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_literal(e) for e in node.elts)
    raise _SpecError(
        "expected a number, a tuple, None, True, False, inf, time, space, fro or nuc", node
    )
