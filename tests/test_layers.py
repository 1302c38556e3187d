"""The layering contract (pyproject.toml ``[tool.importlinter]``): imports flow downward only,
the RFB core does no I/O, and no module of vncterm imports itself through others.

Both read the import statements, not the running program: an import under
``if TYPE_CHECKING:`` or inside a function counts like any other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import grimp
import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    """This tree's vncterm first, whichever is installed."""
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def test_import_linter_contracts_are_kept() -> None:
    tool = shutil.which("lint-imports")
    assert tool, "lint-imports not found: pip install -e '.[test]' (import-linter)"
    run = subprocess.run(
        [tool, "--no-cache"], cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout, run.stdout


def import_cycles(package: str) -> list[list[str]]:
    """The strongly connected components of more than one module in ``package``'s import
    graph (Tarjan), each sorted, in order."""
    graph = grimp.build_graph(package, include_external_packages=False, cache_dir=None)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph.find_modules_directly_imported_by(module)):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return sorted(found)


def test_the_cycle_finder_sees_a_type_checking_import(tmp_path: Path) -> None:
    """grimp counts an import under ``if TYPE_CHECKING:`` (the usual way a cycle hides)."""
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import B\n\nclass A: ...\n")
    (pkg / "b.py").write_text(
        "from typing import TYPE_CHECKING\n\n"
        "if TYPE_CHECKING:\n    from .a import A\n\n"
        "class B: ...\n"
    )
    (pkg / "c.py").write_text("from .a import A\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(tmp_path))
        assert import_cycles("cyclepkg") == [["cyclepkg.a", "cyclepkg.b"]]


def test_no_import_cycle_in_vncterm() -> None:
    cycles = import_cycles("vncterm")
    assert cycles == [], "\n".join(" <-> ".join(c) for c in cycles)
