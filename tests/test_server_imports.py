"""The server's modules import one another without a cycle, ``if TYPE_CHECKING:`` imports
included: the session sees viewers through ``viewer_protocol``, not through ``viewer.Viewer``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import vncterm.server

pytestmark = pytest.mark.unit

SERVER = Path(vncterm.server.__file__).parent


def server_imports() -> dict[str, set[str]]:
    """Each module of ``vncterm/server`` and the sibling modules it imports (relative imports)."""
    names = {p.stem for p in SERVER.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in SERVER.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module is not None:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(a.name for a in node.names)
        graph[path.stem] = deps & names
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, if it has any (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return path[path.index(dep) :] + [dep]
            if dep not in state and (found := visit(dep)) is not None:
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_cycle_finder_finds_one() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_server_modules() -> None:
    graph = server_imports()
    assert {"viewer", "session", "security"} <= graph.keys()
    assert cycle(graph) is None
