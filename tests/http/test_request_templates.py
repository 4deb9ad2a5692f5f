"""write.http's request templates against a HubSpot-style contacts API on 127.0.0.1
(tests/http/hubspot_api.py): each record sent wrapped as the API wants it (`{"properties": …}`),
its numbers and lists typed as JSON, with a header of its own; a re-run finds every contact equal
through the wrapping and writes nothing; a changed one is PATCHed alone; a template that fails for
a record fails that record alone, with the reason; a body template with `fields` is refused when
the flow is checked."""

from __future__ import annotations

from app.engine.validation import validate_document
from app.services.runs import run_flow
from app.store import runs

PEOPLE = [
    {"email": f"p{n}@example.com", "first": f" Person {n} ", "score": n * 1.5, "tags": ["crm", f"t{n}"], "id": n}
    for n in range(1, 6)
]
BODY = {
    "properties": {
        "email": "{{ record.email }}",
        "firstname": "{{ record.first | trim }}",
        "score": "{{ record.score }}",
        "tags": "{{ record.tags }}",
        "note": "CRM contact {{ record.id }}",
    }
}


def document(**config) -> dict:
    return {
        "schema_version": 1,
        "id": "people_to_hubspot",
        "name": "People to HubSpot",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "write",
                "type": "write.http",
                "config": {
                    "connection": "hubspot",
                    "method": "POST",
                    "path": "/contacts",
                    "key": "email",
                    "find": {"path": "/contacts", "params": {"email": "{email}"}, "record_path": "results"},
                    "update": {"method": "PATCH", "path": "/contacts/{id}"},
                    "id_field": "id",
                    "body": BODY,
                    "headers": {"X-Source-Id": "crm-{{ record.id }}"},
                    **config,
                },
            },
        ],
        "edges": [{"from": "start", "to": "write"}],
    }


def test_records_go_wrapped_and_typed_and_a_rerun_finds_them_equal_through_the_wrapping(store, contacts):
    first = run_flow(store, document(), payload=PEOPLE)
    assert first.status == "succeeded", first.error
    assert first.totals["inserted"] == 5
    method, body, headers = contacts.sent[0]
    assert method == "POST" and headers == {"x-source-id": "crm-1"}
    assert body == {
        "properties": {
            "email": "p1@example.com",
            "firstname": "Person 1",
            "score": 1.5,  # a number, not "1.5"
            "tags": ["crm", "t1"],  # a list, not its text
            "note": "CRM contact 1",
        }
    }
    again = run_flow(store, document(), payload=PEOPLE)
    assert again.totals["unchanged"] == 5 and len(contacts.sent) == 5
    changed = [{**p, "score": 99} if p["id"] == 3 else p for p in PEOPLE]
    third = run_flow(store, document(), payload=changed)
    assert (third.totals["updated"], third.totals["unchanged"]) == (1, 4), third.error
    method, body, headers = contacts.sent[-1]
    assert method == "PATCH" and body["properties"]["score"] == 99 and headers == {"x-source-id": "crm-3"}
    assert sorted(c["properties"]["score"] for c in contacts.held.values()) == [1.5, 3.0, 6.0, 7.5, 99]


def test_a_template_failing_for_one_record_fails_that_record_alone_with_the_reason(store, contacts):
    body = {"properties": {**BODY["properties"], "score": "{{ 100 / record.score }}"}}
    people = [{**p, "score": 0} if p["id"] == 2 else p for p in PEOPLE]
    result = run_flow(store, document(body=body), payload=people)
    assert result.status == "partial" and result.totals["inserted"] == 4
    [letter] = runs.dead_letters(store, run_id=result.run_id)
    assert letter.record["email"] == "p2@example.com"
    assert "request template" in letter.reason and "division by zero" in letter.reason
    assert "p2@example.com" not in [c["properties"]["email"] for c in contacts.held.values()]


def test_a_body_template_with_fields_is_refused_when_the_flow_is_checked():
    problems = validate_document(document(fields=["email"]))
    assert any("a body template says what is sent: write it without fields" in str(p) for p in problems), problems
