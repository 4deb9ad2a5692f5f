"""Sticky notes kept in the document, and align/distribute, without a browser: each is one undo
step, a note never counts as a node for the run, and the saved document stays valid."""

from __future__ import annotations

import pytest

from app.services.designer import check_document, new_document
from app.ui.canvas.graph import canvas_graph, note_canvas_id, run_graph
from app.ui.editor.arrange import CARD_WIDTH, MIN_GAP_X, arranged, why_not
from app.ui.editor.document_state import DocumentState, EditRefused


def flow_with_a_note() -> DocumentState:
    state = DocumentState(new_document("Notes", "notes"), based_on=0)
    state.add_node("trigger.manual", 0, 0)
    state.add_node("read.sql", 260, 0)
    state.connect("trigger", "out", "read")
    state.add_note(40, 200, "Runs by hand until the ERP team signs off")
    return state


def test_a_note_is_kept_in_the_document_and_the_document_stays_valid() -> None:
    state = flow_with_a_note()
    assert state.document["sticky_notes"] == [
        {"id": "note", "text": "Runs by hand until the ERP team signs off", "position": {"x": 40, "y": 200}}
    ]
    assert state.add_note(0, 0)["id"] == "note_2"
    problems = [p.message for p in check_document(state.document).problems]
    assert not [m for m in problems if "sticky" in m or "note" in m], problems


def test_a_hostile_or_wrong_note_is_refused_by_the_schema_with_its_place() -> None:
    state = flow_with_a_note()
    state.document["sticky_notes"][0]["color"] = "purple"
    state.document["sticky_notes"].append({"id": "x", "text": 3, "position": {"x": 0, "y": 0}})
    problems = check_document(state.document).problems
    places = " ".join(f"{p.path} {p.message}" for p in problems)
    assert "sticky_notes" in places and "purple" in places, places


def test_a_note_is_drawn_as_a_note_and_not_counted_as_a_node_of_a_run() -> None:
    state = flow_with_a_note()
    drawn = canvas_graph(state.document)
    notes = [n for n in drawn["nodes"] if n.get("type") == "note"]
    assert [(n["id"], n["data"]["text"]) for n in notes] == [("note:note", "Runs by hand until the ERP team signs off")]
    ran = run_graph(state.document, {"trigger": {"in": 0, "out": {"out": 1}}})
    assert "counts" not in next(n for n in ran["nodes"] if n["id"] == "note:note")["data"]


def test_typing_in_a_note_is_one_undo_step_and_its_colour_another() -> None:
    state = flow_with_a_note()
    before = len(state.undo_stack)
    for typed in ("R", "Ru", "Run"):
        state.change_note("note", text=typed)
    assert len(state.undo_stack) == before + 1
    assert state.change_note("note", color="blue")
    assert state.note("note") == {"id": "note", "text": "Run", "position": {"x": 40, "y": 200}, "color": "blue"}
    assert not state.change_note("note", color="blue")  # the same colour again changes nothing
    state.undo()
    assert "color" not in state.note("note")
    with pytest.raises(EditRefused, match="one of yellow"):
        state.change_note("note", color="purple")
    with pytest.raises(EditRefused, match="no sticky note 'gone'"):
        state.change_note("gone", text="x")


def test_notes_move_and_are_deleted_by_their_canvas_id_with_the_nodes() -> None:
    state = flow_with_a_note()
    assert state.move([{"id": note_canvas_id("note"), "x": 300, "y": 310}, {"id": "read", "x": 500, "y": 0}])
    assert state.note("note")["position"] == {"x": 300, "y": 310}
    assert state.remove([note_canvas_id("note"), "read"], [])
    assert "sticky_notes" not in state.document  # the last note gone leaves no empty list behind
    assert [n["id"] for n in state.nodes] == ["trigger"] and state.edges == []
    state.undo()
    assert state.note("note") is not None and state.node("read") is not None


def test_align_lines_up_one_edge_and_keeps_the_other() -> None:
    cards = {"a": {"x": 10, "y": 100}, "b": {"x": 300, "y": 40}, "note:n": {"x": 620, "y": 75}}
    assert arranged(cards, "top") == [
        {"id": "a", "x": 10, "y": 40},
        {"id": "b", "x": 300, "y": 40},
        {"id": "note:n", "x": 620, "y": 40},
    ]
    assert {p["x"] for p in arranged(cards, "left")} == {10}


def test_distribute_spaces_evenly_and_unstacks_cards_dropped_on_each_other() -> None:
    spaced = arranged({"a": {"x": 0, "y": 0}, "b": {"x": 900, "y": 5}, "c": {"x": 320, "y": 9}}, "horizontal")
    assert [(p["id"], p["x"], p["y"]) for p in spaced] == [("a", 0, 0), ("c", 450, 9), ("b", 900, 5)]
    stacked = arranged({k: {"x": 100, "y": 100} for k in "abc"}, "horizontal")
    assert [p["x"] for p in stacked] == [100, 100 + CARD_WIDTH + MIN_GAP_X, 100 + 2 * (CARD_WIDTH + MIN_GAP_X)]
    assert len({p["y"] for p in arranged({k: {"x": 0, "y": 0} for k in "abc"}, "vertical")}) == 3


def test_arranging_too_few_cards_says_how_many_are_needed() -> None:
    assert why_not("horizontal", 2) == (
        "Select at least 3 nodes or notes to distribute horizontally (Ctrl+click them, or Shift+drag a box)"
    )
    assert why_not("left", 2) is None
    with pytest.raises(ValueError, match="unknown arrangement 'diagonal'"):
        arranged({"a": {"x": 0, "y": 0}}, "diagonal")
