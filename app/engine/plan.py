"""Compiling a valid flow document into an immutable plan: nodes in order, with their routes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx

import nodes
from app.engine.validation import flow_graph, validate_document
from app.errors import InvalidFlow
from nodes.base import NodeType


@dataclass(frozen=True)
class PlannedNode:
    id: str
    type: NodeType
    config: dict[str, Any]
    # output port -> the nodes its records go to
    routes: dict[str, tuple[str, ...]]
    inputs: tuple[str, ...]  # upstream node ids


@dataclass(frozen=True)
class Plan:
    flow_id: str
    name: str
    document: dict[str, Any]
    order: tuple[PlannedNode, ...]  # topological; ties kept in document order
    by_id: dict[str, PlannedNode]

    @property
    def trigger(self) -> PlannedNode:
        return next(n for n in self.order if n.type.is_trigger)

    def node(self, node_id: str) -> PlannedNode:
        return self.by_id[node_id]

    def index(self, node_id: str) -> int:
        return next(i for i, n in enumerate(self.order) if n.id == node_id)

    def downstream(self, node_id: str) -> set[str]:
        """Every node a record leaving `node_id` may reach."""
        seen, stack = set(), [node_id]
        while stack:
            for targets in self.node(stack.pop()).routes.values():
                for target in targets:
                    if target not in seen:
                        seen.add(target)
                        stack.append(target)
        return seen

    def value_maps(self) -> dict[str, Any]:
        return self.document.get("value_maps", {})

    @property
    def batch_size(self) -> int | None:
        return self.document.get("settings", {}).get("batch_size")


def compile_plan(
    document: dict[str, Any],
    *,
    up_to: str | None = None,
    allow_open_ports: bool = False,
    types: Mapping[str, NodeType] | None = None,
) -> Plan:
    """A plan for a valid document; InvalidFlow (with every problem) otherwise.

    `types`: the node types the document may use, by name (default: the registry of nodes/).
    `up_to` keeps only what the run of one node needs (its ancestors), for "test this node".
    `allow_open_ports` accepts outputs that lead nowhere (a part of a flow cut out for a test).
    """
    problems = validate_document(document, types)  # None: the registry's, whose answers are kept
    if allow_open_ports:
        problems = [p for p in problems if p.code != "open_port"]
    if problems:
        raise InvalidFlow(problems)
    types = nodes.registry() if types is None else types
    graph = flow_graph(document, types)
    position = {n["id"]: i for i, n in enumerate(document["nodes"])}
    keep = (nx.ancestors(graph, up_to) | {up_to}) if up_to else set(position)
    ordered = [n for n in nx.lexicographical_topological_sort(graph, key=lambda n: f"{position[n]:06d}") if n in keep]
    by_id = {n["id"]: n for n in document["nodes"]}
    planned = []
    for node_id in ordered:
        routes: dict[str, list[str]] = {}
        for _, target, data in graph.out_edges(node_id, data=True):
            if target in keep:
                routes.setdefault(data["port"], []).append(target)
        raw = by_id[node_id]
        planned.append(
            PlannedNode(
                id=node_id,
                type=types[raw["type"]],
                config=raw.get("config", {}),
                routes={p: tuple(t) for p, t in routes.items()},
                inputs=tuple(sorted({s for s, _ in graph.in_edges(node_id)} & keep, key=position.get)),
            )
        )
    return Plan(
        document["id"], document.get("name", document["id"]), document, tuple(planned), {n.id: n for n in planned}
    )
