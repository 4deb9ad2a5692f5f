"""Session login for an HTTP API (`auth: session`): a login call, made with the connection's
secrets, whose answer opens a session that the run's calls then carry — ERPNext's
`POST /api/method/login` and its `sid` cookie, or an API answering `{"data": {"token": …}}` to be
sent as `Authorization: Bearer …`.

The login is made before the first call and again, once, when the system says the session has
ended (a status in `ended_status`, 401 and 403 by default, or an error in the answer naming
`ended_text`, for APIs that answer it with 200): such a call was not done, so it is sent again.
A login the system refuses (a wrong password) stops the run with one sentence: every call would
fail the same way. The secrets go into the login's body only, to the connection's own origin (the
REST connector's origin check sees the login too), never into a message.

Settings, under `login`:
    method, path                  the login call (POST by default)
    body                          JSON template; "{{ name }}" is the connection's setting `name`
                                  (username, password, database…); a string that is only a
                                  placeholder takes the setting's value with its type
    token_from                    cookie (default), body or header: where the answer puts the session
    token                         the cookie's name, the body's JSON path, or the header's name
    send_as                       for body and header: the header line carrying it, default
                                  "Authorization: Bearer {{ token }}"
    ended_status, ended_text      how the system says a session has ended
or `login: erpnext`, a preset written out in PRESETS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from app.errors import ConnectorError, TransientError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
TOKEN_FROM = ("cookie", "body", "header")
DEFAULT_SEND_AS = "Authorization: Bearer {{ token }}"

PRESETS: dict[str, dict[str, Any]] = {
    # Frappe: the answer sets the `sid` cookie; a call without a live session is a Guest's, refused 403.
    "erpnext": {
        "method": "POST",
        "path": "/api/method/login",
        "body": {"usr": "{{ username }}", "pwd": "{{ password }}"},
        "token_from": "cookie",
        "token": "sid",
        "ended_status": [401, 403],
    },
}


class NoSession(ConnectorError):
    """No session can be opened: every call of the run would fail, so it stops."""

    every_record = True


class LoginRefused(NoSession):
    """The system would not open a session (a wrong password, an answer without the session)."""


def fill(template: Any, values: dict[str, Any], where: str) -> Any:
    """The template with each "{{ name }}" replaced by values[name]; a string that is only a
    placeholder becomes the value itself (a number stays a number). A name without a value is an
    error naming it, so a misspelt setting is not sent as an empty password."""

    def value_of(name: str) -> Any:
        if values.get(name) in (None, ""):
            raise NoSession(f"{where}: the login's body uses '{{{{ {name} }}}}' but the connection has no '{name}'")
        return values[name]

    if isinstance(template, dict):
        return {key: fill(item, values, where) for key, item in template.items()}
    if isinstance(template, list):
        return [fill(item, values, where) for item in template]
    if isinstance(template, str):
        whole = PLACEHOLDER.fullmatch(template.strip())
        if whole:
            return value_of(whole.group(1))
        return PLACEHOLDER.sub(lambda found: str(value_of(found.group(1))), template)
    return template


@dataclass(frozen=True)
class LoginCall:
    """How one API opens a session (see the module docstring for each field)."""

    method: str
    path: str
    body: Any
    token_from: str
    token: str | None
    send_as: str
    ended_status: frozenset[int]
    ended_text: str | None

    @classmethod
    def from_settings(cls, settings: dict[str, Any], where: str) -> LoginCall:
        login = settings.get("login")
        if isinstance(login, str):
            if login not in PRESETS:
                raise ConnectorError(
                    f"{where}: unknown login '{login}'; use one of {', '.join(PRESETS)} or describe the call"
                )
            login = PRESETS[login]
        if not isinstance(login, dict) or not login.get("path"):
            raise ConnectorError(f"{where}: auth 'session' needs a login: its path at least, e.g. /api/login")
        token_from = login.get("token_from") or "cookie"
        if token_from not in TOKEN_FROM:
            raise ConnectorError(
                f"{where}: the login's token_from '{token_from}' is not one of {', '.join(TOKEN_FROM)}"
            )
        if token_from != "cookie" and not login.get("token"):
            raise ConnectorError(
                f"{where}: a login whose token comes from the {token_from} needs its token: where it is"
            )
        send_as = str(login.get("send_as") or DEFAULT_SEND_AS)
        if token_from != "cookie" and ":" not in send_as:
            raise ConnectorError(f"{where}: the login's send_as '{send_as}' is not a header line (Name: value)")
        return cls(
            method=str(login.get("method") or "POST").upper(),
            path=str(login["path"]),
            body=login.get("body"),
            token_from=token_from,
            token=login.get("token"),
            send_as=send_as,
            ended_status=frozenset(int(s) for s in login.get("ended_status") or (401, 403)),
            ended_text=login.get("ended_text") or None,
        )


class SessionLogin:
    """The session of one connector: opened on demand, reopened when it ends."""

    def __init__(self, settings: dict[str, Any], where: str, error_path: str | None) -> None:
        self.call = LoginCall.from_settings(settings, where)
        self.settings, self.where, self.error_path = settings, where, error_path
        self._header: tuple[str, str] | None = None
        self.opened = False
        self.logins = 0  # sessions opened this run (a test counts renewals by it)

    @property
    def described(self) -> str:
        return f"{self.where}: the login ({self.call.method} {self.call.path})"

    def headers(self) -> dict[str, str]:
        """What each call carries for the session (a cookie session travels in the client's jar)."""
        return dict([self._header]) if self._header else {}

    def open(self, client: httpx.Client) -> None:
        """Log in: the session's cookie kept by the client, or its token kept for the header."""
        from app.connectors.rest import server_reason

        client.cookies.clear()  # the ended session's cookie must not go with the new login
        self._header, self.opened = None, False
        body = fill(self.call.body, self.settings, self.where) if self.call.body is not None else None
        try:
            response = client.request(self.call.method, self.call.path, json=body)
            response.read()
        except httpx.TimeoutException:
            raise TransientError(f"{self.described}: no answer in time") from None
        except httpx.TransportError as error:
            raise TransientError(f"{self.described}: cannot reach the system ({type(error).__name__})") from None
        status = response.status_code
        if status in (408, 429) or status >= 500:
            raise TransientError(f"{self.described}: HTTP {status}: {server_reason(response)}")
        said = self._answer_error(response)
        if not 200 <= status < 300 or said is not None:
            reason = said or server_reason(response)
            raise LoginRefused(f"{self.described} was refused (HTTP {status}): {reason}; is the password right?")
        self._take_token(client, response)
        self.opened = True
        self.logins += 1

    def _take_token(self, client: httpx.Client, response: httpx.Response) -> None:
        from app.connectors.rest import dig

        kind, name = self.call.token_from, self.call.token
        if kind == "cookie":
            if name and name not in client.cookies:
                raise LoginRefused(f"{self.described}: the answer set no '{name}' cookie, so there is no session")
            return
        assert name is not None
        if kind == "header":
            value = response.headers.get(name)
        else:
            try:
                value = dig(response.json(), name)
            except ValueError:
                value = None
        if value in (None, "") or isinstance(value, (dict, list)):
            raise LoginRefused(f"{self.described}: the answer has no token at {kind} '{name}', so there is no session")
        header, line = self.call.send_as.split(":", 1)
        self._header = (header.strip(), str(fill(line.strip(), {"token": value}, self.where)))

    def ended(self, response: httpx.Response) -> bool:
        """Whether the answer says the session has ended, so the call was not done."""
        if response.status_code in self.call.ended_status:
            return True
        if not (self.call.ended_text and 200 <= response.status_code < 300):
            return False
        said = self._answer_error(response)
        return said is not None and self.call.ended_text.lower() in said.lower()

    def _answer_error(self, response: httpx.Response) -> str | None:
        """The error a 2xx answer reports at the connection's error_path, if it has one."""
        if not self.error_path:
            return None
        from app.connectors.rest import answer_error

        try:
            return answer_error(response.json(), self.error_path)
        except ValueError:
            return None
