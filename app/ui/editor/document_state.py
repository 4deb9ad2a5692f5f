"""The document an editor page holds, and every edit the canvas and forms make to it, with undo/redo.

Pure Python (no NiceGUI): each gesture becomes one method here, so the rules (no duplicate edges,
no edge into a trigger, ids kept unique on paste) are tested without a browser.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.services.designer import new_node_id
from app.services.designer import node_type as registered_type
from app.ui.canvas.graph import default_port, edge_id, note_id_of, sticky_notes

if TYPE_CHECKING:
    from nodes.base import NodeTypes

MAX_UNDO = 200
NOTE_COLORS = ("yellow", "blue", "green", "pink", "grey")
NOTE_TEXT_LIMIT = 5000  # the flow schema's bound
COALESCE_SECONDS = 1.5  # typing in one field is one undo step, not one per key
PASTE_OFFSET = 40


class EditRefused(Exception):
    """A gesture that would make the flow wrong in a way a drawing tool should not allow."""


@dataclass
class DocumentState:
    document: dict[str, Any]
    based_on: int  # the stored version this editor started from (0: a new flow)
    types: NodeTypes | None = None  # the node types it may use (the root's; None: the registry)
    undo_stack: list[str] = field(default_factory=list)
    redo_stack: list[str] = field(default_factory=list)
    clipboard: list[dict[str, Any]] = field(default_factory=list)
    clipboard_edges: list[dict[str, Any]] = field(default_factory=list)
    dirty: bool = False
    _last_key: str | None = None
    _last_time: float = 0.0
    _saved: str | None = None  # the document as last saved (None: never saved), to tell undo back to it

    def __post_init__(self) -> None:
        if self.based_on:
            self._saved = json.dumps(self.document)

    def _differs_from_saved(self) -> bool:
        return self._saved is None or json.dumps(self.document) != self._saved

    # --- history ----------------------------------------------------------------------------------

    def _snapshot(self, coalesce: str | None = None) -> None:
        now = time.monotonic()
        if coalesce is not None and coalesce == self._last_key and now - self._last_time < COALESCE_SECONDS:
            self._last_time = now
            self.dirty = True
            return
        self.undo_stack.append(json.dumps(self.document))
        del self.undo_stack[:-MAX_UNDO]
        self.redo_stack.clear()
        self._last_key, self._last_time = coalesce, now
        self.dirty = True

    def undo(self) -> bool:
        if not self.undo_stack:
            return False
        self.redo_stack.append(json.dumps(self.document))
        self.document = json.loads(self.undo_stack.pop())
        self._last_key, self.dirty = None, self._differs_from_saved()
        return True

    def redo(self) -> bool:
        if not self.redo_stack:
            return False
        self.undo_stack.append(json.dumps(self.document))
        self.document = json.loads(self.redo_stack.pop())
        self._last_key, self.dirty = None, self._differs_from_saved()
        return True

    def replace(self, document: dict[str, Any]) -> None:
        """Load another document (restore, import) as one undoable step."""
        self._snapshot()
        self.document = copy.deepcopy(document)

    def saved(self, version: int) -> None:
        self.based_on, self.dirty = version, False
        self._saved = json.dumps(self.document)

    # --- lookups ----------------------------------------------------------------------------------

    @property
    def nodes(self) -> list[dict[str, Any]]:
        return self.document.setdefault("nodes", [])

    @property
    def edges(self) -> list[dict[str, Any]]:
        return self.document.setdefault("edges", [])

    def node(self, node_id: str) -> dict[str, Any] | None:
        return next((n for n in self.nodes if isinstance(n, dict) and n.get("id") == node_id), None)

    def note(self, note_id: str) -> dict[str, Any] | None:
        return next((n for n in sticky_notes(self.document) if n["id"] == note_id), None)

    def card(self, canvas_id: str) -> dict[str, Any] | None:
        """What a canvas id names: a sticky note ('note:…') or a node."""
        note_id = note_id_of(canvas_id)
        return self.note(note_id) if note_id is not None else self.node(canvas_id)

    # --- canvas gestures --------------------------------------------------------------------------

    def add_node(self, type_name: str, x: float, y: float) -> dict[str, Any]:
        node_type = registered_type(type_name, self.types)
        if node_type is None:
            raise EditRefused(f"there is no node type '{type_name}'")
        self._snapshot()
        node = {
            "id": new_node_id(self.document, type_name),
            "type": type_name,
            "name": node_type.title,
            "config": _starting_config(node_type.config_schema),
            "position": {"x": round(x), "y": round(y)},
        }
        self.nodes.append(node)
        return node

    def connect(self, source: str, port: str | None, target: str) -> dict[str, Any]:
        source_node, target_node = self.node(source), self.node(target)
        if source_node is None or target_node is None:
            raise EditRefused("both ends of a connection must be nodes of this flow")
        if source == target:
            raise EditRefused("a node cannot feed itself")
        target_type = registered_type(target_node.get("type"), self.types)
        if target_type is not None and not target_type.inputs:
            raise EditRefused(f"'{target}' is a trigger; nothing can flow into it")
        first = default_port(source_node.get("type"), self.types)
        edge: dict[str, Any] = {"from": source, "to": target}
        if port and port != first:
            edge = {"from": source, "port": port, "to": target}
        elif port and port == first and _many_ports(source_node, self.types):
            edge = {"from": source, "port": port, "to": target}  # say which port when there is a choice
        if any(edge_id(e) == edge_id(edge) or _same_edge(e, edge, first) for e in self.edges):
            raise EditRefused(f"{source} is already connected to {target} that way")
        self._snapshot()
        self.edges.append(edge)
        return edge

    def move(self, positions: list[dict[str, Any]]) -> bool:
        """Nodes and sticky notes (by canvas id) to new positions, as one undo step; True when any moved."""
        cards = [(self.card(str(p["id"])), p) for p in positions]
        changed = [(c, p) for c, p in cards if c is not None and c.get("position") != {"x": p["x"], "y": p["y"]}]
        if not changed:
            return False
        self._snapshot()
        for card, position in changed:
            card["position"] = {"x": position["x"], "y": position["y"]}
        return True

    def remove(self, node_ids: list[str], edge_ids: list[str]) -> bool:
        """Delete nodes (with their edges), sticky notes (by canvas id) and edges, as one undo step."""
        gone_notes = {note_id_of(i) for i in node_ids} & {n["id"] for n in sticky_notes(self.document)}
        gone_nodes = set(node_ids) & {n.get("id") for n in self.nodes}
        gone_edges = set(edge_ids) & {edge_id(e) for e in self.edges}
        if not gone_nodes and not gone_edges and not gone_notes:
            return False
        self._snapshot()
        if gone_notes:
            kept = [n for n in sticky_notes(self.document) if n["id"] not in gone_notes]
            if kept:
                self.document["sticky_notes"] = kept
            else:
                self.document.pop("sticky_notes", None)  # no empty list left behind in the saved document
        self.document["nodes"] = [n for n in self.nodes if n.get("id") not in gone_nodes]
        self.document["edges"] = [
            e
            for e in self.edges
            if edge_id(e) not in gone_edges and e.get("from") not in gone_nodes and e.get("to") not in gone_nodes
        ]
        return True

    def copy(self, node_ids: list[str]) -> int:
        chosen = set(node_ids)
        self.clipboard = [copy.deepcopy(n) for n in self.nodes if n.get("id") in chosen]
        self.clipboard_edges = [dict(e) for e in self.edges if e.get("from") in chosen and e.get("to") in chosen]
        return len(self.clipboard)

    def paste(self) -> list[str]:
        """Add copies of the clipboard's nodes (new ids, offset) and the edges between them."""
        if not self.clipboard:
            return []
        self._snapshot()
        renamed: dict[str, str] = {}
        for original in self.clipboard:
            node = copy.deepcopy(original)
            renamed[original["id"]] = node["id"] = new_node_id(self.document, node.get("type", "node"))
            position = node.get("position") or {"x": 0, "y": 0}
            node["position"] = {"x": position.get("x", 0) + PASTE_OFFSET, "y": position.get("y", 0) + PASTE_OFFSET}
            self.nodes.append(node)
        for edge in self.clipboard_edges:
            self.edges.append({**edge, "from": renamed[edge["from"]], "to": renamed[edge["to"]]})
        # A second paste lands further along, not on top of the first.
        for node in self.clipboard:
            position = node.get("position") or {"x": 0, "y": 0}
            node["position"] = {"x": position.get("x", 0) + PASTE_OFFSET, "y": position.get("y", 0) + PASTE_OFFSET}
        return list(renamed.values())

    # --- sticky notes -----------------------------------------------------------------------------

    def add_note(self, x: float, y: float, text: str = "") -> dict[str, Any]:
        self._snapshot()
        used = {n["id"] for n in sticky_notes(self.document)}
        number = 1
        while (note_id := "note" if number == 1 else f"note_{number}") in used:
            number += 1
        note = {"id": note_id, "text": text[:NOTE_TEXT_LIMIT], "position": {"x": round(x), "y": round(y)}}
        notes = self.document.get("sticky_notes")
        if not isinstance(notes, list):
            notes = self.document["sticky_notes"] = []
        notes.append(note)
        return note

    def change_note(self, note_id: str, *, text: str | None = None, color: str | None = None) -> bool:
        """A note's text (typing in it is one undo step) or colour; False when nothing changed."""
        note = self.note(note_id)
        if note is None:
            raise EditRefused(f"there is no sticky note '{note_id}'")
        if color is not None and color not in NOTE_COLORS:
            raise EditRefused(f"a sticky note's colour is one of {', '.join(NOTE_COLORS)}")
        text = text[:NOTE_TEXT_LIMIT] if text is not None else None
        if (text is None or text == note.get("text")) and (color is None or color == note.get("color", "yellow")):
            return False
        self._snapshot(coalesce=f"note:{note_id}" if text is not None else None)
        if text is not None:
            note["text"] = text
        if color is not None:
            if color == "yellow":
                note.pop("color", None)  # the default is not written down
            else:
                note["color"] = color
        return True

    # --- form edits -------------------------------------------------------------------------------

    def edit(self, coalesce: str) -> None:
        """Call before changing the document in place from a form; `coalesce` names the field."""
        self._snapshot(coalesce)

    def rename_node(self, old: str, new: str) -> None:
        """Change a node's id everywhere it is named."""
        if old == new:
            return
        if self.node(new) is not None:
            raise EditRefused(f"there is already a node '{new}'")
        node = self.node(old)
        if node is None:
            raise EditRefused(f"there is no node '{old}'")
        self._snapshot()
        node["id"] = new
        for edge in self.edges:
            if edge.get("from") == old:
                edge["from"] = new
            if edge.get("to") == old:
                edge["to"] = new


def _many_ports(node: dict[str, Any], types: NodeTypes | None) -> bool:
    node_type = registered_type(node.get("type"), types)
    return node_type is not None and len(node_type.outputs) > 1


def _same_edge(a: dict[str, Any], b: dict[str, Any], first_port: str | None) -> bool:
    return (a.get("from"), a.get("port") or first_port, a.get("to")) == (
        b.get("from"),
        b.get("port") or first_port,
        b.get("to"),
    )


def _starting_config(schema: dict[str, Any]) -> dict[str, Any]:
    """A new node's config: the schema's defaults for required fields, else empty (validation says what's missing)."""
    config: dict[str, Any] = {}
    for name in schema.get("required", []):
        default = schema.get("properties", {}).get(name, {}).get("default")
        if default is not None:
            config[name] = default
    return config
