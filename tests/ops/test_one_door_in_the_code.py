"""The shape the code keeps. Every run goes through services/door.py: no other module calls run_flow, the
inner step that runs without a role check, a lock or the alerts (the door, and the child process
the door's run may go on in, are the only callers)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = {"app/services/door.py", "app/services/run_child.py"}


def _callers_of(name: str) -> set[str]:
    found = set()
    for path in (ROOT / "app").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if called == name:
                    found.add(str(path.relative_to(ROOT)))
    return found


def test_only_the_door_calls_run_flow() -> None:
    callers = _callers_of("run_flow")
    assert callers, "run_flow is called nowhere: the check looks for the wrong name"
    assert callers <= ALLOWED, f"these start runs around the door: {sorted(callers - ALLOWED)}"


def test_no_node_type_is_named_outside_nodes() -> None:
    """A node type says what it contributes (NodeType: summary, scheduled, takes_webhooks,
    write_key); the scheduler, services and pages ask it rather than testing its name."""
    import nodes

    # Dotted names only: "filter", "map" and "transform" are also family names and plain words.
    names = {name for name in nodes.registry() if "." in name}
    named = set()
    for path in (ROOT / "app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                named.add(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert not named, f"node types named outside nodes/: {sorted(named)}"
