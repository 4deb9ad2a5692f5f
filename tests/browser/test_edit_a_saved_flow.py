"""Editing a saved flow with the keyboard, its history, and two people saving the same flow."""

from __future__ import annotations

from typing import Any

from tests.browser.support import Page

SHOTS = "edit"  # screenshots: artifacts/browser/edit-NN-step.png
FLOW = "erp_stock_to_crm_products"


def _keys(page: Page, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    modifiers = {"ctrl": Keys.CONTROL, "shift": Keys.SHIFT}
    chain = ActionChains(page.d)
    held = [modifiers[k] for k in keys[:-1]]
    for key in held:
        chain.key_down(key)
    chain.send_keys(keys[-1])
    for key in reversed(held):
        chain.key_up(key)
    chain.perform()


def test_shortcuts_history_and_a_conflicting_save(page: Page, served: dict[str, Any]) -> None:
    page.open(f"/flows/{FLOW}")
    page.wait(lambda: page.node_count() == 5 and page.edge_count() == 4, "the stock flow, drawn")
    page.shot("opened")

    # Copy and paste a node with the keyboard; undo and redo the paste.
    page.select_node("to_crm_product")
    page.feedback(
        lambda: _keys(page, "ctrl", "c"),
        "document.querySelector('.q-notification')",
        "copy's notification",
        event="keydown",
    )
    page.feedback(
        lambda: _keys(page, "ctrl", "v"),
        "document.querySelectorAll('.vue-flow__node').length === 6",
        "the pasted node",
        event="keydown",
    )
    assert page.all('.vue-flow__node[data-id="map"]'), "the copy gets a fresh id"
    page.shot("pasted")
    page.feedback(
        lambda: _keys(page, "ctrl", "z"),
        "document.querySelectorAll('.vue-flow__node').length === 5",
        "undo",
        event="keydown",
    )
    page.feedback(
        lambda: _keys(page, "ctrl", "shift", "z"),
        "document.querySelectorAll('.vue-flow__node').length === 6",
        "redo",
        event="keydown",
    )
    # Delete it with the Delete key: the canvas removes it and the document follows.
    page.select_node("map")
    page.feedback(
        lambda: _keys(page, "\ue017"),  # the Delete key
        "document.querySelectorAll('.vue-flow__node').length === 5",
        "the deletion",
        event="keydown",
    )
    page.wait(lambda: "unsaved changes" in page.text(".fb-version"), "the editor to know the document changed")
    page.shot("deleted")

    # Select several nodes with Shift+drag on the canvas.
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    first = page.find('.vue-flow__node[data-id="start"]').rect
    third = page.find('.vue-flow__node[data-id="active"]').rect
    pane = page.find(".vue-flow__pane")
    box = pane.rect
    start = (first["x"] - box["x"] - 15, first["y"] - box["y"] - 15)
    end = (third["x"] + third["width"] - box["x"] + 15, third["y"] + third["height"] - box["y"] + 15)
    ActionChains(page.d).key_down(Keys.SHIFT).move_to_element_with_offset(
        pane, start[0] - box["width"] / 2, start[1] - box["height"] / 2
    ).click_and_hold().move_to_element_with_offset(
        pane, end[0] - box["width"] / 2, end[1] - box["height"] / 2
    ).release().key_up(Keys.SHIFT).perform()
    page.wait(lambda: "3 nodes selected" in page.text(".fb-side"), "three nodes selected")
    page.shot("three-selected")

    # Rename a node and save version 2.
    page.select_node("active")
    page.type_into(".fb-node-name-input input", "Products still sold")
    page.wait(
        lambda: "Products still sold" in page.text('.vue-flow__node[data-id="active"]'), "the new name on the canvas"
    )
    page.click(".fb-save")
    page.type_into(".fb-author input", "Ada")
    page.type_into(".fb-comment input", "clearer name")
    page.click(".fb-save-confirm")
    page.wait_notification("Saved version 2")

    # History: two versions, what changed between them, and restoring the first.
    page.click(".fb-history-button")
    page.wait(lambda: page.all(".fb-history .fb-diff-line"), "the history's differences")
    history = page.wait(lambda: page.text(".fb-history"), "the history to show")
    assert "Ada" in history and "clearer name" in history and "demo" in history
    assert any("Products still sold" in line.text for line in page.all(".fb-diff-line"))
    page.shot("history")
    page.wait(lambda: page.all(".fb-versions tbody tr button")[-1].click() or True, "restoring the oldest version")
    page.wait_notification("Version 1 is back in the editor")
    assert "Active products" in page.text('.vue-flow__node[data-id="active"]')
    page.shot("restored")

    # Meanwhile Maria saves the flow: saving on top of it is refused, naming her.
    from app.store import flows as flow_store

    document, _ = flow_store.get_document(served["store"], FLOW)
    flow_store.save_flow(
        served["store"], {**document, "description": "Maria's edit"}, author="Maria", comment="hers", based_on=2
    )
    page.click(".fb-save")
    page.type_into(".fb-author input", "Ada")
    page.type_into(".fb-comment input", "back to the old name")
    page.click(".fb-save-confirm")
    page.wait(lambda: page.all(".fb-conflict"), "the conflict dialog")
    assert "Maria saved version 3" in page.text(".fb-conflict-text")
    page.shot("conflict")
    page.click(".fb-open-theirs", retry=False)
    page.wait(lambda: "version 3" in page.text(".fb-version"), "Maria's version in the editor")
    page.shot("their-version")
