"""What the browser designer does with flow documents: create, check, save, version, compare, switch on.

The document is the source of truth; the editor changes it and calls these functions. Problems are
grouped by the node and edge they concern so the canvas can show them where they are.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select

import nodes
from app.engine.document import parse_document
from app.engine.expressions import compile_check
from app.engine.validation import validate_document
from app.errors import FlowbridgeError, InvalidFlow
from app.problems import Problem
from app.services import access, switches
from app.store import flows as flow_store
from app.store.database import Store
from app.store.flows import VersionConflict
from app.store.models import Flow, FlowVersion
from nodes.base import NodeType, NodeTypes

__all__ = [
    "VersionConflict",
    "FlowSummary",
    "Checked",
    "new_document",
    "check_document",
    "save_document",
    "flow_summaries",
    "version_rows",
    "diff_documents",
    "set_enabled",
    "read_import",
    "copy_id",
    "slug",
    "new_node_id",
]

_EDGE_PATH = re.compile(r"^\$\.edges\[(\d+)\]")
_NODE_PATH = re.compile(r"^\$\.nodes\[(\d+)\]")


def slug(name: str) -> str:
    """A flow id from its name: 'CRM accounts → ERP' -> 'crm_accounts_erp'."""
    text = re.sub(r"[^A-Za-z0-9]+", "_", name.strip().lower()).strip("_")
    return (text or "flow")[:80]


def new_document(name: str, flow_id: str | None = None, description: str = "") -> dict[str, Any]:
    """An empty flow: the analyst draws the rest."""
    return {
        "schema_version": 1,
        "id": flow_id or slug(name),
        "name": name.strip() or "Untitled flow",
        "description": description,
        "nodes": [],
        "edges": [],
    }


def new_node_id(document: dict[str, Any], type_name: str) -> str:
    """A readable id not yet used in the document: filter, filter_2, ..."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", type_name.split(".")[0]) or "node"
    used = {n.get("id") for n in document.get("nodes", [])}
    if base not in used:
        return base
    number = 2
    while f"{base}_{number}" in used:
        number += 1
    return f"{base}_{number}"


# --- checking -------------------------------------------------------------------------------------


@dataclass
class Checked:
    """A document's problems, and where each one belongs on the canvas."""

    problems: list[Problem]
    by_node: dict[str, list[str]] = field(default_factory=dict)
    # node id -> config path ("fields.name", "steps[0].field") -> sentences, for the node's form
    by_field: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    by_edge: dict[int, list[str]] = field(default_factory=dict)  # index in document["edges"]
    general: list[str] = field(default_factory=list)  # the flow as a whole (no trigger, its name...)

    @property
    def valid(self) -> bool:
        return not self.problems

    def sentences(self) -> list[str]:
        return [_sentence(p) for p in self.problems]


def expression_error(source: str, kind: str) -> str | None:
    """What is wrong with one expression field's text as typed (jinja2's message), or None."""
    return compile_check(source, kind)


def _sentence(problem: Problem) -> str:
    where = f"{problem.node_id}: " if problem.node_id else ""
    return f"{where}{problem.message}"


def check_document(document: dict[str, Any], types: NodeTypes | None = None) -> Checked:
    """Validate (against `types`, default the registry of nodes/) and place every problem on its
    edge, its node, or the flow."""
    problems = validate_document(document, types)
    checked = Checked(problems)
    for problem in problems:
        edge = _EDGE_PATH.match(problem.path)
        if edge:
            checked.by_edge.setdefault(int(edge.group(1)), []).append(problem.message)
            continue
        node_id = problem.node_id
        if node_id is None:
            node = _NODE_PATH.match(problem.path)
            raw = document.get("nodes", [])
            if node and int(node.group(1)) < len(raw) and isinstance(raw[int(node.group(1))], dict):
                node_id = raw[int(node.group(1))].get("id")
        if node_id:
            hint = _field_hint(problem)
            checked.by_node.setdefault(node_id, []).append(hint + problem.message)
            field_name = hint or _required_hint(problem)
            if field_name:
                checked.by_field.setdefault(node_id, {}).setdefault(field_name[:-2], []).append(problem.message)
        else:
            checked.general.append(problem.message)
    return checked


def _required_hint(problem: Problem) -> str:
    """ "'condition' is required" at a node's config: the problem belongs to the condition field."""
    match = re.match(r"^'([^']+)' is required$", problem.message)
    inside = re.match(r"^\$\.nodes\[\d+\]\.config(.*)$", problem.path)
    if not match or not inside:
        return ""
    prefix = inside.group(1).lstrip(".")
    return f"{prefix + '.' if prefix else ''}{match.group(1)}: "


def _field_hint(problem: Problem) -> str:
    """'fields.name: ' for a problem inside a node's config, so the form can point at the field."""
    match = re.match(r"^\$\.nodes\[\d+\]\.config(.*)$", problem.path)
    if not match or not match.group(1):
        return ""
    return match.group(1).lstrip(".") + ": "


# --- saving and versions --------------------------------------------------------------------------


def save_document(
    store: Store,
    document: dict[str, Any],
    *,
    who: access.Principal | None,
    comment: str,
    based_on: int | None,
    types: NodeTypes | None = None,
) -> tuple[int, bool]:
    """Store the document as a new version by `who` (their role must allow editing); returns
    (version, is_draft).

    A document with problems is saved all the same, as a draft: it cannot be switched on.
    `based_on` is the version the editor opened (0 for a new flow); VersionConflict when someone
    saved after it. A draft of a flow that is switched on switches it off, so it never runs broken.
    """
    who = access.require(who, "edit")
    author = who.name.strip()[:100] or "editor"
    problems = validate_document(document, types)
    draft = bool(problems)
    if not isinstance(document.get("id"), str) or not re.match(
        r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$", document.get("id") or ""
    ):
        raise FlowbridgeError("the flow needs an id of letters, digits, '-', '_' or '.' before it can be saved")
    version = flow_store.save_flow(
        store, copy.deepcopy(document), author=author, comment=comment.strip(), based_on=based_on
    )
    if draft and flow_store.get_flow(store, document["id"]).enabled:
        # The rule that a draft never runs, not the author's own switch (an analyst may not switch).
        switches.record_switch(
            store,
            document["id"],
            False,
            who=author,
            reason=f"version {version} was saved as a draft with {len(problems)} problem(s)",
        )
    return version, draft


def copy_id(store: Store, flow_id: str) -> str:
    """A free id for 'save as a copy': flow_copy, flow_copy_2, ..."""
    taken = {f.id for f in flow_store.list_flows(store)}
    candidate = f"{flow_id}_copy"[:100]
    number = 2
    while candidate in taken:
        candidate = f"{flow_id}_copy_{number}"[:100]
        number += 1
    return candidate


@dataclass(frozen=True)
class FlowSummary:
    id: str
    name: str
    description: str
    version: int
    enabled: bool
    updated_at: dt.datetime
    author: str
    nodes: int
    problems: int

    @property
    def draft(self) -> bool:
        return self.problems > 0


def flow_summaries(store: Store, search: str = "", types: NodeTypes | None = None) -> list[FlowSummary]:
    """Every stored flow with its current version's size and health, filtered by a search text."""
    wanted = search.strip().lower()
    summaries = []
    with store.session() as session:
        for flow in session.exec(select(Flow).order_by(Flow.name)).all():
            if wanted and wanted not in f"{flow.id} {flow.name} {flow.description}".lower():
                continue
            row = session.exec(
                select(FlowVersion).where(FlowVersion.flow_id == flow.id, FlowVersion.version == flow.current_version)
            ).first()
            document = row.document if row else {}
            summaries.append(
                FlowSummary(
                    flow.id,
                    flow.name,
                    flow.description,
                    flow.current_version,
                    flow.enabled,
                    flow.updated_at,
                    row.author if row else "",
                    len(document.get("nodes", [])),
                    len(validate_document(document, types)),
                )
            )
    return summaries


@dataclass(frozen=True)
class VersionRow:
    version: int
    author: str
    comment: str
    created_at: dt.datetime
    draft: bool


def version_rows(store: Store, flow_id: str, types: NodeTypes | None = None) -> list[VersionRow]:
    """A flow's versions, newest first: who, when, the comment, and whether it was a draft."""
    return [
        VersionRow(
            v.version, v.author or "someone", v.comment, v.created_at, bool(validate_document(v.document, types))
        )
        for v in flow_store.list_versions(store, flow_id)
    ]


def set_enabled(
    store: Store, flow_id: str, enabled: bool, who: access.Principal | None, types: NodeTypes | None = None
) -> None:
    """Switch a flow on or off (recorded with who and when); a draft cannot be switched on."""
    switches.switch(store, flow_id, enabled, who=who, types=types)


# --- import ---------------------------------------------------------------------------------------


def read_import(data: bytes, types: NodeTypes | None = None) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Parse and validate an uploaded document; the document (if it could be read) and its problems."""
    document, problems = parse_document(data)
    if document is None:
        return None, problems
    return document, validate_document(document, types)


def import_document(
    store: Store,
    document: dict[str, Any],
    *,
    who: access.Principal | None,
    allow_draft: bool = False,
    types: NodeTypes | None = None,
) -> int:
    """Store an imported document as the next version of its flow, by `who` (their role must allow
    editing); refused with problems unless a draft."""
    access.require(who, "edit")
    problems = validate_document(document, types)
    if problems and not allow_draft:
        raise InvalidFlow(problems)
    version, _ = save_document(store, document, who=who, comment="imported", based_on=None, types=types)
    return version


# --- comparing versions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    kind: str  # added, removed, changed
    what: str  # "node 'approved'", "node 'approved' config condition", "edge a -> b", "flow name"
    before: Any = None
    after: Any = None

    def sentence(self) -> str:
        if self.kind == "changed":
            return f"{self.what}: {_short(self.before)} → {_short(self.after)}"
        return f"{self.what} {self.kind}"


def _short(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "…"


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{'fields': {'a': 1}} -> {'fields.a': 1}; lists stay whole unless they hold objects."""
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list) and any(isinstance(i, dict) for i in value):
        flat = {}
        for index, item in enumerate(value):
            flat.update(_flatten(item, f"{prefix}[{index}]"))
        return flat
    return {prefix: value}


def _edge_text(edge: dict[str, Any]) -> str:
    port = f".{edge['port']}" if edge.get("port") else ""
    return f"{edge.get('from')}{port} -> {edge.get('to')}"


def diff_documents(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """What changed from `old` to `new`: flow fields, nodes, their config fields, and edges.

    Positions are left out: moving a node is not a change anyone reviews.
    """
    changes: list[Change] = []
    for key in ("name", "description", "tags", "settings", "value_maps"):
        if old.get(key) != new.get(key):
            changes.append(Change("changed", f"flow {key}", old.get(key), new.get(key)))
    old_nodes = {n["id"]: n for n in old.get("nodes", []) if isinstance(n, dict) and "id" in n}
    new_nodes = {n["id"]: n for n in new.get("nodes", []) if isinstance(n, dict) and "id" in n}
    for node_id in new_nodes.keys() - old_nodes.keys():
        changes.append(Change("added", f"node '{node_id}' ({new_nodes[node_id].get('type')})"))
    for node_id in old_nodes.keys() - new_nodes.keys():
        changes.append(Change("removed", f"node '{node_id}' ({old_nodes[node_id].get('type')})"))
    for node_id in sorted(old_nodes.keys() & new_nodes.keys()):
        before, after = old_nodes[node_id], new_nodes[node_id]
        for key in ("type", "name", "notes"):
            if before.get(key) != after.get(key):
                changes.append(Change("changed", f"node '{node_id}' {key}", before.get(key), after.get(key)))
        old_config, new_config = _flatten(before.get("config", {})), _flatten(after.get("config", {}))
        for path in sorted(new_config.keys() - old_config.keys()):
            changes.append(Change("added", f"node '{node_id}' config {path}", None, new_config[path]))
        for path in sorted(old_config.keys() - new_config.keys()):
            changes.append(Change("removed", f"node '{node_id}' config {path}", old_config[path], None))
        for path in sorted(old_config.keys() & new_config.keys()):
            if old_config[path] != new_config[path]:
                changes.append(Change("changed", f"node '{node_id}' config {path}", old_config[path], new_config[path]))
    old_edges = {_edge_text(e) for e in old.get("edges", []) if isinstance(e, dict)}
    new_edges = {_edge_text(e) for e in new.get("edges", []) if isinstance(e, dict)}
    changes += [Change("added", f"edge {e}") for e in sorted(new_edges - old_edges)]
    changes += [Change("removed", f"edge {e}") for e in sorted(old_edges - new_edges)]
    return changes


def diff_versions(store: Store, flow_id: str, old_version: int, new_version: int) -> list[Change]:
    old, _ = flow_store.get_document(store, flow_id, old_version)
    new, _ = flow_store.get_document(store, flow_id, new_version)
    return diff_documents(old, new)


def node_type(type_name: object, types: NodeTypes | None = None) -> NodeType | None:
    """The node type of this name among `types` (default: the registry), or None (not a string, or
    not a known type): what a page needs to draw a node and its form without importing nodes/ itself."""
    return nodes.get(type_name, types) if isinstance(type_name, str) else None


def node_type_catalog(types: NodeTypes | None = None) -> list[dict[str, Any]]:
    """Every node type as the palette and canvas need it, grouped in family order."""
    from nodes.base import FAMILIES

    offered = nodes.registry() if types is None else types
    ordered = sorted(offered.values(), key=lambda t: (FAMILIES.index(t.family), t.title))
    return [
        {
            "type": t.type,
            "family": t.family,
            "title": t.title,
            "description": t.description,
            "inputs": list(t.inputs),
            "outputs": list(t.outputs),
        }
        for t in ordered
    ]


def summary_name(node: dict[str, Any], types: NodeTypes | None = None) -> str | None:
    """A trigger's config in words as a node name ("Every 15 minutes"), for a type that has a
    summary; None otherwise, or while the config is half-typed."""
    node_type = nodes.get(str(node.get("type")), types)
    if node_type is None or node_type.summary is None:
        return None
    try:
        text = node_type.summary(node.get("config") or {})
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    return text[:1].upper() + text[1:] if text else None
