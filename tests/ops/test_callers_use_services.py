"""The pages, the API routes and the CLI commands reach the product through app/services only
(ARCHITECTURE.md): none of them imports the store, the engine, a connector, the sandbox or a node
type itself, so a role check or a read model cannot be walked around by a new page or route.
Imports made only for type hints (under `if TYPE_CHECKING:`) name a type and run nothing."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CALLERS = ("app/ui", "app/api", "app/cli")
BELOW_THE_SERVICES = ("app.store", "app.engine", "app.connectors", "app.sandbox", "nodes")


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def _imported_modules(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    return []


def _below(module: str) -> bool:
    return any(module == layer or module.startswith(layer + ".") for layer in BELOW_THE_SERVICES)


def imports_below(source: str) -> list[tuple[int, str]]:
    """(line, module) of each import of a layer below the services not made for type hints only."""
    tree = ast.parse(source)
    hints_only = _type_checking_lines(tree)
    return sorted(
        (node.lineno, module)
        for node in ast.walk(tree)
        for module in _imported_modules(node)
        if _below(module) and node.lineno not in hints_only
    )


def reaching_around(folder: str) -> list[str]:
    return [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for line, module in imports_below(path.read_text(encoding="utf-8"))
    ]


def test_pages_routes_and_commands_import_no_layer_below_the_services() -> None:
    found = [line for folder in CALLERS for line in reaching_around(folder)]
    assert found == [], "callers must go through app/services:\n" + "\n".join(found)


def test_the_scan_sees_an_import_that_reaches_around() -> None:
    # The scan itself must be able to fail: a module like a page that imports the store is flagged,
    # the same import under TYPE_CHECKING is not.
    source = (
        "from typing import TYPE_CHECKING\n"
        "from app.store.database import Store\n"
        "import nodes\n"
        "if TYPE_CHECKING:\n"
        "    from app.engine.plan import Plan\n"
    )
    assert imports_below(source) == [(2, "app.store.database"), (3, "nodes")]
