"""Schema fragments shared by node configs; `x-` keywords tell the editor which picker to show."""

from __future__ import annotations

from typing import Any

CONNECTION: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "title": "Connection",
    "x-picker": "connection",
    "description": "Logical connection name, e.g. crm or erp; the run's environment picks the real system.",
}
TABLE: dict[str, Any] = {"type": "string", "minLength": 1, "title": "Table", "x-picker": "table"}
COLUMNS: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "x-picker": "column"},
    "minItems": 1,
    "uniqueItems": True,
}
BATCH_SIZE: dict[str, Any] = {
    "type": "integer",
    "minimum": 1,
    "maximum": 50_000,
    "title": "Batch size",
    "description": "Records per batch (default: the run's batch size).",
}
EXPRESSION: dict[str, Any] = {"type": "string", "minLength": 1, "x-expression": "expression"}
TEMPLATE: dict[str, Any] = {"type": "string", "x-expression": "template"}
FILE_FORMAT: dict[str, Any] = {"enum": ["csv", "jsonl"], "title": "Format"}


def absolute_address(path: Any) -> bool:
    """Whether a configured path names a host of its own (http://x/..., //x/..., \\x): a
    connection's requests go to its own base URL only, so such a path is refused."""
    import re

    text = str(path).strip()
    return bool(re.match(r"^([A-Za-z][A-Za-z0-9+.-]*:|[/\\]{2})", text))


def relative_path_problems(config: dict[str, Any], *places: tuple[str, ...]) -> list[tuple[tuple, str]]:
    """A problem for each path at `places` (keys into the config) that is not relative to the
    connection's base URL."""
    problems: list[tuple[tuple, str]] = []
    for place in places:
        value: Any = config
        for part in place:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str) and absolute_address(value):
            problems.append(
                (
                    place,
                    f"'{value[:80]}' names a host of its own; a path is relative to the "
                    "connection's base URL (e.g. /accounts), so its credentials go nowhere else",
                )
            )
    return problems


def key_list(title: str = "Key") -> dict[str, Any]:
    """One column name or a list of them; nodes normalise it with `as_list`."""
    return {"title": title, "anyOf": [{"type": "string", "minLength": 1, "x-picker": "column"}, COLUMNS]}


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def object_schema(properties: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required or [],
        "additionalProperties": False,
        **extra,
    }


def record_key_fields(config: dict[str, Any]) -> list[str]:
    """A write's fields that identify a target record: its key, else a two-way sync's source id."""
    return as_list(config.get("key")) or as_list((config.get("sync") or {}).get("source_id"))


def create_only_schema(example: str) -> dict[str, Any]:
    """Fields a write sends with a new record but never to update one (`example` says which)."""
    return {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "uniqueItems": True,
        "minItems": 1,
        "title": "Sent only when creating",
        "description": f"Fields sent with a new record but never to update one, e.g. {example}, which would add "
        "a copy each time.",
    }


def link_schema(system: str) -> dict[str, Any]:
    """A write's `link`: each record's id in the source and in the `system` written, for xref()."""
    return object_schema(
        {
            "entity": {"type": "string", "minLength": 1, "description": "What the records are, e.g. account."},
            "source": {
                "type": "string",
                "minLength": 1,
                "description": "The system the records come from, e.g. crm_api.",
            },
            "source_id": {"type": "string", "minLength": 1, "description": "Record field holding the source's id."},
            "target": {
                "type": "string",
                "minLength": 1,
                "description": f"The name xref() uses for this {system} (default: the connection's name).",
            },
        },
        ["entity", "source", "source_id"],
        title="Keep links",
        description=f"Remember each record's id in the source and in this {system} (needs its id), for "
        "xref(source, entity, id, target) in later flows.",
    )


def child_link_schema(system: str) -> dict[str, Any]:
    """A child's `link` in a write with children: each child's id in the source and in the `system`."""
    return object_schema(
        {
            "entity": {"type": "string", "minLength": 1},
            "source": {"type": "string", "minLength": 1},
            "source_id": {"type": "string", "minLength": 1, "description": "Child field with the source's id."},
            "target": {"type": "string", "minLength": 1},
        },
        ["entity", "source", "source_id"],
        description=f"Keep each child's link too (source id -> the {system}'s id).",
    )
