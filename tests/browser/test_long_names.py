"""A flow with a name as long as its schema allows (200 characters) opens with the name cut by an
ellipsis in the editor's header and the toolbar's buttons whole: nothing pushed out of shape."""

from __future__ import annotations

from typing import Any

from app.store import flows as flow_store
from tests.browser.support import Page

SHOTS = "long-name"
FLOW = "erp_invoices_to_crm"


def test_a_long_flow_name_is_cut_in_the_header_and_the_toolbar_keeps_its_shape(
    page: Page, served: dict[str, Any]
) -> None:
    store = served["store"]
    document, version = flow_store.get_document(store, FLOW)
    long_name = ("Invoices paid in the ERP reach the CRM account they were billed to, every hour, " * 3)[:200]
    flow_store.save_flow(store, {**document, "name": long_name}, author="test", based_on=version)
    try:
        page.open(f"/flows/{FLOW}")
        page.wait(lambda: page.all(".fb-title") and page.node_count() > 0, "the editor")
        page.shot("opened")
        title = page.d.execute_script(
            "const t = document.querySelector('.fb-title');"
            "return {shown: t.clientWidth, whole: t.scrollWidth, text: t.textContent, window: window.innerWidth};"
        )
        assert title["text"] == long_name
        assert title["whole"] > title["shown"] and title["shown"] <= title["window"] * 0.35  # cut, not spread
        buttons = page.d.execute_script(
            "return [...document.querySelectorAll('.fb-toolbar .q-btn')].map(b => b.getBoundingClientRect())"
            ".map(r => ({right: r.right, height: r.height}));"
        )
        assert buttons and all(b["right"] <= title["window"] + 1 for b in buttons)  # none pushed off the page
        assert max(b["height"] for b in buttons) < 48  # none squeezed into two lines
    finally:
        current, latest = flow_store.get_document(store, FLOW)
        flow_store.save_flow(store, {**current, "name": document["name"]}, author="test", based_on=latest)
