"""The REST connector against a small API of the test's own, served on 127.0.0.1: every pagination
style, Retry-After, timeouts, dropped and refused connections, refusals with the server's reason, auth."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.connectors import ConnectionSpec
from app.connectors.rest import Pagination, Refused, RefusedInAnswer, answer_error, retry_after_seconds
from app.connectors.retry import retry_events
from app.errors import ConnectorError, TransientError
from app.sandbox.http_serve import serve_app

ITEMS = [{"id": n, "name": f"item {n}"} for n in range(1, 251)]
CAP = 40  # the API hands out at most this many per call, whatever is asked


def tiny_api() -> FastAPI:
    api = FastAPI()
    calls: dict[str, int] = {}
    api.state.calls = calls

    def count(name: str) -> int:
        calls[name] = calls.get(name, 0) + 1
        return calls[name]

    @api.get("/paged")
    def paged(page: int = 1, size: int = 10) -> dict:
        size = min(size, CAP)
        return {"items": ITEMS[(page - 1) * size : page * size]}

    @api.get("/offset")
    def offset(offset: int = 0, limit: int = 10) -> dict:
        return {"results": ITEMS[offset : offset + min(limit, CAP)]}

    @api.get("/cursor")
    def cursor(cursor: str = "0", limit: int = 10) -> dict:
        start = int(cursor)
        following = start + limit if start + limit < len(ITEMS) else None
        return {
            "data": ITEMS[start : start + limit],
            "meta": {"next_cursor": None if following is None else str(following)},
        }

    @api.get("/linked")
    def linked(request: Request, after: int = 0, per_page: int = 10) -> JSONResponse:
        part = ITEMS[after : after + per_page]
        headers = {}
        if after + per_page < len(ITEMS):
            headers["Link"] = f'<{request.url.include_query_params(after=after + per_page)}>; rel="next"'
        return JSONResponse(part, headers=headers)

    @api.get("/stuck")
    def stuck() -> dict:  # ignores any page parameter
        return {"items": ITEMS[:10]}

    @api.get("/limited")
    def limited() -> JSONResponse:
        if count("limited") == 1:
            return JSONResponse({"detail": "slow down"}, status_code=429, headers={"Retry-After": "1"})
        return JSONResponse({"ok": True})

    @api.get("/patient")
    def patient() -> JSONResponse:
        return JSONResponse({"detail": "come back tomorrow"}, status_code=429, headers={"Retry-After": "86400"})

    @api.get("/slow")
    async def slow() -> dict:
        count("slow")
        await asyncio.sleep(2)
        return {"ok": True}

    @api.get("/refuse")
    def refuse() -> JSONResponse:
        count("refuse")
        return JSONResponse({"detail": "unknown filter 'colour'"}, status_code=400)

    @api.get("/broken")
    def broken() -> JSONResponse:
        count("broken")
        return JSONResponse({"message": "upstream database unavailable"}, status_code=503)

    @api.post("/rpc")
    def rpc(call: dict) -> dict:
        count("rpc")
        if call.get("method") == "model.party.party.search_read":
            return {"jsonrpc": "2.0", "id": call.get("id"), "result": [{"id": 1}], "error": None}
        return {"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": -32601, "message": "Method not found"}}

    @api.get("/whoami")
    def whoami(request: Request) -> dict:
        return {"authorization": request.headers.get("authorization"), "key": request.headers.get("x-secret-key")}

    return api


class DropFirst:
    """ASGI wrapper: the first call to /drop gets its headers and half its body, then the connection closes."""

    def __init__(self, app: FastAPI) -> None:
        self.app, self.dropped = app, False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == "/drop" and not self.dropped:
            self.dropped = True
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"items": [', "more_body": True})
            from app.sandbox.http_api import SandboxDrop

            raise SandboxDrop("dropped on purpose")
        if scope["type"] == "http" and scope["path"] == "/drop":
            await JSONResponse({"items": ITEMS[:3]})(scope, receive, send)
            return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def api() -> Iterator[tuple[str, FastAPI]]:
    app = tiny_api()
    served = serve_app(DropFirst(app), name="tiny api")
    yield served.url, app
    served.stop()


def connector(url: str, **settings):
    return ConnectionSpec("tiny", "sandbox", "http", {"base_url": url, "retry_wait": 0.01, **settings}).open()


@pytest.mark.parametrize(
    "path, record_path, pagination",
    [
        ("/paged", "items", {"style": "page", "size": 100, "size_param": "size"}),  # the API caps pages at 40
        ("/offset", "results", {"style": "offset", "size": 25}),
        (
            "/cursor",
            "data",
            {"style": "cursor", "size": 30, "size_param": "limit", "next_cursor_path": "meta.next_cursor"},
        ),
        ("/linked", "", {"style": "link", "size": 70}),
    ],
)
def test_every_pagination_style_reads_every_record_once_in_order(api, path, record_path, pagination):
    with_connector = connector(api[0])
    pages = list(with_connector.pages(path, record_path=record_path, pagination=Pagination.from_config(pagination)))
    with_connector.close()
    assert [item["id"] for page in pages for item in page] == [item["id"] for item in ITEMS]
    assert len(pages) > 3


def test_a_429_waits_as_long_as_retry_after_says_then_succeeds(api):
    events: list = []
    token = retry_events.set(events)
    started = time.monotonic()
    try:
        reply = connector(api[0]).call("GET", "/limited")
    finally:
        retry_events.reset(token)
    assert reply.json() == {"ok": True}
    assert 1.0 <= time.monotonic() - started < 10  # waited the second, not a retry policy's own minutes
    assert events[0]["wait_seconds"] == 1.0 and "429" in events[0]["error"] and "slow down" in events[0]["error"]
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0 and retry_after_seconds("2.5") == 2.5


def test_a_retry_after_longer_than_the_connection_waits_fails_at_once(api):
    started = time.monotonic()
    with pytest.raises(TransientError, match="longer than the 120s"):
        connector(api[0]).call("GET", "/patient")
    assert time.monotonic() - started < 10  # not the 120 s it was told to wait


def test_a_call_with_no_answer_times_out_and_is_retried_a_bounded_number_of_times(api):
    calls = api[1].state.calls
    before = calls.get("slow", 0)
    started = time.monotonic()
    with pytest.raises(TransientError, match=r"GET /slow: no answer within 0.2s"):
        connector(api[0], timeout=0.2, retry_attempts=2).call("GET", "/slow")
    assert time.monotonic() - started < 10  # two bounded attempts, not an endless wait
    assert calls["slow"] - before == 2


def test_a_connection_dropped_mid_response_is_retried_and_a_refused_one_is_transient(api):
    events: list = []
    token = retry_events.set(events)
    try:
        pages = list(connector(api[0]).pages("/drop", record_path="items"))
    finally:
        retry_events.reset(token)
    assert pages == [ITEMS[:3]] and "connection lost" in events[0]["error"]
    closed = connector("http://127.0.0.1:1", retry_attempts=2)
    with pytest.raises(TransientError, match="cannot connect"):
        closed.call("GET", "/anything")


def test_a_4xx_is_refused_at_once_with_the_servers_reason_and_a_5xx_is_retried(api):
    calls = api[1].state.calls
    with pytest.raises(Refused) as refused:
        connector(api[0]).call("GET", "/refuse")
    assert refused.value.status == 400 and refused.value.reason == "unknown filter 'colour'"
    assert calls["refuse"] == 1
    with pytest.raises(TransientError, match="HTTP 503: upstream database unavailable"):
        connector(api[0], retry_attempts=3).call("GET", "/broken")
    assert calls["broken"] == 3


def test_each_kind_of_auth_is_sent_and_no_secret_shows_in_a_message(api):
    url = api[0]
    assert connector(url, token="t0ken").call("GET", "/whoami").json()["authorization"] == "Bearer t0ken"
    basic = connector(url, auth="basic", username="ada", password="s3cret").call("GET", "/whoami").json()
    assert basic["authorization"] == "Basic YWRhOnMzY3JldA=="
    keyed = connector(url, auth="api_key", api_key="k3y", api_key_header="X-Secret-Key").call("GET", "/whoami")
    assert keyed.json()["key"] == "k3y"
    with pytest.raises(Refused) as refused:
        connector(url, token="t0ken", auth="bearer").call("GET", "/refuse", params={"api_key": "k3y"})
    assert "t0ken" not in str(refused.value) and "k3y" not in str(refused.value)


def test_an_api_that_ignores_the_page_parameter_is_caught_instead_of_read_forever(api):
    with pytest.raises(ConnectorError, match="sent the same page twice; does it take the parameter 'page'"):
        list(connector(api[0]).pages("/stuck", record_path="items", pagination=Pagination(style="page")))


# --- a connection's requests, and its credentials, stay on its own origin ----------------------------


@pytest.fixture
def elsewhere() -> Iterator[tuple[str, list[dict]]]:
    """Another server on 127.0.0.1 (another origin) that records whatever reaches it: it must get nothing."""
    received: list[dict] = []
    other = FastAPI()

    @other.api_route("/{anything:path}", methods=["GET", "POST", "PUT", "PATCH"])
    def steal(anything: str, request: Request) -> dict:
        received.append(
            {
                "path": anything,
                "authorization": request.headers.get("authorization"),
                "key": request.headers.get("x-secret-key"),
            }
        )
        return {"data": [{"id": 1}]}

    served = serve_app(other, name="elsewhere")
    yield served.url, received
    served.stop()


@pytest.fixture
def luring(elsewhere) -> Iterator[str]:
    """The connection's own API, answering with links and redirects that point at the other server."""
    target = elsewhere[0]
    api = FastAPI()

    @api.get("/next-elsewhere")
    def next_elsewhere() -> JSONResponse:
        return JSONResponse({"data": [{"id": 1}]}, headers={"Link": f'<{target}/page2>; rel="next"'})

    @api.get("/body-next-elsewhere")
    def body_next_elsewhere() -> dict:
        return {"data": [{"id": 1}], "next": f"{target}/page2"}

    @api.get("/redirect-elsewhere")
    def redirect_elsewhere() -> JSONResponse:
        return JSONResponse({}, status_code=302, headers={"Location": f"{target}/landing"})

    @api.get("/redirect-home")
    def redirect_home() -> JSONResponse:
        return JSONResponse({}, status_code=302, headers={"Location": "/landing"})

    @api.get("/landing")
    def landing() -> dict:
        return {"data": [{"id": 7}]}

    served = serve_app(api, name="luring api")
    yield served.url
    served.stop()


@pytest.mark.parametrize(
    "auth",
    [{"token": "s3cret-token"}, {"auth": "api_key", "api_key": "s3cret-key", "api_key_header": "X-Secret-Key"}],
    ids=["bearer", "api-key"],
)
@pytest.mark.parametrize(
    "path, pagination",
    [
        ("{elsewhere}/collect", {"style": "none"}),  # an absolute URL as the path
        ("/next-elsewhere", {"style": "link"}),  # a Link: rel=next to another host
        ("/body-next-elsewhere", {"style": "link", "next_url_path": "next"}),
        ("/redirect-elsewhere", {"style": "none"}),  # a redirect to another origin
    ],
    ids=["absolute-path", "link-header", "link-in-body", "redirect"],
)
def test_no_request_of_a_connection_reaches_another_origin(luring, elsewhere, path, pagination, auth):
    target, received = elsewhere
    reader = connector(luring, **auth)
    address = path.format(elsewhere=target)
    with pytest.raises(ConnectorError, match="is not on the connection's origin"):
        list(reader.pages(address, record_path="data", pagination=Pagination.from_config(pagination)))
    reader.close()
    assert received == []  # nothing at all reached it, credentials least of all


def test_a_redirect_on_the_connections_own_origin_is_followed(luring):
    reader = connector(luring, token="s3cret-token")
    assert list(reader.pages("/redirect-home", record_path="data")) == [[{"id": 7}]]
    reader.close()


def test_a_query_written_into_the_path_is_kept_beside_params_and_pages(api):
    reader = connector(api[0])
    pages = list(
        reader.pages(
            "/paged?size=7",
            record_path="items",
            params={"unused": "x"},
            pagination=Pagination.from_config({"style": "page"}),
        )
    )
    reader.close()
    assert [len(page) for page in pages[:2]] == [7, 7]  # size=7 from the path reached the API on every page
    assert [item["id"] for page in pages for item in page] == [item["id"] for item in ITEMS]


def test_an_error_in_a_200_answer_is_a_refusal_when_the_connection_says_where_errors_are(api):
    url, app = api
    unknown = {"jsonrpc": "2.0", "id": 7, "method": "model.party.party.serch_read", "params": []}
    assert connector(url).call("POST", "/rpc", body=unknown).json()["error"]  # unchecked: a 200 like any
    before = app.state.calls["rpc"]
    with pytest.raises(RefusedInAnswer) as refused:
        connector(url, error_path="error", retry_attempts=3).call("POST", "/rpc", body=unknown)
    assert str(refused.value) == (
        "connection 'tiny' (sandbox): POST /rpc: the answer reports an error at 'error' (HTTP 200): Method not found"
    )
    assert app.state.calls["rpc"] == before + 1  # the system answered: not retried
    found = {**unknown, "method": "model.party.party.search_read"}
    assert connector(url, error_path="error").call("POST", "/rpc", body=found).json()["result"] == [{"id": 1}]


@pytest.mark.parametrize(
    "body, said",
    [
        ({"error": None}, None),
        ({"error": False}, None),
        ({"errors": []}, None),
        ({"error": "quota exceeded"}, "quota exceeded"),
        ({"error": ["UserError", ["A party needs a name.", ""]]}, '["UserError", ["A party needs a name.", ""]]'),
        ({"error": {"code": 1, "message": "Access denied"}}, "Access denied"),
    ],
)
def test_what_an_answer_reports_at_the_error_path(body, said):
    path = "errors" if "errors" in body else "error"
    assert answer_error(body, path) == said
