"""The package layout's rules (docs/architecture.md), checked on the source so that they last.

Every import counts, including those inside functions (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "digest"
MAX_LINES = 600


def _module(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (annotations only, no run-time edge)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return out


def _imports(path: Path, module: str | None = None) -> set[str]:
    """The digest modules a file imports (``from digest.x import y`` counts digest.x.y when that is a module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    here = (module or _module(path)).split(".")
    skip = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("digest")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_pkg else here[:-1]
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("digest"):
                continue
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PKG.rglob("*.py") if "migrations" not in p.parts}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        deps = {d for d in _imports(path) if d in files and d != mod}
        graph[mod] = {d for d in deps if not mod.startswith(d + ".")}  # a package's own __init__ is no edge
    return graph


def test_no_import_circles() -> None:
    graph = _graph()
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                circles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_the_library_never_imports_the_cli() -> None:
    bad = [f"{m} imports {d}" for m, deps in _graph().items() if not m.startswith("digest.cli")
           and m != "digest.__main__" for d in deps if d.startswith("digest.cli")]
    assert not bad, bad


@pytest.mark.parametrize("layer", ["digest.intel", "digest.issue.compose"])
def test_pure_layers_stay_pure(layer: str) -> None:
    """Intelligence and composition work on plain data: no database, no network, no mail."""
    banned = ("digest.store", "digest.ingest", "digest.mail")
    bad = [f"{m} imports {d}" for m, deps in _graph().items() if m == layer or m.startswith(layer + ".")
           for d in deps if d.startswith(banned)]
    assert not bad, bad


def test_no_file_over_the_limit() -> None:
    long = {str(p.relative_to(PKG.parent)): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"files over {MAX_LINES} lines: {long}"


def test_the_walker_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """The checks are not blind: an import inside a function is an edge, one for annotations is not."""
    f = tmp_path / "m.py"
    f.write_text("from typing import TYPE_CHECKING\nfrom .kb import x\nif TYPE_CHECKING:\n"
                 "    from digest.store import Store\n\ndef f():\n    from digest.issue.build import prepare\n",
                 encoding="utf-8")
    deps = _imports(f, "digest.intel.actors.recognize")
    assert {"digest.issue.build", "digest.intel.actors.kb"} <= deps
    assert not any(d.startswith("digest.store") for d in deps)
