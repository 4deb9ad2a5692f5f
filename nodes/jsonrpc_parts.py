"""What read.jsonrpc and write.jsonrpc share: their connection and model fields, and a domain as JSON."""

from __future__ import annotations

from typing import Any

from nodes.schema_parts import CONNECTION

JSONRPC_CONNECTION: dict[str, Any] = {**CONNECTION, "description": "A jsonrpc connection (Tryton, Odoo), e.g. tryton."}


def model_schema(done: str) -> dict[str, Any]:
    """The `model` field of a node that has its records `done` (read, written)."""
    return {
        "type": "string",
        "minLength": 1,
        "pattern": r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$",
        "title": "Model",
        "x-picker": "table",
        "description": f"The model {done}, e.g. party.party.",
    }


def as_domain(value: Any) -> Any:
    """A domain an expression gave, as JSON: its tuples as lists."""
    if isinstance(value, (list, tuple)):
        return [as_domain(v) for v in value]
    return value


def flattened(record: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """A record read with a related record's fields ("party.code"), which Tryton answers nested
    under the relation and a dot ({"party.": {"code": …}}), with each such field under the name it
    was asked by: record["party.code"]. A relation left empty gives None; a field the connector gave
    flat already (Odoo's "partner_id.display_name") stays as it came."""
    flat = {key: value for key, value in record.items() if not key.endswith(".")}
    for name in fields:
        if "." not in name or name in flat:
            continue
        *relations, last = name.split(".")
        found: Any = record
        for relation in relations:
            found = found.get(f"{relation}.") if isinstance(found, dict) else None
        flat[name] = found.get(last) if isinstance(found, dict) else None
    return flat
