"""No import cycles in src/matcue, counting imports inside functions too.

A cycle hidden by an import inside a function still ties the two modules
together (neither can be understood, tested or moved without the other), and it
breaks as soon as someone moves the import to the top. Imports under
``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "matcue"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, outside ``if TYPE_CHECKING:`` blocks."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of the package it imports (a package's submodules
    named in ``from pkg import sub`` count as the submodule, not the package)."""
    paths = {_module_name(p): p for p in (SRC / PACKAGE).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [
                    f"{module}.{alias.name}" if f"{module}.{alias.name}" in paths else module
                    for alias in node.names
                ]
            edges.update(t for t in targets if t in paths and t != name)
        graph[name] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_no_import_cycles_in_the_package() -> None:
    """Regression for issue 10: batch <-> parallel, catalog -> pipeline -> fit ->
    catalog, and the speech engines <-> matcue.speech each formed a cycle."""
    graph = import_graph()
    assert len(graph) > 30  # the whole package was read
    assert cycles(graph) == []


def test_the_check_finds_a_cycle_through_a_function_level_import() -> None:
    """The checker itself: a cycle closed by an import inside a function counts."""
    tree = {
        "matcue.a": {"matcue.b"},
        "matcue.b": {"matcue.c"},
        "matcue.c": {"matcue.a"},
        "matcue.d": {"matcue.a"},
    }
    assert cycles(tree) == [["matcue.a", "matcue.b", "matcue.c"]]
    source = "def f():\n    from . import b\n"
    (node,) = _imports(ast.parse(source))
    assert isinstance(node, ast.ImportFrom) and node.level == 1
    hidden = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import b\n"
    assert len(_imports(ast.parse(hidden))) == 1  # only the typing import


MAX_MODULE_LINES = 600


def test_no_module_has_more_than_600_lines() -> None:
    """Issue 10: routine.py had 1,320 lines and mp3.py 733, each doing two or three
    jobs. A module that grows past the limit is a sign it wants splitting by job."""
    sizes = {
        str(path.relative_to(SRC)): len(path.read_text(encoding="utf-8").splitlines())
        for path in (SRC / PACKAGE).rglob("*.py")
    }
    assert sizes, "no modules found"
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}
