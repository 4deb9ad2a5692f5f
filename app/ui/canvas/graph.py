"""The flow document as the canvas draws it (Vue Flow's nodes and edges), and edge ids both ways.

Positions live in the document (`node.position`); a node without one is placed by its depth in the
graph, so imported documents without a layout still draw readably.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.services.designer import Checked
from app.services.designer import node_type as registered_type

if TYPE_CHECKING:
    from nodes.base import NodeTypes

COLUMN_WIDTH, ROW_HEIGHT, ORIGIN = 260, 130, (60, 80)
NOTE_PREFIX = "note:"  # a sticky note's id on the canvas: its own ids never clash with the nodes'


def note_canvas_id(note_id: str) -> str:
    return NOTE_PREFIX + note_id


def note_id_of(canvas_id: str) -> str | None:
    """The sticky note's id when a canvas id names one, else None (it names a node)."""
    return canvas_id[len(NOTE_PREFIX) :] if canvas_id.startswith(NOTE_PREFIX) else None


def sticky_notes(document: dict[str, Any]) -> list[dict[str, Any]]:
    notes = document.get("sticky_notes")
    return [n for n in notes if isinstance(n, dict) and isinstance(n.get("id"), str)] if isinstance(notes, list) else []


def note_data(note: dict[str, Any]) -> dict[str, Any]:
    return {
        "noteId": note["id"],
        "text": note.get("text", ""),
        "color": note.get("color", "yellow"),
        "width": note.get("width"),
    }


def edge_id(edge: dict[str, Any]) -> str:
    """Stable while the edge exists: 'approved.match>to_customer'; the port is blank when default."""
    return f"{edge.get('from')}.{edge.get('port') or ''}>{edge.get('to')}"


def default_port(type_name: str | None, types: NodeTypes | None = None) -> str | None:
    node_type = registered_type(type_name, types)
    return node_type.outputs[0] if node_type and node_type.outputs else None


def node_data(node: dict[str, Any], problems: list[str], types: NodeTypes | None = None) -> dict[str, Any]:
    node_type = registered_type(node.get("type"), types)
    if node_type is None:
        return {
            "label": node.get("name") or node.get("id"),
            "typeTitle": f"unknown type {node.get('type')!r}",
            "family": "unknown",
            "inputs": ["in"],
            "outputs": ["out"],
            "description": "",
            "problems": problems,
        }
    return {
        "label": node.get("name") or node_type.title,
        "typeTitle": node_type.title,
        "family": node_type.family,
        "inputs": list(node_type.inputs),
        "outputs": list(node_type.outputs),
        "description": node_type.description,
        "problems": problems,
    }


def layout_missing(document: dict[str, Any]) -> bool:
    """Give every node without a position one, by its depth from the trigger; True when any changed."""
    raw = [n for n in document.get("nodes", []) if isinstance(n, dict)]
    missing = [n for n in raw if not _has_position(n)]
    if not missing:
        return False
    depth = {n.get("id"): 0 for n in raw}
    for _ in range(len(raw)):  # longest path by relaxation; bounded by the node count
        changed = False
        for edge in document.get("edges", []):
            if isinstance(edge, dict) and edge.get("from") in depth and edge.get("to") in depth:
                if depth[edge["to"]] < depth[edge["from"]] + 1 <= len(raw):
                    depth[edge["to"]] = depth[edge["from"]] + 1
                    changed = True
        if not changed:
            break
    rows: dict[int, int] = {}
    for node in missing:
        column = depth.get(node.get("id"), 0)
        row = rows.get(column, 0)
        rows[column] = row + 1
        node["position"] = {"x": ORIGIN[0] + column * COLUMN_WIDTH, "y": ORIGIN[1] + row * ROW_HEIGHT}
    return True


def _has_position(node: dict[str, Any]) -> bool:
    position = node.get("position")
    return isinstance(position, dict) and all(isinstance(position.get(k), (int, float)) for k in ("x", "y"))


def canvas_graph(
    document: dict[str, Any], checked: Checked | None = None, types: NodeTypes | None = None
) -> dict[str, Any]:
    """{nodes, edges} for Vue Flow, with each node's and edge's problems attached; `types` are the
    node types the flow may use (default: the registry of nodes/)."""
    by_node = checked.by_node if checked else {}
    by_edge = checked.by_edge if checked else {}
    type_of = {n.get("id"): n.get("type") for n in document.get("nodes", []) if isinstance(n, dict)}
    drawn_nodes = []
    for node in document.get("nodes", []):
        if not isinstance(node, dict) or not isinstance(node.get("id"), str):
            continue
        position = node.get("position") if _has_position(node) else {"x": ORIGIN[0], "y": ORIGIN[1]}
        drawn_nodes.append(
            {
                "id": node["id"],
                "position": {"x": position["x"], "y": position["y"]},
                "data": node_data(node, by_node.get(node["id"], []), types),
            }
        )
    for note in sticky_notes(document):
        position = note.get("position") if _has_position(note) else {"x": ORIGIN[0], "y": ORIGIN[1]}
        drawn_nodes.append(
            {
                "id": note_canvas_id(note["id"]),
                "type": "note",
                "position": {"x": position["x"], "y": position["y"]},
                "data": note_data(note),
            }
        )
    drawn_edges = []
    for index, edge in enumerate(document.get("edges", [])):
        if not isinstance(edge, dict) or edge.get("from") not in type_of or edge.get("to") not in type_of:
            continue
        port = edge.get("port") or default_port(type_of[edge["from"]], types) or "out"
        drawn_edges.append(
            {
                "id": edge_id(edge),
                "source": edge["from"],
                "target": edge["to"],
                "sourceHandle": port,
                "targetHandle": "in",
                "data": {"problems": by_edge.get(index, []), "count": None},
            }
        )
    return {"nodes": drawn_nodes, "edges": drawn_edges}


def edge_decorations(
    document: dict[str, Any],
    checked: Checked,
    counts: dict[tuple[str, str, str], int] | None = None,
    types: NodeTypes | None = None,
) -> dict[str, dict[str, Any]]:
    """Per edge id: its problems and, after a test, the records that went along it."""
    decorations = {}
    for index, edge in enumerate(document.get("edges", [])):
        if not isinstance(edge, dict):
            continue
        port = edge.get("port") or default_port(_type_of(document, edge.get("from")), types) or "out"
        count = counts.get((edge.get("from"), port, edge.get("to"))) if counts is not None else None
        decorations[edge_id(edge)] = {
            "problems": checked.by_edge.get(index, []),
            "count": count if counts is not None else None,
        }
    return decorations


def live_edge_counts(
    document: dict[str, Any], ledger: dict[str, dict[str, Any]], types: NodeTypes | None = None
) -> dict[tuple[str, str, str], int]:
    """Per (from, port, to): the records a running run has sent along each edge so far (every edge
    out of a port carries all of that port's records)."""
    counts = {}
    for edge in document.get("edges", []):
        if not isinstance(edge, dict) or edge.get("from") not in ledger:
            continue
        port = edge.get("port") or default_port(_type_of(document, edge.get("from")), types) or "out"
        counts[(edge["from"], port, edge.get("to"))] = ledger[edge["from"]].get("out", {}).get(port, 0)
    return counts


def _type_of(document: dict[str, Any], node_id: Any) -> str | None:
    return next(
        (n.get("type") for n in document.get("nodes", []) if isinstance(n, dict) and n.get("id") == node_id), None
    )


RUN_SPREAD = 1.25  # a run's graph is drawn wider than the editor's, so the counts on the edges have room


def run_graph(
    document: dict[str, Any], ledger: dict[str, dict[str, Any]], types: NodeTypes | None = None
) -> dict[str, Any]:
    """A run's graph: its flow version drawn with each node's counts and time, each edge's records.

    A node the run did not reach (or a flow version without it) is drawn without counts; an edge
    says how many records went along it."""
    graph = canvas_graph(document, types=types)
    left = min((n["position"]["x"] for n in graph["nodes"]), default=0)
    for node in graph["nodes"]:
        node["position"]["x"] = left + (node["position"]["x"] - left) * RUN_SPREAD
        if node.get("type") == "note":
            continue
        counts = ledger.get(node["id"])
        node["data"]["counts"] = counts
        node["data"]["timing"] = seconds_text(counts["seconds"]) if counts and "seconds" in counts else None
    for edge in graph["edges"]:
        counts = ledger.get(edge["source"])
        edge["data"]["count"] = counts.get("out", {}).get(edge["sourceHandle"], 0) if counts else None
    return graph


def seconds_text(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"
