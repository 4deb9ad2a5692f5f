"""The node type registry: the built-in types, listed explicitly, plus any installed node packs.

A node pack registers more types through the `flowbridge.nodes` entry point group; each entry
point names a module exposing NODE_TYPE. A type name registered twice is refused loudly.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib.metadata import entry_points

from nodes.base import NodeType, NodeTypes

BUILT_IN = (
    "nodes.trigger_manual",
    "nodes.trigger_schedule",
    "nodes.trigger_webhook",
    "nodes.read_sql",
    "nodes.read_file",
    "nodes.read_http",
    "nodes.read_jsonrpc",
    "nodes.read_odata",
    "nodes.filter",
    "nodes.filter_changed",
    "nodes.map",
    "nodes.transform",
    "nodes.write_sql",
    "nodes.write_file",
    "nodes.write_http",
    "nodes.write_jsonrpc",
    "nodes.write_odata",
)


class DuplicateNodeType(ValueError):
    """Two modules declared the same node type name."""


def _register(registry: dict[str, NodeType], node_type: NodeType, origin: str) -> None:
    if node_type.type in registry:
        raise DuplicateNodeType(f"node type '{node_type.type}' from {origin} is already registered")
    registry[node_type.type] = node_type


@cache
def registry() -> dict[str, NodeType]:
    """Every node type by name, built-ins first."""
    types: dict[str, NodeType] = {}
    for module in BUILT_IN:
        _register(types, importlib.import_module(module).NODE_TYPE, module)
    for entry in entry_points(group="flowbridge.nodes"):
        _register(types, entry.load().NODE_TYPE, f"entry point {entry.name}")
    return types


def get(type_name: str, types: NodeTypes | None = None) -> NodeType | None:
    """The type of this name among `types` (default: this registry)."""
    return (registry() if types is None else types).get(type_name)
