"""The designer shows a write.http's two-way sync section as it shows write.sql's."""

from __future__ import annotations

from typing import Any

from tests.browser.support import Page

FLOW = "erp_customers_to_crm_accounts_http"


def test_the_sync_section_of_an_api_write_is_shown_and_valid(page: Page, served: dict[str, Any]) -> None:
    page.open(f"/flows/{FLOW}")
    page.wait(lambda: page.node_count() == 6 and page.edge_count() == 5, "the reverse HTTP flow, drawn")
    assert page.node_problems("accounts") == ""  # a valid two-way sync through an API
    page.select_node("accounts")
    page.wait(lambda: "Two-way sync" in page.text(".fb-side"), "the sync section in the side panel")
    page.d.execute_script("""const all = [...document.querySelectorAll('.fb-side *')];
        const title = all.find(e => e.children.length === 0 && e.textContent.trim() === 'Two-way sync');
        if (title) title.scrollIntoView({block: 'start'});""")
    page.shot("api-write-sync")
    values = {field.get_attribute("value") for field in page.all(".fb-side input")}
    assert {"erp_api", "customer_number", "erp_updated_at"} <= values  # the sync's source, its id and its time
