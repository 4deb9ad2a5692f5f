"""REST connector: a JSON API reached over HTTP with httpx, for read.http and write.http.

One connector per run holds one httpx client (keep-alive, a timeout on every call). Failures are
sorted the way the rest of Flowbridge sorts them: a dropped, refused or reset connection, a timeout,
408, 429 and 5xx are transient (retried with tenacity; a 429's Retry-After is honoured), any other
4xx is permanent and carries the server's own message. Secrets in the connection settings (token,
password, API key) go only into request headers, never into a message, and only to the base URL's
origin: a request for any other origin (an absolute path, a next-page link, a redirect) is refused
before it is sent.
"""

from __future__ import annotations

import email.utils
import logging
import ssl
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from app.connectors import ConnectionSpec
from app.connectors.retry import _log_attempt
from app.errors import ConnectorError, RecordError, TransientError

if TYPE_CHECKING:
    from app.connectors.oauth2 import TokenSource
    from app.connectors.session_login import SessionLogin

log = logging.getLogger(__name__)

AUTH_KINDS = ("none", "bearer", "basic", "api_key", "session", "oauth2_client_credentials", "oauth2_authorization_code")
DEFAULT_TIMEOUT = 30.0  # seconds per call
DEFAULT_ATTEMPTS = 5
DEFAULT_WAIT = 0.2  # first backoff, seconds; it doubles up to DEFAULT_MAX_WAIT
DEFAULT_MAX_WAIT = 10.0
MAX_RETRY_AFTER = 120.0  # a server asking for a longer pause makes the call fail (transiently) instead
MAX_PAGES = 100_000
_TRANSIENT_STATUS = {408, 425, 429, 500, 502, 503, 504}


class RateLimited(TransientError):
    """429 Too Many Requests (or 503 with Retry-After): wait as long as the server says, then retry."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OffOrigin(ConnectorError):
    """A request of this connection would go to another origin; refused before anything is sent.
    It would go the same way for every record, so a write stops the run."""

    every_record = True


def origin(url: httpx.URL) -> tuple[str, str, int | None]:
    """Scheme, host and port (the scheme's default port written out), as browsers compare origins."""
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host.lower(), url.port or default


class Refused(ConnectorError):
    """A permanent answer (a 4xx other than 408/429): the request itself is wrong for the server."""

    def __init__(self, status: int, reason: str, where: str, call: str, body: str = "", message: str = "") -> None:
        super().__init__(message or f"{where}: {call}: HTTP {status}: {reason}")
        self.status, self.reason, self.call, self.body = status, reason, call, body


class RefusedInAnswer(Refused):
    """A 2xx answer whose body reports an error at the connection's `error_path` (JSON-RPC's `error`
    member, an API that says `{"ok": false, "errors": [...]}` with 200): nothing was done."""

    def __init__(self, status: int, reason: str, where: str, call: str, path: str, body: str = "") -> None:
        said = f"{where}: {call}: the answer reports an error at '{path}' (HTTP {status}): {reason}"
        super().__init__(status, reason, where, call, body, message=said)


def answer_error(body: Any, path: str) -> str | None:
    """The error a JSON answer reports at `path`, in words, or None when it reports none (the path
    absent, null, false or empty)."""
    found = dig(body, path)
    if found is None or found is False or found in ("", [], {}):
        return None
    if isinstance(found, dict):  # JSON-RPC 2.0: {"code": -32601, "message": "Method not found", "data": …}
        for name in ("message", "detail", "description", "error"):
            if isinstance(found.get(name), str) and found[name].strip():
                return found[name].strip()[:500]
    if isinstance(found, str):
        return found.strip()[:500]
    import json

    return json.dumps(found, default=str)[:500]  # Tryton: ["UserError", ["message", "description"]]


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header in seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (now if now is not None else time.time()), 0.0)


def server_reason(response: httpx.Response) -> str:
    """What the server said went wrong: a JSON body's detail/message/error, or the start of its text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for name in ("detail", "message", "error_description", "error", "title", "reason"):
            value = body.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()[:500]
            if isinstance(value, dict) and isinstance(value.get("message"), str):  # OData: {"error": {"message"}}
                return value["message"].strip()[:500]
            if isinstance(value, (list, dict)) and value:  # FastAPI-style validation details
                import json

                return json.dumps(value)[:500]
    text = response.text
    if "html" in response.headers.get("content-type", "").lower() or text.lstrip()[:1] == "<":
        text = _page_gist(text)  # an error page: its title, not its markup
    text = " ".join(text.split())
    return text[:200] or response.reason_phrase or "no reason given"


def _page_gist(page: str) -> str:
    """What an HTML error page says: its title, else its first heading, else its text."""
    import html
    import re

    for pattern in (r"<title[^>]*>(.*?)</title>", r"<h1[^>]*>(.*?)</h1>"):
        found = re.search(pattern, page, re.IGNORECASE | re.DOTALL)
        if found and found.group(1).strip():
            return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))
    return html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"(?is)<(script|style)[^>]*>.*?</\1>", " ", page)))


MAX_BODY_KEPT = 4000  # characters of a refusal's answer kept with the dead letter


def dig(body: Any, path: str | None) -> Any:
    """The value at a dotted path ("data", "result.items"); an empty path is the body itself."""
    if not path:
        return body
    for part in path.split("."):
        if isinstance(body, dict):
            body = body.get(part)
        elif isinstance(body, list) and part.isdigit() and int(part) < len(body):
            body = body[int(part)]
        else:
            return None
    return body


@dataclass(frozen=True)
class Pagination:
    """How an API hands out a long list (see read.http's config schema for each field)."""

    style: str = "none"  # none, page, offset, cursor, link
    size: int | None = None
    page_param: str = "page"
    size_param: str = "per_page"
    first_page: int = 1
    offset_param: str = "offset"
    limit_param: str = "limit"
    cursor_param: str = "cursor"
    next_cursor_path: str = "next_cursor"
    next_url_path: str | None = None  # link style: a body field with the next page's address
    range_header: str = "items={first}-{last}"  # range style: the Range header asking for a page

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> Pagination:
        config = dict(config or {})
        if "style" not in config:
            config["style"] = "none"
        return cls(**config)


def _tls_for(scheme: str) -> ssl.SSLContext | bool:
    """Certificates checked against the trusted authorities for https. A plain-http origin needs no
    TLS at all (no request leaves the origin), so it gets a context that trusts nobody rather than
    loading the authorities' bundle, a tenth of a second at every run's start."""
    if scheme == "https":
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class RestConnector:
    """One HTTP API for the length of a run (see the module docstring)."""

    def __init__(self, spec: ConnectionSpec) -> None:
        self.spec = spec
        settings = spec.settings
        base_url = settings.get("base_url") or settings.get("url")
        if not base_url:
            raise ConnectorError(f"connection '{spec.name}' ({spec.env}) has no base_url")
        parsed = urllib.parse.urlsplit(str(base_url))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ConnectorError(f"connection '{spec.name}' ({spec.env}): base_url must start with http:// or https://")
        self.base_url = str(base_url).rstrip("/")
        self.timeout = float(settings.get("timeout") or DEFAULT_TIMEOUT)
        self.attempts = int(settings.get("retry_attempts") or DEFAULT_ATTEMPTS)
        wait = settings.get("retry_wait")
        self.initial_wait = float(wait if wait is not None else DEFAULT_WAIT)
        self.max_wait = float(settings.get("retry_max_wait") or DEFAULT_MAX_WAIT)
        self.max_retry_after = float(settings.get("max_retry_after") or MAX_RETRY_AFTER)
        # Where a 2xx answer says it failed, for APIs that answer errors with 200 (JSON-RPC: "error").
        self.error_path: str | None = settings.get("error_path") or None
        headers = {"Accept": "application/json", "User-Agent": "Flowbridge"}
        headers.update({str(k): str(v) for k, v in (settings.get("headers") or {}).items()})
        auth: httpx.Auth | None = None
        kind = settings.get("auth") or ("bearer" if settings.get("token") else "none")
        if kind not in AUTH_KINDS:
            raise ConnectorError(
                f"connection '{spec.name}' ({spec.env}): unknown auth '{kind}'; use one of {', '.join(AUTH_KINDS)}"
            )
        if kind == "bearer":
            headers["Authorization"] = f"Bearer {self._setting('token')}"
        elif kind == "basic":
            auth = httpx.BasicAuth(self._setting("username"), self._setting("password"))
        elif kind == "api_key":
            headers[settings.get("api_key_header") or "X-API-Key"] = self._setting("api_key")
        self._oauth: TokenSource | None = None
        self.session: SessionLogin | None = None
        if kind == "session":
            from app.connectors.session_login import SessionLogin

            self.session = SessionLogin(settings, self.where, self.error_path)
        if kind.startswith("oauth2_"):
            from app.connectors import oauth2  # authlib, imported for the connections that use it

            verify = _tls_for(urllib.parse.urlsplit(str(settings.get("token_url") or "")).scheme)
            if kind == oauth2.CLIENT_CREDENTIALS:
                self._oauth = oauth2.ClientCredentials(settings, self.where, timeout=self.timeout, verify=verify)
            else:
                self._oauth = oauth2.RefreshedAuthorization(
                    settings, self.where, name=spec.name, keep=spec.keep, timeout=self.timeout, verify=verify
                )
        self.origin = origin(httpx.URL(self.base_url))
        # The hook sees every request, redirects included: none leaves the connection's origin.
        self._client = httpx.Client(
            base_url=self.base_url,
            headers=headers,
            auth=auth,
            timeout=self.timeout,
            follow_redirects=True,
            max_redirects=5,
            verify=_tls_for(parsed.scheme),
            event_hooks={"request": [self._stay_on_origin]},
        )
        self.calls = 0

    def _stay_on_origin(self, request: httpx.Request) -> None:
        if origin(request.url) != self.origin:
            scheme, host, port = self.origin
            raise OffOrigin(
                f"{self.where}: {request.method} {_shown(str(request.url))} is not on the connection's "
                f"origin {scheme}://{host}:{port}; its requests, and its credentials, go there only "
                "(a path, a next-page link or a redirect cannot send them elsewhere)"
            )

    def _setting(self, name: str) -> str:
        value = self.spec.settings.get(name)
        if not value:
            raise ConnectorError(f"connection '{self.spec.name}' ({self.spec.env}) needs '{name}' for its auth")
        return str(value)

    @property
    def where(self) -> str:
        return f"connection '{self.spec.name}' ({self.spec.env})"

    # --- one call ----------------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        timeout: float | None = None,
        missing_ok: bool = False,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response | None:
        """One call, no retry: the response (2xx), None for a 404 when `missing_ok`, or the
        project's error: TransientError (worth a retry) or Refused (permanent, with the reason)."""
        call = f"{method} {_shown(path)}"
        described = f"{self.where}: {call}"
        self.calls += 1
        try:
            if params:  # spaces as %20: OData ($filter=a eq 'b') refuses the '+' a form encoding gives them
                query = urllib.parse.urlencode(
                    {k: v for k, v in params.items() if v is not None}, doseq=True, quote_via=urllib.parse.quote
                )
                path, params = f"{path}{'&' if '?' in path else '?'}{query}", None
            response = self._request(method, path, body, headers, timeout)
            if response.status_code == 401 and self._oauth is not None:  # revoked or rotated early: once more
                response = self._request(method, path, body, headers, timeout, renew=True)
        except httpx.TimeoutException:
            limit = timeout if timeout is not None else self.timeout
            raise TransientError(f"{described}: no answer within {limit:g}s") from None
        except httpx.ConnectError as error:
            raise TransientError(f"{described}: cannot connect ({_short(error)})") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.NetworkError) as error:
            raise TransientError(f"{described}: connection lost ({_short(error)})") from None
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise ConnectorError(f"{described}: {_short(error)}") from None
        return self.verdict(response, call, missing_ok=missing_ok)

    def verdict(self, response: httpx.Response, call: str, *, missing_ok: bool = False) -> httpx.Response | None:
        """An answer judged: itself (2xx), None for a 404 when `missing_ok`, or the project's error
        (TransientError worth a retry, Refused with the server's reason). Also for the answers to
        the calls of a batch, which come inside one answer."""
        described = f"{self.where}: {call}"
        status = response.status_code
        if 200 <= status < 300:
            if self.error_path:
                self._check_answer(response, call)
            return response
        if status == 404 and missing_ok:
            return None
        reason = server_reason(response)
        if status == 429 or (status == 503 and "retry-after" in response.headers):
            wait = retry_after_seconds(response.headers.get("retry-after"))
            after = f", retry after {wait:g}s" if wait is not None else ""
            raise RateLimited(f"{described}: HTTP {status} (rate limited{after}): {reason}", wait)
        if status in _TRANSIENT_STATUS or status >= 500 and status not in (501, 505):
            raise TransientError(f"{described}: HTTP {status}: {reason}")
        raise Refused(status, reason, self.where, call, response.text[:MAX_BODY_KEPT])

    def _request(
        self,
        method: str,
        path: str,
        body: Any,
        headers: dict[str, str] | None,
        timeout: float | None,
        renew: bool = False,
    ) -> httpx.Response:
        if self._oauth is not None:
            headers = {**(headers or {}), "Authorization": self._oauth.authorization(renew=renew)}
        if self.session is None:
            return self._exchange(method, path, body, headers, timeout)
        if not self.session.opened:
            self.session.open(self._client)
        response = self._exchange(method, path, body, {**(headers or {}), **self.session.headers()}, timeout)
        if self.session.ended(response):  # the call was not done: a new session, and the call once more
            self.session.open(self._client)
            response = self._exchange(method, path, body, {**(headers or {}), **self.session.headers()}, timeout)
        return response

    def _exchange(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None, timeout: float | None
    ) -> httpx.Response:
        response = self._client.request(
            method,
            path,
            json=body,
            headers=headers,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        response.read()
        return response

    def _check_answer(self, response: httpx.Response, call: str) -> None:
        """Refuse a 2xx answer whose JSON body reports an error at `error_path` (not retried: the
        system has answered, and said no). A body that is not JSON reports nothing there."""
        assert self.error_path is not None
        try:
            body = response.json()
        except ValueError:
            return
        reason = answer_error(body, self.error_path)
        if reason is not None:
            raise RefusedInAnswer(
                response.status_code, reason, self.where, call, self.error_path, response.text[:MAX_BODY_KEPT]
            )

    def call(self, method: str, path: str, **options: Any) -> httpx.Response | None:
        """`send`, retried on transient faults (see retrying)."""
        return self.retrying(lambda: self.send(method, path, **options))

    def retrying(self, action: Any, attempts: int | None = None) -> Any:
        """Run `action`, retrying TransientError with backoff (a 429's Retry-After replaces the
        backoff when the server gives one); each retry is recorded with the run."""
        return Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(attempts or self.attempts),
            wait=self._wait,
            before_sleep=_log_attempt,
            reraise=True,
        )(action)

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                raise TransientError(f"{error} (longer than the {self.max_retry_after:g}s this connection waits)")
            return error.retry_after
        backoff = wait_exponential_jitter(initial=self.initial_wait, max=self.max_wait, jitter=self.initial_wait)
        return backoff(state)

    def json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ConnectorError(
                f"{self.where}: {what}: the answer is not JSON "
                f"({response.headers.get('content-type', 'no content type')})"
            ) from None

    # --- reading pages ---------------------------------------------------------------------------

    def pages(
        self,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        record_path: str | None = "data",
        pagination: Pagination = Pagination(),
        timeout: float | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """The records of a list, page by page; each page is fetched (and retried) on its own.

        page/offset: the next page is asked for until one comes back empty or shorter than an
        earlier one (a server capping the page size below the one asked for is still read to the
        end). cursor: until the body has no next cursor. link: until there is no next link (the
        Link header's rel="next", or a body field)."""
        # A query written into the path (/accounts?status=active) joins the params: httpx would drop it.
        path, _, written = path.partition("?")
        params = {
            **dict(urllib.parse.parse_qsl(written, keep_blank_values=True)),
            **{k: v for k, v in (params or {}).items() if v is not None},
        }
        style = pagination.style
        if style == "range":
            yield from self._ranges(path, params, record_path, pagination, timeout)
            return
        if pagination.size and style != "none":
            params[pagination.limit_param if style == "offset" else pagination.size_param] = pagination.size
        page, offset, longest = pagination.first_page, 0, 0
        previous: list[dict[str, Any]] | None = None
        url = path
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            query = dict(params)
            if style == "page":
                query[pagination.page_param] = page
            elif style == "offset":
                query[pagination.offset_param] = offset
            if style == "link" and url != path:  # the next link carries its own query
                query = {}
            response = self.call("GET", url, params=query or None, timeout=timeout)
            assert response is not None  # only a call with missing_ok answers a 404 with None
            body = self.json(response, f"GET {_shown(url)}")
            records = self._records_in(body, url, record_path, paged=style != "none")
            if records:
                yield records
            if style == "none" or not records:
                return
            if style in ("page", "offset"):
                if len(records) < longest:
                    return
                if records == previous:
                    name = pagination.page_param if style == "page" else pagination.offset_param
                    raise ConnectorError(
                        f"{self.where}: GET {_shown(path)}: the API sent the same page twice; "
                        f"does it take the parameter '{name}'?"
                    )
                longest, previous = max(longest, len(records)), records
                page, offset = page + 1, offset + len(records)
                continue
            if style == "cursor":
                following = dig(body, pagination.next_cursor_path)
                if following in (None, "", False):
                    return
                params[pagination.cursor_param] = following
                marker = f"cursor:{following}"
            else:
                following = dig(body, pagination.next_url_path) if pagination.next_url_path else None
                following = following or response.links.get("next", {}).get("url")
                if not following:
                    return
                url = str(following)
                marker = url
            if marker in seen:
                raise ConnectorError(
                    f"{self.where}: GET {_shown(path)}: the API sent the same next page twice "
                    f"({_shown(str(marker))}); stopped to avoid reading forever"
                )
            seen.add(marker)
        raise ConnectorError(f"{self.where}: GET {_shown(path)}: more than {MAX_PAGES} pages")

    def _records_in(self, body: Any, url: str, record_path: str | None, *, paged: bool) -> list[dict[str, Any]]:
        """The list of records at `record_path` of an answer, or the error saying what is there."""
        records = dig(body, record_path)
        if records is None and record_path and paged:
            records = []  # an empty last page may leave the list out
        if not isinstance(records, list):
            raise ConnectorError(
                f"{self.where}: GET {_shown(url)}: no list of records at "
                f"'{record_path or '(the whole body)'}' in the answer"
            )
        bad = next((r for r in records if not isinstance(r, dict)), None)
        if bad is not None:
            raise ConnectorError(
                f"{self.where}: GET {_shown(url)}: the records at '{record_path}' are not "
                f"objects (found {type(bad).__name__})"
            )
        return records

    def _ranges(
        self,
        path: str,
        params: dict[str, Any],
        record_path: str | None,
        pagination: Pagination,
        timeout: float | None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Range style (PostgREST, Dojo-style stores): each page asked for with a Range header
        (`items=0-99`), the next one starting after the last record the answer's Content-Range
        says it holds (`items 0-99/250`); until the total is reached, an empty page, a 416 (nothing
        there), or an answer without Content-Range (the API sent the whole list)."""
        size, first = pagination.size or 100, 0
        for _ in range(MAX_PAGES):
            asked = pagination.range_header.format(first=first, last=first + size - 1)
            try:
                response = self.call("GET", path, params=params or None, timeout=timeout, headers={"Range": asked})
            except Refused as refused:
                if refused.status == 416:  # Range Not Satisfiable: nothing from `first` on
                    return
                raise
            assert response is not None
            records = self._records_in(self.json(response, f"GET {_shown(path)}"), path, record_path, paged=True)
            if records:
                yield records
            held = content_range(response.headers.get("content-range"))
            if held is None or not records:  # a short page is no end: servers cap what they send
                return
            last, total = held
            if last < first:
                raise ConnectorError(
                    f"{self.where}: GET {_shown(path)}: asked for {asked}, the answer's Content-Range "
                    f"ends at {last}; stopped to avoid reading forever"
                )
            first = last + 1
            if total is not None and first >= total:
                return
        raise ConnectorError(f"{self.where}: GET {_shown(path)}: more than {MAX_PAGES} pages")

    def close(self) -> None:
        self._client.close()
        if self._oauth is not None:
            self._oauth.close()


def content_range(value: str | None) -> tuple[int, int | None] | None:
    """The last position and the total (None when `*`) of a Content-Range header: `items 0-99/250`,
    `0-99/*` (PostgREST); None without one, or for one holding nothing (`*/250`)."""
    import re

    found = re.fullmatch(r"\s*(?:[A-Za-z]+\s+)?(\d+)-(\d+)/(\d+|\*)\s*", value or "")
    if not found:
        return None
    return int(found.group(2)), None if found.group(3) == "*" else int(found.group(3))


def _shown(path: str) -> str:
    """A path or URL as messages show it: without user:password and without its query string
    (query strings can carry API keys)."""
    parts = urllib.parse.urlsplit(path)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def fill(template: str, values: dict[str, Any], what: str) -> str:
    """A path template with {field} placeholders filled from `values`, each URL-encoded."""
    import string

    out = []
    for literal, name, _spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        value = dig(values, name)
        if value in (None, ""):
            raise RecordError(f"field '{name}' (in the {what}) is empty")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        out.append(urllib.parse.quote(str(value), safe=""))
    return "".join(out)
