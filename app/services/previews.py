"""Trying a flow in the editor without writing anything: "Test node" and expression previews.

A test runs the part of the flow a node depends on (its ancestors and itself) on the first source
records of the sandbox environment, as a dry run: writes report the inserts and updates they would
make, cursors do not move, no dead letters are kept. The records in and out of every node are kept
(a few dozen at most) so the editor can show them as tables.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

import nodes
from app.engine.executor import RunRequest, execute
from app.engine.expressions import ExpressionCompileError, ExpressionProgram, SandboxEnvironment, compile_check
from app.engine.plan import compile_plan
from app.engine.validation import validate_document
from app.errors import FlowbridgeError
from app.services.runs import StoreRunServices
from app.store.database import Store
from app.store.models import Run
from nodes.base import NodeTypes, Outcome, Record, Source

SAMPLE_SIZE = 20  # source records a test reads
KEPT_PER_NODE = 50  # records kept per node and direction, for the tables
PREVIEW_ENV = "sandbox"


@dataclass
class NodeRecords:
    """What one node did in a test: the records it got, what it sent out of each port, what failed."""

    node_id: str
    type: str
    records_in: list[Record] = field(default_factory=list)
    ports: dict[str, list[Record]] = field(default_factory=dict)
    failed: list[tuple[Record, str]] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)  # outcome, key, before, after
    counts: dict[str, Any] = field(default_factory=dict)


@dataclass
class TestResult:
    node_id: str
    ok: bool
    message: str
    nodes: list[NodeRecords] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)  # from, port, to, count
    seconds: float = 0.0

    def node(self, node_id: str) -> NodeRecords | None:
        return next((n for n in self.nodes if n.node_id == node_id), None)


def _ancestors(document: dict[str, Any], node_id: str) -> set[str]:
    """The nodes whose records can reach `node_id`, read from the raw edges (broken ones ignored)."""
    graph = nx.DiGraph()
    ids = {n.get("id") for n in document.get("nodes", []) if isinstance(n, dict)}
    graph.add_nodes_from(ids)
    for edge in document.get("edges", []):
        if isinstance(edge, dict) and edge.get("from") in ids and edge.get("to") in ids:
            graph.add_edge(edge["from"], edge["to"])
    return nx.ancestors(graph, node_id) if node_id in graph else set()


def _part(document: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    part = {k: copy.deepcopy(v) for k, v in document.items() if k not in ("nodes", "edges")}
    part["nodes"] = [copy.deepcopy(n) for n in document.get("nodes", []) if isinstance(n, dict) and n.get("id") in keep]
    part["edges"] = [
        dict(e)
        for e in document.get("edges", [])
        if isinstance(e, dict) and e.get("from") in keep and e.get("to") in keep
    ]
    return part


def _blocking(problems: list[Any]) -> list[Any]:
    # In a part of the flow, ports that lead out of the part lead nowhere: that is the point of a test.
    return [p for p in problems if p.code != "open_port"]


class _PreviewServices(StoreRunServices):
    """The store's run services, except that nothing is kept and every batch is looked at."""

    def __init__(self, store: Store, run: Run, part: dict[str, Any]) -> None:
        super().__init__(store, run)
        self.seen = {n["id"]: NodeRecords(n["id"], n["type"]) for n in part["nodes"]}

    def cursor(self, flow_id: str, node_id: str, env: str) -> Any:
        return None  # a test reads the first records, whatever the last run reached

    def commit_cursor(self, flow_id: str, node_id: str, env: str, position: Any) -> None:
        return None

    def on_progress(self, ledger: dict[str, dict[str, Any]], totals: dict[str, int]) -> None:
        return None  # a preview stores no run

    def stop_requested(self) -> bool:
        return False  # a preview is a few records, over in a moment

    def dead_letters(self, node_id: str, failures: list[Any]) -> None:
        return None  # kept from on_batch instead, with the records

    def on_batch(self, node_id: str, records: list[Record], outcome: Outcome) -> None:
        seen = self.seen[node_id]
        seen.records_in.extend(_plain(records[: max(KEPT_PER_NODE - len(seen.records_in), 0)]))
        for port, sent in outcome.ports.items():
            kept = seen.ports.setdefault(port, [])
            kept.extend(_plain(sent[: max(KEPT_PER_NODE - len(kept), 0)]))
        seen.failed.extend((_plain([f.record])[0], f.reason) for f in outcome.failed[:KEPT_PER_NODE])
        seen.writes.extend(_plain(outcome.changes[: max(KEPT_PER_NODE - len(seen.writes), 0)]))


def _plain(records: list[Any]) -> list[Any]:
    """Records as JSON would hold them (dates as text), so tables show what a write would send."""
    return json.loads(json.dumps(records, default=str))


def test_node(
    store: Store,
    document: dict[str, Any],
    node_id: str,
    *,
    env: str = PREVIEW_ENV,
    sample_size: int = SAMPLE_SIZE,
    include_node: bool = True,
    types: NodeTypes | None = None,
) -> TestResult:
    """Run the flow up to `node_id` (or up to just before it) on the first source records, writing nothing."""
    started = time.perf_counter()
    if node_id not in {n.get("id") for n in document.get("nodes", []) if isinstance(n, dict)}:
        return TestResult(node_id, False, f"there is no node '{node_id}' in the flow")
    keep = _ancestors(document, node_id) | ({node_id} if include_node else set())
    if not keep:
        return TestResult(node_id, False, f"'{node_id}' has nothing upstream; connect it to a trigger first")
    part = _part(document, keep)
    problems = _blocking(validate_document(part, types))
    if problems:
        where = "; ".join(f"{p.node_id + ': ' if p.node_id else ''}{p.message}" for p in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        return TestResult(node_id, False, f"fix the flow up to '{node_id}' first: {where}{more}")
    run = Run(id=f"test-{secrets.token_hex(4)}", flow_id=part["id"], env=env, trigger="manual", dry_run=True)
    services = _PreviewServices(store, run, part)
    plan = compile_plan(part, allow_open_ports=True, types=types)
    result = execute(
        plan,
        RunRequest(
            run_id=run.id, env=env, dry_run=True, full_resync=True, record_limit=sample_size, batch_size=sample_size
        ),
        services,
    )
    ledger = result.ledger.summary()
    for seen in services.seen.values():
        seen.counts = ledger.get(seen.node_id, {})
    if result.error:
        message, ok = f"the test failed: {result.error}", False
    else:
        totals = result.totals
        would = ", ".join(f"{totals[k]} {k}" for k in ("inserted", "updated", "unchanged") if totals.get(k))
        message = (
            f"read {totals['read']} record(s)"
            + (f"; would write {would}" if would else "")
            + (f"; {totals['failed']} failed" if totals.get("failed") else "")
            + "; nothing was written"
        )
        ok = True
    return TestResult(
        node_id,
        ok,
        message,
        [services.seen[n.id] for n in plan.order],
        result.ledger.edge_summary(),
        time.perf_counter() - started,
    )


def sample_inputs(
    store: Store,
    document: dict[str, Any],
    node_id: str,
    sample_size: int = SAMPLE_SIZE,
    types: NodeTypes | None = None,
) -> tuple[list[Record], str | None]:
    """The records that would reach `node_id` in a test (its own config is not needed), or why none."""
    node = next((n for n in document.get("nodes", []) if isinstance(n, dict) and n.get("id") == node_id), None)
    if node is None:
        return [], f"there is no node '{node_id}'"
    result = test_node(store, document, node_id, include_node=False, sample_size=sample_size, types=types)
    if not result.ok:
        return [], result.message
    records: list[Record] = []
    for edge in document.get("edges", []):
        if not isinstance(edge, dict) or edge.get("to") != node_id:
            continue
        parent = result.node(edge.get("from"))
        if parent is None:
            continue
        parent_type = nodes.get(parent.type, types)
        port = edge.get("port") or (parent_type.outputs[0] if parent_type and parent_type.outputs else "out")
        records += parent.ports.get(port, [])
    return records, None


@dataclass
class ExpressionPreview:
    error: str | None  # Jinja2's message when it does not compile
    values: list[tuple[Record, Any, str | None]] = field(default_factory=list)  # record, value, failure


def preview_expression(
    text: str, kind: str, records: list[Record], value_maps: dict[str, Any] | None = None, limit: int = 5
) -> ExpressionPreview:
    """Compile an expression or template and evaluate it on a few sample records."""
    error = compile_check(text, kind)
    if error is not None or not records:
        return ExpressionPreview(error)
    try:
        maps = {k: v for k, v in (value_maps or {}).items() if isinstance(v, dict)}
        program = ExpressionProgram(SandboxEnvironment(maps), [Source("value", text, kind)])
    except (ExpressionCompileError, FlowbridgeError) as exc:
        return ExpressionPreview(str(exc).split(": ", 1)[-1])
    sample = records[:limit]
    names = {"ctx": {"run_id": "preview", "flow_id": "preview", "env": PREVIEW_ENV, "now": "", "trigger": "manual"}}
    try:
        results = program.evaluate(sample, names)
    except Exception as exc:  # an expression function the preview cannot offer (xref): say so, not a traceback
        return ExpressionPreview(None, [(r, None, f"cannot preview: {exc}") for r in sample])
    return ExpressionPreview(
        None, [(r, res.values["value"] if res.values else None, res.error) for r, res in zip(sample, results)]
    )
