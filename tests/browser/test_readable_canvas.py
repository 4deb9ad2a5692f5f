"""A shipped flow opens with node names a person can read: fit-to-view never zooms out below
readable text; a flow too wide for that opens at its start, and the rest is a pan away."""

from __future__ import annotations

from typing import Any

from tests.browser.support import Page

SHOTS = "readable-canvas"
FLOW = "crm_accounts_to_erp_customers"

# The pixel size a node's name is drawn at: its CSS size times the canvas zoom.
DRAWN_NAME_PX = """
const name = document.querySelector('.vue-flow__node .fb-node-name');
const zoom = new DOMMatrix(getComputedStyle(document.querySelector('.vue-flow__transformationpane')).transform).a;
return parseFloat(getComputedStyle(name).fontSize) * zoom;
"""


def test_a_shipped_flow_opens_with_readable_node_names(page: Page, served: dict[str, Any]) -> None:
    page.d.set_window_size(1366, 768)
    try:
        page.open(f"/flows/{FLOW}")
        page.wait(lambda: page.node_count() > 0, "the editor")
        start = '.vue-flow__node[data-id="start"]'
        # opening fits twice, the second time once the page has its final size
        page.wait(lambda: int(page.find(".fb-canvas").get_attribute("data-fits") or 0) >= 2, "the canvas fitted")
        assert page.d.execute_script(DRAWN_NAME_PX) >= 9.5, "node names drawn under 9.5 px"
        page.shot("opened")
        box, first = page.canvas_box(), page.find(start).rect
        assert box["x"] <= first["x"] and first["x"] + first["width"] <= box["x"] + box["width"], (
            "the trigger is in view"
        )
    finally:
        page.d.set_window_size(1440, 900)


def test_find_a_node_brings_it_into_view_selected(page: Page, served: dict[str, Any]) -> None:
    page.d.set_window_size(1366, 768)
    try:
        page.open(f"/flows/{FLOW}")
        page.wait(lambda: int(page.find(".fb-canvas").get_attribute("data-fits") or 0) >= 2, "the canvas fitted")
        wanted = '.vue-flow__node[data-id="customers"]'
        box = page.canvas_box()
        assert page.find(wanted).rect["x"] > box["x"] + box["width"], "the last node starts out of view"
        page.click(".fb-find-node-button")
        page.type_into(".fb-find-node input", "ERP cust")
        page.click(".q-menu .q-item")
        page.wait(lambda: page.find(".fb-node-id-input input").get_attribute("value") == "customers", "its side panel")

        def in_view() -> bool:
            node, box = page.find(wanted).rect, page.canvas_box()
            return box["x"] <= node["x"] and node["x"] + node["width"] <= box["x"] + box["width"]

        page.wait(in_view, "the found node in view")
        assert "selected" in page.find(wanted).get_attribute("class")
        page.shot("found")
    finally:
        page.d.set_window_size(1440, 900)
