"""The shape the codebase promises (docs/design.md, "Module map"): every product module says
its one job in its docstring, none grows past ~450 lines but the sync/async client mirror, and
no two product modules import each other in a circle (function-level imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "activitysmith_core": ROOT / "core" / "src" / "activitysmith_core",
    "activitysmith_airflow": ROOT / "activitysmith_airflow" / "src" / "activitysmith_airflow",
    "activitysmith_prefect": ROOT / "activitysmith_prefect" / "src" / "activitysmith_prefect",
}
MAX_LINES = 450
"""About 450: a module past it does more than one job."""
MIRROR = {"activitysmith_core._client"}
"""The sync and async clients mirror each other method by method: one module, by design."""


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package, root in PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            if "migrations" in path.relative_to(root).parts:
                continue  # alembic's revision files: data, in alembic's own shape
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The product modules ``name`` imports, wherever in the file (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            targets = [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
        else:
            continue
        if any(
            isinstance(parent, ast.If) and "TYPE_CHECKING" in ast.unparse(parent.test)
            for parent in _parents(tree, node)
        ):
            continue  # typing only: never executed
        for target in targets:
            if target in MODULES and target != name:
                out.add(target)
    return out


def _parents(tree: ast.AST, node: ast.AST) -> list[ast.AST]:
    chain: list[ast.AST] = []

    def visit(current: ast.AST, path: list[ast.AST]) -> bool:
        if current is node:
            chain.extend(path)
            return True
        return any(visit(child, [*path, current]) for child in ast.iter_child_nodes(current))

    visit(tree, [])
    return chain


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_says_its_job_and_stays_small(name: str) -> None:
    path = MODULES[name]
    source = path.read_text()
    assert ast.get_docstring(ast.parse(source)), f"{name} has no docstring naming its job"
    if name not in MIRROR:
        lines = source.count("\n")
        assert lines <= MAX_LINES, f"{name}: {lines} lines (at most {MAX_LINES})"


def test_no_import_circle_among_product_modules() -> None:
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    # A package's __init__ importing its own submodules is how a package exports: not a circle.
    edges = {
        name: {t for t in targets if not (name and t.startswith(f"{name}."))}
        for name, targets in graph.items()
    }
    circles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                circles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)
