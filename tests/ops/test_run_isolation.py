"""Runs started by the web server run in a child process with limits: a run that wants too much
memory or time ends itself, with the reason, and the server's process is untouched."""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from app.sandbox.http_serve import serve_app
from app.services import isolation
from app.services.runs import run_flow
from app.store import runs
from app.store.connections import set_connection
from tests.ops.helpers import flow, target

PAD = "x" * 4000


@pytest.fixture
def isolated() -> Iterator[None]:
    """This process runs its runs as `flowbridge serve` does (small limits, to be quick)."""
    isolation.isolate_runs(isolation.RunLimits(memory_mb=500, seconds=60))
    yield
    isolation.isolate_runs(None)


@pytest.fixture
def hostile_api() -> Iterator[str]:
    """An API whose list never ends (a 5 GB answer, as fast as the socket goes) or never comes."""
    api = FastAPI()

    @api.get("/endless")
    def endless() -> StreamingResponse:
        def body() -> Iterator[bytes]:
            yield b'{"data": ['
            chunk = (f'{{"id": 1, "pad": "{PAD}"}},' * 250).encode()  # 1 MB
            for _ in range(5000):
                yield chunk
            yield b'{"id": 2}]}'

        return StreamingResponse(body(), media_type="application/json")

    @api.get("/never")
    async def never() -> dict:
        await asyncio.sleep(120)
        return {"data": []}

    served = serve_app(api, name="hostile api")
    yield served.url
    served.stop()


def reading(path: str) -> dict:
    nodes = [
        {"id": "read", "type": "read.http", "config": {"connection": "api", "path": path, "timeout": 300}},
        {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "out.jsonl", "format": "jsonl"}},
    ]
    return flow(f"read{path.replace('/', '_')}", {"type": "trigger.manual"}, nodes)


def connect(store, tmp_path, url: str) -> None:
    set_connection(store, "api", "sandbox", "http", {"base_url": url, "retry_attempts": 1})
    set_connection(store, "files", "sandbox", "file", {"path": str(tmp_path / "files")})


def own_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_a_run_that_needs_more_memory_than_a_run_may_use_fails_alone_with_the_reason(
    isolated, hostile_api, store, tmp_path
):
    connect(store, tmp_path, hostile_api)
    before = own_peak_rss_mb()
    result = run_flow(store, reading("/endless"))
    assert result.status == "failed"
    assert "500 MB" in result.error
    stored = runs.get_run(store, result.run_id)
    assert stored.status == "failed" and "500 MB" in stored.error
    assert own_peak_rss_mb() - before < 100  # the 5 GB answer never came near this process
    # The server goes on: the next run of another flow runs as usual.
    target(store, tmp_path, env="sandbox")
    after = run_flow(store, flow("fine", {"type": "trigger.manual"}), payload=[{"id": 1, "name": "one"}])
    assert after.status == "succeeded" and after.totals["inserted"] == 1


def test_a_run_longer_than_its_flow_allows_is_stopped_and_says_so(isolated, hostile_api, store, tmp_path):
    connect(store, tmp_path, hostile_api)
    document = reading("/never")
    document["settings"] = {"max_run_minutes": 0.05}  # 3 s
    started = time.monotonic()
    result = run_flow(store, document)
    assert time.monotonic() - started < 30
    assert result.status == "failed" and "ran longer than its limit of 3 s and was stopped" in result.error
    assert runs.get_run(store, result.run_id).status == "failed"


def test_an_expression_that_would_build_ten_gigabytes_fails_its_records_with_the_cap(isolated, store, tmp_path):
    target(store, tmp_path, env="sandbox")
    hostile = "{% set a = 'x' * 99999 %}{{ [a] * 99999 }}"
    nodes = [
        {"id": "shape", "type": "map", "config": {"fields": {"id": "{{ record.id }}", "name": hostile}}},
        {"id": "write", "type": "write.sql", "config": {"connection": "dst", "table": "items", "key": "id"}},
    ]
    result = run_flow(store, flow("hostile", {"type": "trigger.manual"}, nodes), payload=[{"id": n} for n in range(5)])
    assert result.status == "partial"
    assert result.totals == {"read": 0, "filtered": 0, "inserted": 0, "updated": 0, "unchanged": 0, "failed": 5}
    letters = runs.dead_letters(store, run_id=result.run_id)
    assert len(letters) == 5 and all("repetition would build" in d.reason for d in letters)
