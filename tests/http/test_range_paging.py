"""read.http's range pagination against APIs on 127.0.0.1 that page by Range and Content-Range:
one in PostgREST's manner (`Range: 0-24`, `Content-Range: 0-19/*`, at most 20 rows an answer
whatever was asked, 416 past the end), one in the `items=0-9` / `items 0-9/23` manner with its
total, and one that ignores Range and sends the whole list. Every record is read exactly once."""

from __future__ import annotations

import json
import re

import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from app.engine.validation import validate_document
from app.sandbox.http_serve import serve_app
from app.services.runs import run_flow
from app.store.connections import set_connection

PEOPLE = [{"id": n, "name": f"Person {n}"} for n in range(1, 48)]  # 47: not a multiple of any page


def ranged_api(max_rows: int, unit: str | None, total: bool, honours_range: bool = True) -> tuple[FastAPI, list]:
    app, asked = FastAPI(), []

    @app.get("/people")
    def people(request: Request) -> Response:
        header = request.headers.get("range", "")
        asked.append(header)
        found = re.fullmatch(rf"{unit + '=' if unit else ''}(\d+)-(\d+)", header)
        if not honours_range or not found:
            return JSONResponse(PEOPLE)
        first, last = int(found.group(1)), min(int(found.group(2)), int(found.group(1)) + max_rows - 1)
        if first >= len(PEOPLE):
            return JSONResponse({"message": "Requested range not satisfiable"}, status_code=416)
        rows = PEOPLE[first : last + 1]
        held = f"{first}-{first + len(rows) - 1}/{len(PEOPLE) if total else '*'}"
        return JSONResponse(rows, status_code=206, headers={"Content-Range": f"{unit} {held}" if unit else held})

    return app, asked


def document(**pagination) -> dict:
    return {
        "schema_version": 1,
        "id": "ranged_read",
        "name": "ranged_read",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {
                "id": "read",
                "type": "read.http",
                "config": {
                    "connection": "api",
                    "path": "/people",
                    "record_path": "",
                    "pagination": {"style": "range", **pagination},
                },
            },
            {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "people.jsonl"}},
        ],
        "edges": [{"from": "start", "to": "read"}, {"from": "read", "to": "out"}],
    }


@pytest.mark.parametrize(
    ("api", "pagination", "calls"),
    [
        # PostgREST: asked for 25, it answers 20 (its max-rows): the next page starts after what came,
        # and with no total the end is the 416 after the last page.
        ({"max_rows": 20, "unit": None, "total": False}, {"size": 25, "range_header": "{first}-{last}"}, 4),
        ({"max_rows": 100, "unit": "items", "total": True}, {"size": 10}, 5),  # 47 of 47 known: no sixth call
        ({"max_rows": 100, "unit": "items", "total": False, "honours_range": False}, {"size": 10}, 1),
    ],
)
def test_pages_asked_by_range_read_every_record_once(store, tmp_path, api, pagination, calls):
    app, asked = ranged_api(**api)
    served = serve_app(app, name="ranged api")
    try:
        set_connection(store, "api", "sandbox", "http", {"base_url": served.url, "retry_wait": 0.01})
        set_connection(store, "files", "sandbox", "file", {"path": str(tmp_path / "out")})
        result = run_flow(store, document(**pagination))
    finally:
        served.stop()
    assert result.status == "succeeded", result.error
    read = [json.loads(line)["id"] for line in (tmp_path / "out" / "people.jsonl").read_text().splitlines()]
    assert read == [p["id"] for p in PEOPLE]
    assert len(asked) == calls, asked


def test_a_range_header_naming_anything_but_first_and_last_is_a_validation_problem():
    problems = validate_document(document(range_header="items={start}-{end}"))
    assert any("may name only {first} and {last}" in str(p) for p in problems), problems
