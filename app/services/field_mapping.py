"""What the field mapper shows for a map node: the fields it can take (from the records that reach it
and the upstream read's columns), the fields it should fill (the downstream write's table, model or
entity set, the required ones marked), and how much of that the node's `fields` cover.

The mapper edits the map node's `fields` object, the same document the text form edits: a line is a
template, `{{ record.email }}` once a source is dropped on it, refined with filters from a menu.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Any

from nodes.base import META

# The filters a line's menu offers, as Jinja text appended to the line's expression.
FILTERS = {
    "trim": "remove spaces around",
    "lower": "lower case",
    "upper": "UPPER CASE",
    "title": "Title Case",
    "to_number": "a number (text like '1,204.50' too)",
    "digits": "digits only (phone numbers)",
}
ONE_EXPRESSION = re.compile(r"^\s*\{\{(?P<inner>(?:(?!\{\{|\}\}).)*)\}\}\s*$", re.DOTALL)
# record.x, record['a b'] | trim | value_map('m'): a chain another filter can be appended to as it is.
SIMPLE_CHAIN = re.compile(r"^[A-Za-z_][\w.]*(\[[^\]]*\])*(\s*\|\s*[A-Za-z_]\w*(\([^()]*\))?)*$")
TABLE_KEYS = ("table", "model", "entity_set")  # what a SQL, JSON-RPC or OData node names its records by


@dataclass(frozen=True)
class Endpoint:
    """A read upstream of the map node, or the write downstream of it, with what it names."""

    node_id: str
    type: str
    connection: str | None
    table: str | None
    key: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetField:
    name: str
    required: bool
    in_target: bool  # False: the node maps it but the target (as last read) has no such field


@dataclass(frozen=True)
class Coverage:
    mapped: int
    total: int
    missing_required: tuple[str, ...]

    @property
    def text(self) -> str:
        if not self.total:
            return "no target fields known: name them below"
        said = f"{self.mapped} of {self.total} target field{'s' if self.total != 1 else ''} mapped"
        if self.missing_required:
            missing = ", ".join(self.missing_required[:4]) + (" …" if len(self.missing_required) > 4 else "")
            said += f", {len(self.missing_required)} required missing ({missing})"
        return said


def _nodes(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in document.get("nodes") or [] if isinstance(n, dict) and isinstance(n.get("id"), str)}


def nearest(document: dict[str, Any], node_id: str, *, downstream: bool, family: str) -> Endpoint | None:
    """The closest node of a family ("read" or "write") along the edges, breadth first."""
    by_id = _nodes(document)
    edges = [e for e in document.get("edges") or [] if isinstance(e, dict)]
    ahead, behind = ("from", "to") if downstream else ("to", "from")
    seen, queue = {node_id}, deque([node_id])
    while queue:
        current = queue.popleft()
        for edge in edges:
            if edge.get(ahead) != current or edge.get(behind) in seen:
                continue
            following = edge.get(behind)
            if not isinstance(following, str):
                continue
            seen.add(following)
            node = by_id.get(following)
            if node is None:
                continue
            if str(node.get("type", "")).split(".")[0] == family:
                config = node.get("config") or {}
                table = next((config[k] for k in TABLE_KEYS if isinstance(config.get(k), str)), None)
                key = config.get("key")
                keys = tuple(k for k in ([key] if isinstance(key, str) else key or []) if isinstance(k, str))
                connection = config.get("connection") if isinstance(config.get("connection"), str) else None
                return Endpoint(following, str(node.get("type")), connection, table, keys)
            queue.append(following)
    return None


def source_fields(samples: list[dict[str, Any]], columns: list[str]) -> list[str]:
    """The fields a map node can take: those of its sample records first, then the read's columns."""
    seen = dict.fromkeys(k for record in samples for k in record if k != META)
    seen.update(dict.fromkeys(c for c in columns if c != META))
    return list(seen)


def target_fields(
    columns: list[str], required: list[str], key: tuple[str, ...], mapped: dict[str, Any]
) -> list[TargetField]:
    """The target's fields in its order (a write's key and what the target requires marked), then
    the fields the node maps that the target does not have."""
    must = set(required) | set(key)
    listed = [TargetField(c, c in must, True) for c in columns]
    known = set(columns)
    return listed + [TargetField(name, False, False) for name in mapped if name not in known]


def is_mapped(template: Any) -> bool:
    return isinstance(template, str) and bool(template.strip())


def coverage(targets: list[TargetField], fields: dict[str, Any]) -> Coverage:
    real = [t for t in targets if t.in_target] or targets
    mapped = sum(1 for t in real if is_mapped(fields.get(t.name)))
    missing = tuple(t.name for t in real if t.required and not is_mapped(fields.get(t.name)))
    return Coverage(mapped, len(real), missing)


def reference(field: str) -> str:
    """The expression naming a source field: record.email, or record['first name'] when it must."""
    return f"record.{field}" if field.isidentifier() else f"record[{field!r}]"


def template_for(field: str) -> str:
    return "{{ " + reference(field) + " }}"


def refine(template: str, filter_text: str) -> str:
    """The template with one more filter on its expression: {{ record.x | trim }}. ValueError when
    the template is more than one expression (the analyst edits those as text)."""
    found = ONE_EXPRESSION.match(template or "")
    if not found or not found.group("inner").strip():
        raise ValueError("this line is more than one {{ … }}: add the filter in its text")
    inner = found.group("inner").strip()
    if not SIMPLE_CHAIN.match(inner):
        inner = f"({inner})"  # `a or b | trim` would trim b alone
    return "{{ " + inner + " | " + filter_text + " }}"


def value_map_filter(name: str) -> str:
    return f"value_map({name!r})"
