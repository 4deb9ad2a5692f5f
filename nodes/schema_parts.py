"""Schema fragments shared by node configs; `x-` keywords tell the editor which picker to show."""

from __future__ import annotations

from typing import Any

CONNECTION: dict[str, Any] = {
    "type": "string", "minLength": 1, "title": "Connection", "x-picker": "connection",
    "description": "Logical connection name, e.g. crm or erp; the run's environment picks the real system.",
}
TABLE: dict[str, Any] = {"type": "string", "minLength": 1, "title": "Table", "x-picker": "table"}
COLUMNS: dict[str, Any] = {"type": "array", "items": {"type": "string", "minLength": 1, "x-picker": "column"},
                           "minItems": 1, "uniqueItems": True}
BATCH_SIZE: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 50_000, "title": "Batch size",
                              "description": "Records per batch (default: the run's batch size)."}
EXPRESSION: dict[str, Any] = {"type": "string", "minLength": 1, "x-expression": "expression"}
TEMPLATE: dict[str, Any] = {"type": "string", "x-expression": "template"}
FILE_FORMAT: dict[str, Any] = {"enum": ["csv", "jsonl"], "title": "Format"}


def key_list(title: str = "Key") -> dict[str, Any]:
    """One column name or a list of them; nodes normalise it with `as_list`."""
    return {"title": title, "anyOf": [{"type": "string", "minLength": 1, "x-picker": "column"}, COLUMNS]}


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def object_schema(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or [],
            "additionalProperties": False, **extra}
