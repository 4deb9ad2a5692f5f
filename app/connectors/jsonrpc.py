"""JSON-RPC connector: an ERP that is called by model and method (Tryton here; Odoo's dialect in
jsonrpc_odoo.py), for read.jsonrpc and write.jsonrpc.

The calls travel through the REST connector (rest.py): one keep-alive client, timeouts, the retry
policy, the origin check, and a 2xx answer whose `error` member is set made a refusal — such
systems answer a refused call with HTTP 200. This module adds what is particular to them:

- **A session.** The first call logs in (`common.db.login` with the connection's user and
  password) and sends the session it gets as `Authorization: Session base64(user:id:session)`;
  when the system says the session has ended (401 or 403), it logs in again, once, and sends the
  call again. The password goes only to the connection's own address, and never into a message.
- **The system's own words.** Tryton's error member, `["UserError", ["message", "description"]]`,
  becomes "UserError: message (description)", with the connection and the method named.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
from typing import Any

from app.connectors import ConnectionSpec
from app.connectors.rest import Refused, RefusedInAnswer, RestConnector
from app.errors import ConnectorError

DIALECTS = ("tryton", "odoo")
DEFAULT_RPC_PATH = "rpc/"
ENDED_SESSION = {401, 403}  # what Tryton answers a call whose session it no longer knows
# The transport's settings a jsonrpc connection may give (the rest are its own).
TRANSPORT_SETTINGS = ("timeout", "retry_attempts", "retry_wait", "retry_max_wait", "max_retry_after", "headers")


class CallRefused(Refused):
    """The system answered the call with an error: its own words, for this record or this call."""

    @classmethod
    def of(cls, refused: Refused, where: str, method: str, said: str) -> CallRefused:
        return cls(refused.status, refused.reason, where, method, refused.body, message=f"{where}: {method}: {said}")


class LoginRefused(ConnectorError):
    """The system would not open a session: every call of the run would fail, so it stops."""

    every_record = True


def plain(value: Any) -> Any:
    """Tryton's typed JSON values as plain ones for the records of a flow: a datetime as ISO text
    (2026-12-02T10:15:00.000123), a date as 2026-12-02, a Decimal as its digits, a timedelta as
    seconds, bytes as base64 text."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("__class__")
    if kind == "datetime":
        return (
            f"{value['year']:04}-{value['month']:02}-{value['day']:02}T{value.get('hour', 0):02}:"
            f"{value.get('minute', 0):02}:{value.get('second', 0):02}.{value.get('microsecond', 0):06}"
        )
    if kind == "date":
        return f"{value['year']:04}-{value['month']:02}-{value['day']:02}"
    if kind == "Decimal":
        return str(value.get("decimal"))
    if kind == "timedelta":
        return value.get("seconds")
    if kind == "bytes":
        return value.get("base64")
    return {k: plain(v) for k, v in value.items()}


def tryton_datetime(text: str) -> dict[str, Any]:
    """ISO text (as `plain` gives it) as Tryton's datetime value, for a domain."""
    import datetime as dt

    moment = dt.datetime.fromisoformat(text)
    return {
        "__class__": "datetime",
        "year": moment.year,
        "month": moment.month,
        "day": moment.day,
        "hour": moment.hour,
        "minute": moment.minute,
        "second": moment.second,
        "microsecond": moment.microsecond,
    }


def error_text(error: Any) -> str:
    """Tryton's error member in words: ["UserError", ["message", "description"]] ->
    "UserError: message (description)"; anything else as it came."""
    if isinstance(error, list) and error and isinstance(error[0], str):
        kind, detail = error[0], error[1] if len(error) > 1 else None
        if len(kind) > 2 and kind[0] == kind[-1] == "'":  # a KeyError's text: a name it does not have
            return f"the system does not know {kind} (no such model or field)"
        if isinstance(detail, list):
            words = [str(d).strip() for d in detail[:2] if isinstance(d, str) and d.strip()]
            detail = f"{words[0]} ({words[1]})" if len(words) == 2 else (words[0] if words else "")
        return f"{kind}: {detail}" if detail else kind
    if isinstance(error, dict) and isinstance(error.get("message"), str):  # JSON-RPC 2.0
        return error["message"]
    return str(error)


def open_jsonrpc(spec: ConnectionSpec) -> JsonRpcConnector:
    """The connector of a jsonrpc connection's dialect (Tryton unless it says `dialect: odoo`)."""
    if spec.settings.get("dialect") == "odoo":
        from app.connectors.jsonrpc_odoo import OdooConnector

        return OdooConnector(spec)
    return JsonRpcConnector(spec)


class JsonRpcConnector:
    """One JSON-RPC system for the length of a run (Tryton's dialect; OdooConnector has Odoo's)."""

    default_rpc_path = DEFAULT_RPC_PATH
    address_example = "http://erp:8000/mydb/"

    def __init__(self, spec: ConnectionSpec) -> None:
        self.spec = spec
        settings = spec.settings
        self.dialect = settings.get("dialect") or "tryton"
        if self.dialect not in DIALECTS:
            raise ConnectorError(f"{self.where}: unknown dialect '{self.dialect}'; use one of {', '.join(DIALECTS)}")
        url = settings.get("url") or settings.get("base_url")
        if not url:
            raise ConnectorError(f"{self.where} has no url (the address of its calls, e.g. {self.address_example})")
        for needed in ("username", "password"):
            if not settings.get(needed):
                raise ConnectorError(f"{self.where} needs '{needed}' to log in")
        self.rpc_path = str(settings.get("rpc_path") or self.default_rpc_path)
        self.context: dict[str, Any] = dict(settings.get("context") or {})
        transport = {k: settings[k] for k in TRANSPORT_SETTINGS if k in settings}
        self.http = RestConnector(
            ConnectionSpec(
                spec.name,
                spec.env,
                "http",
                {**transport, "base_url": str(url).rstrip("/") + "/", "auth": "none", "error_path": "error"},
            )
        )
        self.attempts = self.http.attempts
        self._ids = itertools.count(1)
        self._session: str | None = None
        self.logins = 0  # sessions opened this run (a test counts renewals by it)

    @property
    def where(self) -> str:
        return f"connection '{self.spec.name}' ({self.spec.env})"

    # --- calls -------------------------------------------------------------------------------------

    def call(self, method: str, params: list[Any]) -> Any:
        """The result of one call, retried on transient faults (the REST connector's policy)."""
        return self.http.retrying(lambda: self.call_once(method, params))

    def call_once(self, method: str, params: list[Any]) -> Any:
        """One call, no retry: its result; CallRefused with the system's words when it says no."""
        if self._session is None:
            self._login()
        try:
            return self._post(method, params, session=True)
        except CallRefused:
            raise
        except Refused as refused:
            if refused.status not in ENDED_SESSION:
                raise
        self._login()  # the session ended (expired, the server restarted): a new one, once
        try:
            return self._post(method, params, session=True)
        except CallRefused:
            raise
        except Refused as refused:  # refused with a fresh session too: the call itself is not allowed
            said = f"HTTP {refused.status}: the system has no such method, or the user may not call it"
            raise CallRefused.of(refused, self.where, method, said) from None

    def _post(self, method: str, params: list[Any], *, session: bool) -> Any:
        headers = {"Authorization": f"Session {self._session}"} if session and self._session else None
        body = {"id": next(self._ids), "method": method, "params": params}
        try:
            response = self.http.send("POST", self.rpc_path, body=body, headers=headers)
        except RefusedInAnswer as refused:
            raise CallRefused.of(refused, self.where, method, error_text(error_member(refused.body))) from None
        return self._result(response, method)

    def _result(self, response: Any, what: str) -> Any:
        """The `result` member of a call's answer (a JSON-RPC answer without one is no answer)."""
        assert response is not None
        answer = self.http.json(response, what)
        if not isinstance(answer, dict) or "result" not in answer:
            raise ConnectorError(f"{self.where}: {what}: the answer has no result")
        return answer["result"]

    def _login(self) -> None:
        settings = self.spec.settings
        user = str(settings["username"])
        try:
            result = self._post(
                "common.db.login",
                [user, {"password": str(settings["password"])}, str(settings.get("language") or "en")],
                session=False,
            )
        except CallRefused as refused:
            raise LoginRefused(f"{self.where}: the login as '{user}' was refused: {refused.reason}") from None
        except Refused as refused:
            raise LoginRefused(
                f"{self.where}: the login as '{user}' was refused (HTTP {refused.status}: wrong user or password?)"
            ) from None
        # Tryton 8 answers [user id, session, what the client should ask next (null)].
        if not (isinstance(result, list) and len(result) >= 2 and result[1]):
            raise LoginRefused(f"{self.where}: the login as '{user}' was refused (wrong user or password?)")
        user_id, session = result[0], result[1]
        self._session = base64.b64encode(f"{user}:{user_id}:{session}".encode()).decode()
        self.logins += 1

    # --- what the nodes and the pickers ask ----------------------------------------------------

    def changed_since(self, domain: list[Any], position: str) -> list[Any]:
        """`domain` narrowed to the records created or changed at or after `position` (ISO text, as
        the read gave the stamps); ValueError when the position is no moment."""
        since = tryton_datetime(position)
        changed = ["OR", ["write_date", ">=", since], ["create_date", ">=", since]]
        return [domain, changed] if domain else changed

    def search_read(
        self, model: str, domain: list[Any], fields: list[str], *, offset: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        found = self.call(f"model.{model}.search_read", [domain, offset, limit, [["id", "ASC"]], fields, self.context])
        if not isinstance(found, list):
            raise ConnectorError(f"{self.where}: model.{model}.search_read: the answer is not a list of records")
        return [plain(record) for record in found]

    def create(self, model: str, values: list[dict[str, Any]]) -> list[int]:
        """Create records, one call for the list: their ids, in order."""
        ids = self.call_once(f"model.{model}.create", [values, self.context])
        if not isinstance(ids, list) or len(ids) != len(values):
            raise ConnectorError(f"{self.where}: model.{model}.create: the answer is not one id per record")
        return ids

    def write(self, model: str, ids: list[int], values: dict[str, Any]) -> None:
        self.call(f"model.{model}.write", [ids, values, self.context])

    def models(self) -> list[str]:
        """Every model the system has, by name (the editor's picker)."""
        rows = self.search_read("ir.model", [], ["name"])  # Tryton 8: `name` is the model's name (party.party)
        return sorted(str(r["name"]) for r in rows if r.get("name"))

    def fields(self, model: str) -> dict[str, dict[str, Any]]:
        """A model's fields: name -> Tryton's description (type, string, required, relation...)."""
        found = self.call(f"model.{model}.fields_get", [[], self.context])
        if not isinstance(found, dict):
            raise ConnectorError(f"{self.where}: model.{model}.fields_get: the answer is not a list of fields")
        return found

    # The editor's pickers ask every system for tables and columns (services/systems.py).
    def tables(self) -> list[str]:
        return self.models()

    def columns(self, model: str) -> list[str]:
        return sorted(self.fields(model))

    def required_columns(self, model: str) -> list[str]:
        """Fields the ERP says a new record must have (fields_get's `required`)."""
        return sorted(name for name, about in self.fields(model).items() if about.get("required"))

    def close(self) -> None:
        if self._session is not None:
            # A logout that fails changes nothing: the session ends with the server's timeout anyway.
            with contextlib.suppress(ConnectorError):
                self._post("common.db.logout", [], session=True)
        self.http.close()


def error_member(body: str) -> Any:
    import json

    try:
        return json.loads(body).get("error")
    except (ValueError, AttributeError):
        return body
