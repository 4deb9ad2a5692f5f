"""The settings of each connection type as a JSON Schema: checked when a connection is saved, so a
misspelt setting or a missing password is refused then, in one sentence naming it, rather than at
the first run; and read by whatever draws a connection's form (titles, descriptions, which fields
are secrets: `x-secret`, never shown back).

Every setting a connector reads is listed here; a setting it does not know is refused
(`additionalProperties: false`), because a misspelt one (`pasword`) would otherwise be ignored.
"""

from __future__ import annotations

from typing import Any

from app.connectors import CONNECTION_TYPES
from app.connectors.session_login import PRESETS


def _text(title: str, description: str = "", *, secret: bool = False, **more: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 1, "title": title, **more}
    if description:
        schema["description"] = description
    if secret:
        schema["x-secret"] = True
    return schema


def _seconds(title: str) -> dict[str, Any]:
    return {"type": "number", "exclusiveMinimum": 0, "title": title}


_ADDRESS = {"type": "string", "pattern": "^https?://[^/]+", "title": "Address"}

# How an HTTP call is made and retried: shared by every connection type over HTTP.
_TRANSPORT: dict[str, Any] = {
    "timeout": _seconds("Longest wait for one call (s)"),
    "retry_attempts": {"type": "integer", "minimum": 1, "maximum": 20, "title": "Attempts per call"},
    "retry_wait": {"type": "number", "minimum": 0, "title": "First wait between attempts (s)"},
    "retry_max_wait": _seconds("Longest wait between attempts (s)"),
    "max_retry_after": _seconds("Longest Retry-After honoured (s)"),
    "error_path": _text("Error in a 2xx answer", "Where a 2xx answer reports an error, e.g. error."),
    "headers": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "title": "Headers sent with every call",
    },
}

# An API's own headers may carry its key (X-API-Key, Ocp-Apim-Subscription-Key): write-only there.
_SECRET_HEADERS = {"headers": {**_TRANSPORT["headers"], "x-secret": True}}

_LOGIN: dict[str, Any] = {
    "oneOf": [
        {"enum": sorted(PRESETS), "title": "A preset"},
        {
            "type": "object",
            "title": "The login call",
            "required": ["path"],
            "additionalProperties": False,
            "properties": {
                "method": {"enum": ["POST", "GET", "PUT"]},
                "path": _text("Login path", "e.g. /api/login"),
                "body": {"type": ["object", "array"], "title": "Body template ({{ username }}, {{ password }})"},
                "token_from": {"enum": ["cookie", "body", "header"]},
                "token": _text("Where the token is", "The cookie's name, the answer's JSON path or the header."),
                "send_as": _text("Header carrying the token", "e.g. Authorization: Bearer {{ token }}"),
                "ended_status": {"type": "array", "items": {"type": "integer", "minimum": 400, "maximum": 599}},
                "ended_text": _text("Words of an ended session"),
            },
        },
    ],
    "title": "Session login",
}

_HTTP_AUTH: dict[str, Any] = {
    "auth": {
        "enum": [
            "none",
            "bearer",
            "basic",
            "api_key",
            "session",
            "oauth2_client_credentials",
            "oauth2_authorization_code",
        ],
        "title": "Authentication",
    },
    "token": _text("Bearer token", secret=True),
    "username": _text("User"),
    "password": _text("Password", secret=True),
    "database": _text("Database", "For a login that names one (Odoo)."),
    "api_key": _text("API key", secret=True),
    "api_key_header": _text("API key header", "default X-API-Key"),
    "login": _LOGIN,
    "token_url": {**_ADDRESS, "title": "OAuth2 token endpoint"},
    "authorize_url": {**_ADDRESS, "title": "OAuth2 consent page"},
    "client_id": _text("OAuth2 client id"),
    "client_secret": _text("OAuth2 client secret", secret=True),
    "scope": _text("OAuth2 scopes", "Space-separated."),
    "token_auth_method": {"enum": ["client_secret_basic", "client_secret_post"]},
    "refresh_token": _text("OAuth2 refresh token", "Kept by `flowbridge connection authorize`.", secret=True),
}

# The settings each auth kind uses (the Connections page shows only those of the chosen one).
AUTH_FIELDS: dict[str, list[str]] = {
    "none": [],
    "bearer": ["token"],
    "basic": ["username", "password"],
    "api_key": ["api_key", "api_key_header"],
    "session": ["login", "username", "password", "database"],
    "oauth2_client_credentials": ["token_url", "client_id", "client_secret", "scope", "token_auth_method"],
    "oauth2_authorization_code": [
        "token_url",
        "authorize_url",
        "client_id",
        "client_secret",
        "scope",
        "token_auth_method",
        "refresh_token",
    ],
}
assert set(AUTH_FIELDS) == set(_HTTP_AUTH["auth"]["enum"]), "every auth kind says its settings"

# What each auth kind cannot do without.
_AUTH_NEEDS = {
    "bearer": ["token"],
    "basic": ["username", "password"],
    "api_key": ["api_key"],
    "session": ["login"],
    "oauth2_client_credentials": ["token_url", "client_id", "client_secret"],
    "oauth2_authorization_code": ["token_url", "authorize_url", "client_id", "client_secret"],
}
_AUTH_RULES = [
    {"if": {"properties": {"auth": {"const": kind}}, "required": ["auth"]}, "then": {"required": needs}}
    for kind, needs in _AUTH_NEEDS.items()
]


def _schema(title: str, properties: dict[str, Any], required: list[str], **more: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "title": title,
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        **more,
    }


SETTINGS_SCHEMAS: dict[str, dict[str, Any]] = {
    "sql": _schema(
        "SQL database",
        {"url": _text("SQLAlchemy URL", "e.g. postgresql://user:pass@host/db; the password is a secret.")},
        ["url"],
    ),
    "file": _schema("Folder of files", {"path": _text("Folder")}, ["path"]),
    "http": _schema(
        "HTTP API",
        {
            "base_url": {**_ADDRESS, "title": "Base URL"},
            "url": {**_ADDRESS, "title": "Base URL"},
            **_HTTP_AUTH,
            **_TRANSPORT,
            **_SECRET_HEADERS,
        },
        [],
        anyOf=[{"required": ["base_url"]}, {"required": ["url"]}],
        allOf=_AUTH_RULES,
    ),
    "odata": _schema(
        "OData v4 service",
        {
            "base_url": {**_ADDRESS, "title": "Service root"},
            "url": {**_ADDRESS, "title": "Service root"},
            "csrf": {"type": "boolean", "title": "Fetch an SAP CSRF token before writes"},
            **_HTTP_AUTH,
            **_TRANSPORT,
            **_SECRET_HEADERS,
        },
        [],
        anyOf=[{"required": ["base_url"]}, {"required": ["url"]}],
        allOf=_AUTH_RULES,
    ),
    "jsonrpc": _schema(
        "JSON-RPC ERP (Tryton, Odoo)",
        {
            "url": {
                **_ADDRESS,
                "title": "Address",
                "description": "Tryton: the database's address, http://erp:8000/mydb/; Odoo: the server's, "
                "https://mycompany.odoo.com/",
            },
            "base_url": {**_ADDRESS, "title": "Address"},
            "username": _text("User"),
            "password": _text("Password", "Odoo: the user's password or an API key", secret=True),
            "dialect": {"enum": ["tryton", "odoo"], "title": "Dialect", "description": "default tryton"},
            "database": _text("Database", "Odoo: the database logged in to"),
            "rpc_path": _text("Path of the calls", "default: the database's address itself"),
            "language": _text("Language", "default en"),
            "context": {"type": "object", "title": "Context sent with every call"},
            **_TRANSPORT,
        },
        ["username", "password"],
        anyOf=[{"required": ["url"]}, {"required": ["base_url"]}],
        allOf=[
            {
                "if": {"required": ["dialect"], "properties": {"dialect": {"const": "odoo"}}},
                "then": {"required": ["database"]},
            }
        ],
    ),
}
assert set(SETTINGS_SCHEMAS) == set(CONNECTION_TYPES), "every connection type has its settings' schema"


def secret_settings(type_: str) -> set[str]:
    """The settings of a type that are secrets: never shown back, logged or exported."""
    properties = SETTINGS_SCHEMAS.get(type_, {}).get("properties", {})
    return {name for name, schema in properties.items() if schema.get("x-secret")}


def settings_problems(type_: str, settings: dict[str, Any]) -> list[str]:
    """What is wrong with a connection's settings, each naming the setting; empty when none is."""
    from jsonschema import Draft202012Validator

    schema = SETTINGS_SCHEMAS.get(type_)
    if schema is None:
        return [f"unknown type '{type_}'; use one of {', '.join(CONNECTION_TYPES)}"]
    problems = []
    for error in sorted(Draft202012Validator(schema).iter_errors(settings), key=lambda e: list(e.absolute_path)):
        problems.append(_said(error, schema))
    return problems


def _said(error: Any, schema: dict[str, Any]) -> str:
    """One sentence for a schema error, without the value when it may be a secret."""
    place = ".".join(str(p) for p in error.absolute_path)
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        known = ", ".join(sorted(schema["properties"]))
        return f"unknown setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} (known: {known})"
    if error.validator == "required":
        needed = error.message.split(" is ")[0]
        if "allOf" in error.schema_path and isinstance(error.instance, dict):
            because = "dialect" if "dialect" in error.instance and "auth" not in error.instance else "auth"
            return f"{needed} is needed for {because} {error.instance.get(because)}"
        return f"{place + ': ' if place else ''}{needed} is needed"
    if error.validator == "anyOf" and not place:
        return "the address is needed: " + " or ".join(s["required"][0] for s in error.validator_value)
    if error.validator == "pattern":
        return f"{place}: must start with http:// or https://"
    if error.validator == "enum":
        return f"{place}: must be one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "oneOf":
        return f"{place}: a preset ({', '.join(sorted(PRESETS))}) or the login call with its path at least"
    return f"{place}: {error.message}" if place else error.message
