"""The run's ledger: per-node and per-edge record counts, and the conservation check.

Every record that enters a node leaves by exactly one port, is consumed by a write (inserted,
updated, unchanged) or fails into the dead-letter store. The run checks this before it reports
success, so a node that loses records (a bug in a node pack, say) cannot go unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

WRITE_OUTCOMES = ("inserted", "updated", "unchanged")


@dataclass
class NodeCounts:
    received: int = 0
    out: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    written: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def accounted(self) -> int:
        # Side effects such as deactivating rows whose source is gone are not records that came in.
        return sum(self.out.values()) + self.failed + sum(self.written.get(k, 0) for k in WRITE_OUTCOMES)

    def as_summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = {"in": self.received, "out": dict(self.out), "failed": self.failed}
        if self.written:
            summary.update({k: self.written.get(k, 0) for k in WRITE_OUTCOMES})
            summary.update({k: n for k, n in self.written.items() if k not in WRITE_OUTCOMES})
        summary["seconds"] = round(self.seconds, 4)
        return summary


class Ledger:
    def __init__(self, node_ids: list[str]) -> None:
        self.nodes: dict[str, NodeCounts] = {n: NodeCounts() for n in node_ids}
        self.edges: dict[tuple[str, str, str], int] = {}
        self.dropped: dict[tuple[str, str], int] = {}  # records leaving by a port with no edge

    def add_edge(self, source: str, port: str, target: str, n: int) -> None:
        self.edges[(source, port, target)] = self.edges.get((source, port, target), 0) + n

    def imbalances(self, plan: Any) -> list[str]:
        """Sentences naming each node whose records do not add up; empty when all balance."""
        problems = []
        for node in plan.order:
            counts = self.nodes[node.id]
            delivered = sum(n for (_, _, target), n in self.edges.items() if target == node.id)
            if not node.type.is_trigger and delivered != counts.received:
                problems.append(
                    f"node '{node.id}': {delivered} records were sent to it but it received {counts.received}"
                )
            if node.type.is_trigger or node.type.is_source:
                continue  # they start records; what they emit is counted as read
            if counts.accounted() != counts.received:
                problems.append(
                    f"node '{node.id}': {counts.received} records in but {counts.accounted()} "
                    f"accounted for (out, written or failed)"
                )
        return problems

    def totals(self, plan: Any) -> dict[str, int]:
        totals = {"read": 0, "filtered": 0, "inserted": 0, "updated": 0, "unchanged": 0, "failed": 0}
        for node in plan.order:
            counts = self.nodes[node.id]
            if node.type.is_source:
                totals["read"] += sum(counts.out.values())
            totals["failed"] += counts.failed
            for kind in WRITE_OUTCOMES:
                totals[kind] += counts.written.get(kind, 0)
        for (node_id, port), n in self.dropped.items():
            totals[plan.node(node_id).type.port_totals.get(port, "filtered")] += n
        return totals

    def summary(self) -> dict[str, dict[str, Any]]:
        return {node_id: counts.as_summary() for node_id, counts in self.nodes.items()}

    def edge_summary(self) -> list[dict[str, Any]]:
        return [{"from": s, "port": p, "to": t, "count": n} for (s, p, t), n in self.edges.items()]
