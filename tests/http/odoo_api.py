"""A small server in the manner of Odoo's external API, for the Odoo dialect's tests: `POST /jsonrpc`
with JSON-RPC 2.0 `call`s — `common.login` (database, user, password or API key: the user's id,
or false) and `object.execute_kw` (database, uid, password, model, method, args, kwargs) on
res.partner, res.country and ir.model: search_read (a domain in Odoo's prefix notation, fields,
offset, limit, order), create (a list), write, fields_get. As Odoo does: errors come with HTTP 200
and `error.data` {name, message}; a many2one is read as [id, name]; an empty field as false; every
record has create_date and write_date ("YYYY-MM-DD HH:MM:SS", UTC, set at creation too).

Knobs a test turns: the key revoked, a create applied whose answer is lost (HTTP 502), and the
calls counted by method."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

DATABASE, USER, API_KEY, UID = "acme", "admin", "0f3c-odoo-api-key", 2

FIELDS: dict[str, dict[str, dict[str, Any]]] = {
    "res.partner": {
        "name": {"type": "char", "string": "Name", "required": True},
        "ref": {"type": "char", "string": "Reference"},
        "email": {"type": "char", "string": "Email"},
        "city": {"type": "char", "string": "City"},
        "is_company": {"type": "boolean", "string": "Is a Company"},
        "country_id": {"type": "many2one", "string": "Country", "relation": "res.country"},
        "create_date": {"type": "datetime", "string": "Created on", "readonly": True},
        "write_date": {"type": "datetime", "string": "Last Updated on", "readonly": True},
    },
    "res.country": {
        "name": {"type": "char", "string": "Country Name", "required": True},
        "code": {"type": "char", "string": "Country Code"},
    },
    "ir.model": {"model": {"type": "char", "string": "Model"}, "name": {"type": "char", "string": "Model Name"}},
}


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def ticking(step: dt.timedelta = dt.timedelta(minutes=1)) -> Callable[[], str]:
    """A clock for the database that moves on by `step` each time it is read, from the real now: each
    write has a stamp of its own (Odoo's are to the second), whatever the test machine's speed."""
    moments = itertools.count()
    start = dt.datetime.now(dt.UTC)
    return lambda: (start + next(moments) * step).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class OdooDatabase:
    records: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    key: str = API_KEY  # a test revokes it
    lose_create_answers: int = 0  # creates applied whose answer is then lost (HTTP 502)
    calls: Counter = field(default_factory=Counter)  # "res.partner.create", "common.login", …
    ids: Any = field(default_factory=lambda: itertools.count(1))
    clock: Callable[[], str] = now  # the stamps' clock (ticking() for a test of the cursor)

    def __post_init__(self) -> None:
        self.records = {model: {} for model in FIELDS}
        for model in FIELDS:
            self.make("ir.model", {"model": model, "name": model})
        for code, name in (("US", "United States"), ("DE", "Germany"), ("FR", "France")):
            self.make("res.country", {"code": code, "name": name})

    def make(self, model: str, values: dict[str, Any]) -> int:
        new = next(self.ids)
        stamp = self.clock()
        self.records[model][new] = {"id": new, **values, "create_date": stamp, "write_date": stamp}
        return new


class OdooError(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name, self.message = name, message


def _compare(held: Any, operator: str, value: Any) -> bool:
    if isinstance(held, list):  # a many2one is compared by its id
        held = held[0]
    if operator == "=":
        return held == value
    if operator == "!=":
        return held != value
    if operator == "in":
        return held in value
    if operator == "not in":
        return held not in value
    if operator == "ilike":
        return isinstance(held, str) and str(value).lower() in held.lower()
    if operator == "=like":
        return isinstance(held, str) and held.startswith(str(value).rstrip("%"))
    if held is None or held is False:
        return False
    return {">": held > value, ">=": held >= value, "<": held < value, "<=": held <= value}[operator]


def matches(record: dict[str, Any], domain: list[Any], model: str) -> bool:
    """Odoo's domain: prefix '&', '|', '!' over [field, operator, value] terms; the rest ANDed."""
    terms = list(domain)

    def take() -> bool:
        term = terms.pop(0)
        if term == "!":
            return not take()
        if term in ("&", "|"):
            left, right = take(), take()
            return (left and right) if term == "&" else (left or right)
        name, operator, value = term
        if name != "id" and name not in FIELDS[model]:
            raise OdooError("builtins.ValueError", f"Invalid field {model}.{name} in leaf {tuple(term)}")
        return _compare(record.get(name), operator, value)

    result = True
    while terms:
        result = take() and result
    return result


def _shown(db: OdooDatabase, model: str, record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    shown: dict[str, Any] = {"id": record["id"]}
    for name in fields or list(FIELDS[model]):
        if name == "id":
            continue
        if name not in FIELDS[model]:
            raise OdooError("builtins.ValueError", f"Invalid field '{name}' on model '{model}'")
        value = record.get(name)
        if FIELDS[model][name]["type"] == "many2one" and value:
            related = db.records[FIELDS[model][name]["relation"]][value]
            value = [value, related["name"]]
        shown[name] = False if value is None else value
    return shown


def _checked(model: str, values: dict[str, Any], creating: bool) -> dict[str, Any]:
    for name in values:
        if name not in FIELDS[model] or FIELDS[model][name].get("readonly"):
            raise OdooError("builtins.ValueError", f"Invalid field '{name}' in '{model}'")
    if creating and not values.get("name"):
        raise OdooError("odoo.exceptions.ValidationError", "The operation cannot be completed: Name is required")
    email = values.get("email")
    if email and "@" not in str(email):
        raise OdooError("odoo.exceptions.ValidationError", f"Invalid email address '{email}'")
    return values


def execute(db: OdooDatabase, model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    if model not in FIELDS:
        raise OdooError("builtins.KeyError", f"'{model}'")
    table = db.records[model]
    if method == "search_read":
        found = [r for _, r in sorted(table.items()) if matches(r, args[0] if args else [], model)]
        offset, limit = int(kwargs.get("offset") or 0), kwargs.get("limit")
        found = found[offset : offset + limit if limit else None]
        return [_shown(db, model, r, kwargs.get("fields") or []) for r in found]
    if method == "create":
        many = args[0] if isinstance(args[0], list) else [args[0]]
        for values in many:  # all or none, as in one transaction
            _checked(model, values, creating=True)
        made = [db.make(model, values) for values in many]
        return made if isinstance(args[0], list) else made[0]
    if method == "write":
        ids, values = args
        _checked(model, values, creating=False)
        for record_id in ids:
            table[record_id].update(values, write_date=db.clock())
        return True
    if method == "fields_get":
        return {"id": {"type": "integer", "string": "ID"}, **FIELDS[model]}
    raise OdooError("builtins.AttributeError", f"The method '{method}' does not exist on the model '{model}'")


def odoo_api(db: OdooDatabase) -> FastAPI:
    app = FastAPI()

    @app.post("/jsonrpc")
    async def jsonrpc(request: Request) -> JSONResponse:
        body = await request.json()
        params = body["params"]
        service, method, args = params["service"], params["method"], params["args"]

        def answer(result: Any) -> JSONResponse:
            return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": result})

        def error(failure: OdooError) -> JSONResponse:
            data = {"name": failure.name, "message": failure.message, "arguments": [failure.message], "debug": "…"}
            return JSONResponse(
                {
                    "jsonrpc": "2.0",
                    "id": body.get("id"),
                    "error": {"code": 200, "message": "Odoo Server Error", "data": data},
                }
            )

        if service == "common" and method == "login":
            db.calls["common.login"] += 1
            database, user, password = args
            return answer(UID if (database, user, password) == (DATABASE, USER, db.key) else False)
        if service != "object" or method != "execute_kw":
            return error(OdooError("builtins.Exception", f"No such service method {service}.{method}"))
        database, uid, password, model, model_method, model_args, *rest = args
        db.calls[f"{model}.{model_method}"] += 1
        if (database, uid, password) != (DATABASE, UID, db.key):
            return error(OdooError("odoo.exceptions.AccessDenied", "Access Denied"))
        try:
            result = execute(db, model, model_method, model_args, rest[0] if rest else {})
        except OdooError as failure:
            return error(failure)
        if model_method == "create" and db.lose_create_answers > 0:
            db.lose_create_answers -= 1
            return JSONResponse({"message": "Bad Gateway"}, status_code=502)
        return answer(result)

    return app
