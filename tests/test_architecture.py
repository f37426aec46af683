"""The shape of the package, read from its source with ``ast``: imports go one way (no
circle between modules, no module importing from a package above it), and functions stay
short enough to read."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT

PACKAGE = ROOT / "smoothcli"
#: the longest function allowed, in lines (signature, docstring and body)
LONGEST = 60


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _target(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _imports(module: str, path: Path) -> set[str]:
    """The package's modules that ``module`` imports, wherever the import is (inside a
    function, or under ``TYPE_CHECKING``: both are still an arrow)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            where = _target(module, path, node)
            for alias in node.names:
                name = f"{where}.{alias.name}"
                out.add(name if name in MODULES else where)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m in MODULES and m != module}


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_circle():
    assert _circles(GRAPH) == []


def test_the_circle_finder_finds_one():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_imports_from_a_package_above_it():
    """``smoothcli.output._sidecar`` may not import ``smoothcli`` (the package's
    ``__init__`` imports its parts: the arrow would point back up)."""
    up = sorted((m, d) for m, deps in GRAPH.items() for d in deps if m.startswith(d + "."))
    assert up == []


def test_the_layers_point_one_way():
    """cli -> batch -> sources/engine -> loss/scalarise: a lower floor never imports a
    higher one."""
    floors = {
        "smoothcli.scalarise": 0,
        "smoothcli.engine": 1,
        "smoothcli.sources": 1,
        "smoothcli.batch": 2,
        "smoothcli.cli": 3,
    }

    def floor(module: str) -> int | None:
        hits = [f for p, f in floors.items() if module == p or module.startswith(p + ".")]
        return hits[0] if hits else None

    wrong = [
        (m, d)
        for m, deps in GRAPH.items()
        for d in deps
        if floor(m) is not None and floor(d) is not None and floor(d) > floor(m)
    ]
    assert wrong == []


def test_no_function_is_longer_than_sixty_lines():
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > LONGEST:
                    long.append(f"{module}.{node.name}: {lines}")
    assert long == []
