"""The designer edits write.http's body template as JSON text: shown indented, a half-typed body
marked "not JSON yet" and kept out of the flow, a whole one taken."""

from __future__ import annotations

from typing import Any

from app.store import flows as flow_store
from tests.browser.support import Page

FLOW = {
    "schema_version": 1,
    "id": "people_to_contacts_api",
    "name": "People to a contacts API",
    "nodes": [
        {"id": "start", "type": "trigger.manual", "position": {"x": 40, "y": 120}},
        {
            "id": "contacts",
            "type": "write.http",
            "position": {"x": 300, "y": 120},
            "config": {
                "connection": "erp_api",
                "method": "POST",
                "path": "/customers",
                "key": "email",
                "find": {"path": "/customers", "params": {"email": "{email}"}},
                "update": {"method": "PATCH", "path": "/customers/{id}"},
                "id_field": "id",
                "body": {"properties": {"email": "{{ record.email }}", "score": "{{ record.score }}"}},
                "headers": {"X-Source-Id": "crm-{{ record.id }}"},
            },
        },
    ],
    "edges": [{"from": "start", "to": "contacts"}],
}


def test_the_body_template_is_edited_as_json_and_taken_only_once_it_parses(page: Page, served: dict[str, Any]) -> None:
    flow_store.save_flow(served["store"], FLOW, author="tests")  # (a version more if it ran before)
    page.open(f"/flows/{FLOW['id']}")
    page.wait(lambda: page.node_count() == 2, "the flow, drawn")
    assert page.node_problems("contacts") == ""
    page.select_node("contacts")
    body = page.wait(lambda: page.find(page.field("body")), "the body's field")
    assert '"properties": {' in body.get_attribute("value") and '"{{ record.email }}"' in body.get_attribute("value")
    page.shot("write-http-body")
    page.type_into(page.field("body"), '{"properties": {"email": ')
    page.wait(lambda: "not JSON yet" in page.text(".fb-side"), "the half-typed body marked")
    page.shot("write-http-body-half-typed")
    page.type_into(page.field("body"), '{"properties": {"email": "{{ record.mail }}"}}')
    page.wait(lambda: "not JSON yet" not in page.text(".fb-side"), "the whole body taken")
    page.wait(lambda: "unsaved" in page.text("body").lower(), "the edit marked unsaved")
