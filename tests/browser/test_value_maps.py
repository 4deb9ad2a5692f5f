"""The value-map tables in the editor's side panel, in a real browser: each 'to' value is shown
whole ("California", "District of Columbia"), not cut at the field's edge. Nothing is saved."""

from __future__ import annotations

from typing import Any

from tests.browser.support import Page

SHOTS = "value-maps"
FLOW = "crm_accounts_to_erp_customers"

# The 'to' inputs whose text is wider than the box that shows it.
CUT = """
return [...document.querySelectorAll('.fb-value-map-to input')]
  .filter(i => i.scrollWidth > i.clientWidth + 1).map(i => i.value);
"""


def test_every_value_of_a_value_map_is_shown_whole(page: Page, served: dict[str, Any]) -> None:
    page.open(f"/flows/{FLOW}")
    page.wait(lambda: page.node_count() > 0, "the editor")
    page.click(".fb-value-maps-panel .q-expansion-item__container > .q-item")
    page.click(".fb-value-map .q-expansion-item__container > .q-item")
    page.wait(lambda: len(page.all(".fb-value-map-to input")) > 40, "the us_states entries")
    values = [e.get_attribute("value") for e in page.all(".fb-value-map-to input")]
    assert "California" in values and "District of Columbia" in values
    page.shot("us-states")
    assert page.d.execute_script(CUT) == []
