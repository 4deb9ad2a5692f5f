"""write.http's typed encodings (`encode`): a record's decimals and dates go as the API takes them —
HubSpot's dates as epoch milliseconds, numbers as JSON numbers, Tryton's Decimal and date objects —
against the HubSpot-style API on 127.0.0.1 (tests/http/hubspot_api.py); a re-run compares what was
sent with what the API holds and writes nothing; a value its encoding cannot read fails that record
alone, naming the field."""

from __future__ import annotations

import datetime as dt

from app.engine.validation import validate_document
from app.services.runs import run_flow
from app.store import runs
from nodes.encodings import encode
from tests.http.test_request_templates import document as templated

DEALS = [
    {"email": f"d{n}@example.com", "amount": f"{n},250.50", "closed": f"2026-11-{n:02d}", "id": n} for n in range(1, 5)
]
BODY = {
    "properties": {"email": "{{ record.email }}", "amount": "{{ record.amount }}", "closedate": "{{ record.closed }}"}
}


def document(**config) -> dict:
    """The request-template tests' flow, with this test's body and encodings."""
    return templated(**{"body": BODY, "encode": {"amount": "number", "closed": "epoch_ms"}, **config})


def test_decimals_and_dates_go_as_the_api_takes_them_and_a_rerun_writes_nothing(store, contacts):
    first = run_flow(store, document(), payload=DEALS)
    assert first.status == "succeeded", first.error
    _, body, _ = contacts.sent[0]
    midnight = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert body["properties"] == {
        "email": "d1@example.com",
        "amount": 1250.5,  # a JSON number, not "1,250.50"
        "closedate": int(midnight.timestamp() * 1000),  # HubSpot's date: midnight UTC in milliseconds
    }
    again = run_flow(store, document(), payload=DEALS)
    assert again.totals["unchanged"] == 4 and len(contacts.sent) == 4  # compared as sent: equal

    bad = [{**d, "closed": "next Tuesday"} if d["id"] == 2 else d for d in DEALS]
    third = run_flow(store, document(), payload=[{**d, "email": "x" + d["email"]} for d in bad])
    assert third.status == "partial" and third.totals["inserted"] == 3
    [letter] = runs.dead_letters(store, run_id=third.run_id)
    assert letter.reason == "field 'closed': 'next Tuesday' is not a date (epoch_ms)"


def test_each_encoding_gives_what_its_api_reads():
    assert encode("1,234.50", "number") == 1234.5 and encode("7.00", "number") == 7
    assert encode(12.5, "decimal_text") == "12.5"
    assert encode("12.50", "tryton_decimal") == {"__class__": "Decimal", "decimal": "12.50"}
    assert encode("2026-12-03T23:30:00-02:00", "date") == "2026-12-04"  # the UTC day
    assert encode("2026-12-03 11:15+01:00", "datetime_utc") == "2026-12-03T10:15:00Z"
    assert encode(dt.date(2026, 12, 3), "tryton_date") == {"__class__": "date", "year": 2026, "month": 12, "day": 3}
    assert encode("2026-12-03T10:15:00Z", "tryton_datetime")["hour"] == 10
    assert encode(None, "epoch_ms") is None


def test_an_unknown_encoding_is_refused_when_the_flow_is_checked():
    problems = validate_document(document(encode={"amount": "money"}))
    assert any("encode" in str(p) and "money" in str(p) for p in problems), problems
