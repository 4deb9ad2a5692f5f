"""Canvas habits of n8n and Node-RED, in the real editor: a double-click on the empty canvas
quick-adds a node or a sticky note there; a note is typed into in place and kept in the saved
document; Tidy up lays a piled-up flow out left to right (dagre) and Ctrl+Z puts it back; align
lines up the selected nodes; the side panel is resized by its handle and keeps its width."""

from __future__ import annotations

from typing import Any

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from app.store import flows as flow_store
from tests.browser.support import Page

SHOTS = "arrange-and-notes"
SHIPPED = "crm_accounts_to_erp_customers"


def piled_up_copy(store: Any, flow_id: str) -> list[str]:
    """The shipped flow under another id, every node dropped on nearly the same spot; its node ids."""
    document, _ = flow_store.get_document(store, SHIPPED)
    nodes = [{**n, "position": {"x": 100 + 10 * i, "y": 100 + 10 * i}} for i, n in enumerate(document["nodes"])]
    flow_store.save_flow(
        store, {**document, "id": flow_id, "name": "Piled up", "nodes": nodes}, author="test", based_on=0
    )
    return [n["id"] for n in nodes]


def positions(page: Page) -> dict[str, dict[str, float]]:
    return {e.get_attribute("data-id"): e.rect for e in page.all(".vue-flow__node")}


def overlapping(rects: list[dict[str, float]]) -> bool:
    return any(
        a["x"] < b["x"] + b["width"]
        and b["x"] < a["x"] + a["width"]
        and a["y"] < b["y"] + b["height"]
        and b["y"] < a["y"] + a["height"]
        for i, a in enumerate(rects)
        for b in rects[i + 1 :]
    )


def test_tidy_up_lays_out_a_piled_up_flow_and_undo_puts_it_back(page: Page, served: dict[str, Any]) -> None:
    node_ids = piled_up_copy(served["store"], "piled_up")
    page.open("/flows/piled_up")
    page.wait(lambda: page.node_count() == len(node_ids), "the editor")
    page.shot("piled-up")
    assert overlapping([positions(page)[i] for i in node_ids])
    page.click(".fb-arrange-button")
    page.click(".fb-tidy-up")
    page.wait_notification("Tidied up")
    page.wait(lambda: not overlapping([positions(page)[i] for i in node_ids]), "the nodes apart")
    page.shot("tidied")
    laid = positions(page)
    order = ["start", "accounts", "approved", "to_customer", "customers"]
    xs = [laid[i]["x"] for i in order]
    assert xs == sorted(xs) and len(set(xs)) == len(xs), f"the flow does not read left to right: {xs}"
    page.d.find_element("css selector", ".vue-flow__pane").click()
    ActionChains(page.d).key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()
    page.wait(lambda: overlapping([positions(page)[i] for i in node_ids]), "the pile back after Ctrl+Z")


def test_double_click_quick_adds_a_note_that_is_saved_with_the_flow(page: Page, served: dict[str, Any]) -> None:
    piled_up_copy(served["store"], "with_a_note")
    page.open("/flows/with_a_note")
    page.wait(lambda: page.node_count() > 0, "the editor")
    pane, box = page.find(".vue-flow__pane"), page.canvas_box()
    # the lower right of the canvas is empty: the nodes are piled at the top left
    ActionChains(page.d).move_to_element_with_offset(
        pane, box["width"] / 2 - 330, box["height"] / 2 - 150
    ).double_click().perform()
    page.wait(lambda: page.all(".fb-quick-add"), "the quick-add dialog")
    page.shot("quick-add")
    page.type_into(".fb-quick-add input", "sticky")
    page.click(".q-menu .q-item")
    page.wait(lambda: page.all('[data-note-id="note"] textarea'), "the note on the canvas")
    note = page.find('[data-note-id="note"]').rect
    assert note["x"] > box["x"] + box["width"] / 2 and note["y"] > box["y"] + box["height"] / 2, (
        "the note is where I clicked"
    )
    page.wait(lambda: page.d.switch_to.active_element.tag_name == "textarea", "the note ready to type into")
    page.d.switch_to.active_element.send_keys("Ask finance before switching on")
    page.shot("note-typed")
    page.find('[data-note-id="note"] .fb-note-color').click()
    page.wait(lambda: page.all(".fb-note-blue"), "the note blue")

    # a node by double-click too, searched by its title
    ActionChains(page.d).move_to_element_with_offset(
        pane, box["width"] / 2 - 200, -box["height"] / 2 + 60
    ).double_click().perform()
    page.wait(lambda: page.all(".fb-quick-add"), "the quick-add dialog again")
    before = page.node_count()
    page.type_into(".fb-quick-add input", "Filter")
    page.click(".q-menu .q-item")
    page.wait(lambda: page.node_count() == before + 1, "the filter node added")
    page.wait(lambda: page.find(".fb-node-id-input input").get_attribute("value") == "filter", "its side panel")

    page.click(".fb-save")
    page.wait(lambda: page.all(".fb-save-dialog"), "the save dialog")
    page.type_into(".fb-author input", "Ada")
    page.click(".fb-save-confirm")
    page.wait_notification("Saved version")
    saved, _ = flow_store.get_document(served["store"], "with_a_note")
    assert [(n["text"], n.get("color")) for n in saved["sticky_notes"]] == [("Ask finance before switching on", "blue")]
    assert next(n for n in saved["nodes"] if n["id"] == "filter")["type"] == "filter"  # "Filter" found the Filter
    page.open("/flows/with_a_note")
    page.wait(lambda: page.all('[data-note-id="note"] textarea'), "the note after a reload")
    assert page.find('[data-note-id="note"] textarea').get_attribute("value") == "Ask finance before switching on"
    page.shot("note-reopened")


def test_align_top_lines_up_the_selected_nodes(page: Page, served: dict[str, Any]) -> None:
    node_ids = piled_up_copy(served["store"], "to_align")
    page.open("/flows/to_align")
    page.wait(lambda: page.node_count() == len(node_ids), "the editor")
    page.click(".fb-arrange-button")
    page.click(".fb-arrange-horizontal")
    page.wait_notification("Select at least 3")  # nothing selected yet: it says what to do
    page.d.find_element("css selector", ".vue-flow__pane").click()
    ActionChains(page.d).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).perform()
    page.wait(lambda: page.all(".fb-panel-arrange-horizontal"), "the panel's arrange buttons")
    page.click(".fb-panel-arrange-horizontal")
    page.wait(lambda: not overlapping(list(positions(page).values())), "the nodes spread")
    page.click(".fb-panel-arrange-top")
    page.wait(lambda: len({round(r["y"]) for r in positions(page).values()}) == 1, "one top edge")
    page.shot("aligned")


def test_the_side_panel_is_resized_by_its_handle_and_keeps_its_width(page: Page, served: dict[str, Any]) -> None:
    page.open(f"/flows/{SHIPPED}")
    page.wait(lambda: page.node_count() > 0, "the editor")
    width = page.find(".fb-side").rect["width"]
    handle = page.find(".fb-side-resizer")
    ActionChains(page.d).move_to_element(handle).click_and_hold().move_by_offset(-60, 0).move_by_offset(
        -60, 0
    ).release().perform()
    page.wait(lambda: abs(page.find(".fb-side").rect["width"] - (width + 120)) <= 2, "the panel 120 px wider")
    page.shot("panel-wider")
    page.open(f"/flows/{SHIPPED}")
    page.wait(lambda: page.node_count() > 0, "the editor again")
    page.wait(lambda: abs(page.find(".fb-side").rect["width"] - (width + 120)) <= 2, "the width kept")
    ActionChains(page.d).double_click(page.find(".fb-side-resizer")).perform()
    page.wait(lambda: abs(page.find(".fb-side").rect["width"] - width) <= 2, "the default width back")
