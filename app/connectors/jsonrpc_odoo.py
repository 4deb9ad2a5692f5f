"""Odoo's dialect of the jsonrpc connection: its external API at /jsonrpc, for read.jsonrpc and
write.jsonrpc, with the same methods as Tryton's connector (jsonrpc.py).

- **No session.** `common.login` (database, user, password or API key) gives the user's id once a
  run; every call is `object.execute_kw(database, uid, password, model, method, args, kwargs)`, so
  the password (an API key, in Odoo 14 and later) travels in each call's body, only to the
  connection's own address (the REST connector's origin check), never into a message. A key
  revoked mid-run (`AccessDenied`) stops the run: every call would be refused alike.
- **Odoo's own words.** Errors come with HTTP 200 as `error.data` ({name, message}):
  "ValidationError: Invalid email"; a model or field Odoo lacks, or a method, in the words the
  write node reads as "every record would go the same way".
- **Plain records.** A many2one comes as its id (`[7, "Azure"]` -> 7, as Tryton's does; its name
  may be asked as `partner_id.display_name`); an empty field, which Odoo answers `false`, as None,
  unless the field is a boolean (the types come from one `fields_get` per model and run).
- **Stamps.** Odoo's `write_date` ("2026-12-02 10:15:00", UTC) is set at creation too: the cursor
  asks `write_date >= position`, inclusive, as Tryton's does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.connectors import ConnectionSpec
from app.connectors.jsonrpc import CallRefused, JsonRpcConnector, LoginRefused, error_member
from app.connectors.rest import RefusedInAnswer
from app.errors import ConnectorError

NAME_SUFFIX = ".display_name"  # the one related field Odoo's search_read answers: a many2one's name


def odoo_error_text(error: Any) -> str:
    """Odoo's error member in words: {"data": {"name": "odoo.exceptions.ValidationError", "message":
    "Invalid email"}} -> "ValidationError: Invalid email"."""
    if not isinstance(error, dict):
        return str(error)
    data: dict[str, Any] = error["data"] if isinstance(error.get("data"), dict) else {}
    kind = str(data.get("name") or "").rsplit(".", 1)[-1]
    message = str(data.get("message") or error.get("message") or "").strip()
    if kind == "KeyError":  # Odoo's registry asked for a model it does not have
        return f"the system does not know {message} (no such model or field)"
    if message.startswith("Invalid field"):
        return f"the system does not know the field: {message} (no such model or field)"
    if kind == "AttributeError" and "does not exist" in message:
        return f"{message} (no such method)"
    return f"{kind}: {message}" if kind else message


def _denied(error: Any) -> bool:
    data = error.get("data") if isinstance(error, dict) else None
    return isinstance(data, dict) and str(data.get("name") or "").endswith("AccessDenied")


class OdooConnector(JsonRpcConnector):
    """One Odoo database for the length of a run."""

    default_rpc_path = "jsonrpc"
    address_example = "https://mycompany.odoo.com/"

    def __init__(self, spec: ConnectionSpec) -> None:
        super().__init__(spec)
        self.database = str(spec.settings.get("database") or "")
        if not self.database:
            raise ConnectorError(f"{self.where} needs 'database', the Odoo database to log in to")
        self._uid: int | None = None
        self._types: dict[str, dict[str, str]] = {}  # model -> field -> Odoo type, asked once a run

    # --- calls -------------------------------------------------------------------------------------

    def execute(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None) -> Any:
        """One model method's result, retried on transient faults."""
        return self.http.retrying(lambda: self.execute_once(model, method, args, kwargs))

    def execute_once(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any] | None = None) -> Any:
        if self._uid is None:
            self._login()
        password = str(self.spec.settings["password"])
        options = {**({"context": self.context} if self.context else {}), **(kwargs or {})}
        return self._service("object", "execute_kw", [self.database, self._uid, password, model, method, args, options])

    def call(self, method: str, params: list[Any]) -> Any:
        """`service.method` with its arguments, as Odoo's /jsonrpc takes them ("object.execute_kw")."""
        service, _, name = method.partition(".")
        return self.http.retrying(lambda: self._service(service, name, params))

    def _service(self, service: str, method: str, args: list[Any]) -> Any:
        what = f"{args[3]}.{args[4]}" if service == "object" and len(args) > 4 else f"{service}.{method}"
        params = {"service": service, "method": method, "args": args}
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": "call", "params": params, "id": next(self._ids)}
        try:
            response = self.http.send("POST", self.rpc_path, body=body)
        except RefusedInAnswer as refused:
            error = error_member(refused.body)
            if _denied(error):
                raise LoginRefused(
                    f"{self.where}: {what}: access denied for '{self.spec.settings['username']}' "
                    "(the password or API key was refused, or the user lost the right)"
                ) from None
            raise CallRefused.of(refused, self.where, what, odoo_error_text(error)) from None
        return self._result(response, what)

    def _login(self) -> None:
        user = str(self.spec.settings["username"])
        try:
            uid = self._service("common", "login", [self.database, user, str(self.spec.settings["password"])])
        except (CallRefused, LoginRefused) as refused:
            raise LoginRefused(f"{self.where}: the login as '{user}' was refused: {refused}") from None
        if not isinstance(uid, int) or isinstance(uid, bool):  # Odoo answers false to a wrong password
            raise LoginRefused(
                f"{self.where}: the login as '{user}' to database '{self.database}' was refused "
                "(wrong user, password or API key?)"
            )
        self._uid = uid
        self.logins += 1

    # --- what the nodes and the pickers ask ----------------------------------------------------

    def changed_since(self, domain: list[Any], position: str) -> list[Any]:
        since = dt.datetime.fromisoformat(position).strftime("%Y-%m-%d %H:%M:%S")
        return [*domain, ["write_date", ">=", since]]  # Odoo ANDs a domain's terms

    def search_read(
        self, model: str, domain: list[Any], fields: list[str], *, offset: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        for name in fields:
            if "." in name and not name.endswith(NAME_SUFFIX):
                raise ConnectorError(
                    f"{self.where}: field '{name}': Odoo reads a related record only as its name "
                    f"('{name.split('.')[0]}{NAME_SUFFIX}'); read the related model for its other fields"
                )
        asked = list(dict.fromkeys(name.removesuffix(NAME_SUFFIX) for name in fields))
        options: dict[str, Any] = {"fields": asked, "offset": offset, "order": "id asc"}
        if limit is not None:
            options["limit"] = limit
        found = self.execute(model, "search_read", [domain], options)
        if not isinstance(found, list):
            raise ConnectorError(f"{self.where}: {model}.search_read: the answer is not a list of records")
        types = self._field_types(model)
        return [self._plain(record, fields, types) for record in found]

    def _plain(self, record: dict[str, Any], fields: list[str], types: dict[str, str]) -> dict[str, Any]:
        plain: dict[str, Any] = {}
        for name, value in record.items():
            kind = types.get(name)
            if kind == "many2one" and isinstance(value, list):
                value = value[0] if value else None
            elif value is False and kind not in ("boolean", None):
                value = None
            plain[name] = value
        for name in fields:
            if name.endswith(NAME_SUFFIX):
                pair = record.get(name.removesuffix(NAME_SUFFIX))
                plain[name] = pair[1] if isinstance(pair, list) and len(pair) > 1 else None
        return plain

    def _field_types(self, model: str) -> dict[str, str]:
        if model not in self._types:
            self._types[model] = {name: str(f.get("type")) for name, f in self.fields(model).items()}
        return self._types[model]

    def create(self, model: str, values: list[dict[str, Any]]) -> list[int]:
        """Create records, one call for the list (Odoo makes them in one transaction): their ids."""
        ids = self.execute_once(model, "create", [values])
        ids = [ids] if isinstance(ids, int) else ids
        if not isinstance(ids, list) or len(ids) != len(values):
            raise ConnectorError(f"{self.where}: {model}.create: the answer is not one id per record")
        return ids

    def write(self, model: str, ids: list[int], values: dict[str, Any]) -> None:
        self.execute(model, "write", [ids, values])

    def models(self) -> list[str]:
        rows = self.execute("ir.model", "search_read", [[]], {"fields": ["model"]})  # `model`: res.partner
        return sorted(str(r["model"]) for r in rows if r.get("model"))

    def fields(self, model: str) -> dict[str, dict[str, Any]]:
        found = self.execute(model, "fields_get", [], {"attributes": ["string", "type", "required", "relation"]})
        if not isinstance(found, dict):
            raise ConnectorError(f"{self.where}: {model}.fields_get: the answer is not a list of fields")
        return found

    def close(self) -> None:
        self.http.close()  # nothing to log out of: each call carries its credentials
