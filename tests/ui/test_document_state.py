"""The editor's document edits without a browser: gestures, undo/redo, copy/paste, renames."""

from __future__ import annotations

import pytest

from app.services.designer import check_document, new_document
from app.ui.canvas.graph import canvas_graph, edge_id, layout_missing
from app.ui.editor.document_state import DocumentState, EditRefused


def three_nodes() -> DocumentState:
    state = DocumentState(new_document("Test", "test"), based_on=0)
    state.add_node("trigger.manual", 0, 0)
    state.add_node("read.sql", 260, 0)
    state.add_node("filter", 520, 0)
    state.connect("trigger", "out", "read")
    state.connect("read", "out", "filter")
    return state


def test_new_nodes_get_readable_unique_ids_and_their_type_defaults() -> None:
    state = three_nodes()
    state.add_node("filter", 0, 200)
    assert [n["id"] for n in state.nodes] == ["trigger", "read", "filter", "filter_2"]
    assert state.node("filter_2")["position"] == {"x": 0, "y": 200}
    assert state.node("filter_2")["name"] == "Filter"


def test_a_filter_edge_names_its_port_and_a_plain_edge_does_not() -> None:
    state = three_nodes()
    state.add_node("map", 780, 0)
    state.connect("filter", "match", "map")
    assert state.edges[-1] == {"from": "filter", "port": "match", "to": "map"}
    assert state.edges[0] == {"from": "trigger", "to": "read"}


@pytest.mark.parametrize(
    ("source", "port", "target", "why"),
    [
        ("read", "out", "trigger", "is a trigger"),
        ("read", "out", "read", "cannot feed itself"),
        ("trigger", "out", "read", "already connected"),
        ("read", "out", "nowhere", "must be nodes of this flow"),
    ],
)
def test_gestures_that_make_no_sense_are_refused(source: str, port: str, target: str, why: str) -> None:
    state = three_nodes()
    with pytest.raises(EditRefused, match=why):
        state.connect(source, port, target)


def test_undo_and_redo_walk_the_history_and_a_new_edit_clears_redo() -> None:
    state = three_nodes()
    state.remove(["read"], [])
    assert state.node("read") is None and state.edges == []
    assert state.undo()
    assert state.node("read") is not None and len(state.edges) == 2
    assert state.redo()
    assert state.node("read") is None
    state.undo()
    state.add_node("map", 0, 0)
    assert not state.redo()


def test_undoing_back_to_the_saved_document_leaves_nothing_unsaved() -> None:
    state = three_nodes()
    state.saved(3)
    assert not state.dirty
    state.remove(["filter"], [])
    assert state.dirty
    state.undo()
    assert not state.dirty  # the document is the saved one again
    state.redo()
    assert state.dirty
    opened = DocumentState(new_document("Stored", "stored"), based_on=2)  # opened from the store
    opened.add_node("map", 0, 0)
    opened.undo()
    assert not opened.dirty
    new = DocumentState(new_document("New", "new"), based_on=0)  # never saved: always unsaved
    new.add_node("map", 0, 0)
    new.undo()
    assert new.dirty


def test_typing_in_one_field_is_one_undo_step() -> None:
    state = three_nodes()
    before = len(state.undo_stack)
    for text in ("r", "re", "rec"):
        state.edit("filter:$.condition")
        state.node("filter")["config"]["condition"] = text
    assert len(state.undo_stack) == before + 1
    state.undo()
    assert "condition" not in state.node("filter")["config"]


def test_paste_copies_nodes_with_the_edges_between_them_under_new_ids() -> None:
    state = three_nodes()
    assert state.copy(["read", "filter"]) == 2
    pasted = state.paste()
    assert pasted == ["read_2", "filter_2"]
    assert {"from": "read_2", "to": "filter_2"} in state.edges
    assert state.node("read_2")["position"] == {"x": 300, "y": 40}
    assert state.paste() == ["read_3", "filter_3"]  # a second paste lands further along


def test_renaming_a_node_renames_its_edges() -> None:
    state = three_nodes()
    state.rename_node("read", "accounts")
    assert [(e["from"], e["to"]) for e in state.edges] == [("trigger", "accounts"), ("accounts", "filter")]
    with pytest.raises(EditRefused, match="already a node"):
        state.rename_node("accounts", "filter")


def test_problems_are_drawn_on_the_nodes_and_edges_they_concern() -> None:
    state = three_nodes()
    state.document["edges"].append({"from": "filter", "port": "mtch", "to": "read"})
    checked = check_document(state.document)
    graph = canvas_graph(state.document, checked)
    filter_node = next(n for n in graph["nodes"] if n["id"] == "filter")
    assert any("condition" in p for p in filter_node["data"]["problems"])
    assert "condition" in checked.by_field["filter"]
    assert graph["edges"][0]["id"] == edge_id({"from": "trigger", "to": "read"})
    broken = next(e for e in graph["edges"] if e["id"] == "filter.mtch>read")
    assert any("no output port 'mtch'" in p for p in broken["data"]["problems"])
    assert filter_node["data"]["outputs"] == ["match", "reject"]


def test_nodes_without_positions_are_laid_out_by_depth() -> None:
    state = three_nodes()
    for node in state.nodes:
        node.pop("position")
    assert layout_missing(state.document)
    xs = [n["position"]["x"] for n in state.nodes]
    assert xs == sorted(xs) and len(set(xs)) == 3
