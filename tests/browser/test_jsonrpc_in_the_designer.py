"""The designer draws the JSON-RPC example flow and shows write.jsonrpc's form from its schema."""

from __future__ import annotations

from typing import Any

from tests.browser.support import Page

FLOW = "crm_accounts_to_tryton_parties_jsonrpc"


def test_the_json_rpc_write_is_drawn_valid_and_its_form_shows_model_domain_and_link(
    page: Page, served: dict[str, Any]
) -> None:
    page.open(f"/flows/{FLOW}")
    page.wait(lambda: page.node_count() == 6 and page.edge_count() == 5, "the JSON-RPC example flow, drawn")
    assert page.node_problems("parties") == ""  # valid: a model, a key and a find domain
    page.select_node("parties")
    page.wait(lambda: "Write to a JSON-RPC ERP" in page.text(".fb-side"), "write.jsonrpc's side panel")
    page.shot("jsonrpc-write-form")
    values = {field.get_attribute("value") for field in page.all(".fb-side input, .fb-side textarea")}
    assert {"tryton_rpc", "party.party", "[('code', '=', record.code)]"} <= values
    side = page.text(".fb-side")
    assert "Domain" in side and "Keep links" in side and "Sent only when creating" in side
    page.select_node("tryton_ids")
    page.wait(
        lambda: "country.subdivision" in {f.get_attribute("value") for f in page.all(".fb-side input")},
        "the lookup's model in the transform's form",
    )
    page.shot("jsonrpc-lookup-form")
