"""read.sql: records from a table or a query, incrementally by a cursor field when one is set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nodes.base import NodeContext, NodeType, Processor, Record, SourceBatch
from nodes.schema_parts import BATCH_SIZE, CONNECTION, TABLE, as_list, key_list, object_schema

CONFIG_SCHEMA: dict[str, Any] = {
    **object_schema(
        {
            "connection": CONNECTION,
            "table": TABLE,
            "query": {
                "type": "string",
                "minLength": 1,
                "title": "SQL query",
                "x-widget": "textarea",
                "description": "A SELECT; use it instead of a table for joins.",
            },
            "where": {
                "type": "string",
                "minLength": 1,
                "title": "Condition (SQL)",
                "description": "Added to the read as a WHERE clause, e.g. is_active = 1",
            },
            "cursor": {
                "type": "string",
                "minLength": 1,
                "title": "Cursor field",
                "x-picker": "column",
                "description": "An always-increasing field such as updated_at: later runs read only what changed.",
            },
            "key": key_list("Key (orders ties)"),
            "batch_size": BATCH_SIZE,
        },
        ["connection"],
    ),
    "oneOf": [{"required": ["table"]}, {"required": ["query"]}],
}


def check(config: dict[str, Any]) -> list[tuple[tuple, str]]:
    """A read runs one SELECT: its query and condition may not hold a second statement."""
    from app.connectors.statements import second_statement_at

    problems: list[tuple[tuple, str]] = []
    for name in ("query", "where"):
        text = config.get(name)
        at = second_statement_at(text) if isinstance(text, str) else None
        if at is not None:
            problems.append(
                (
                    (name,),
                    f"holds a ';' at character {at + 1}, which would start a second statement; "
                    "a read runs one SELECT and never writes (a ';' inside a text can be "
                    "written chr(59), or char(59) on SQLite and MySQL)",
                )
            )
    return problems


class ReadSql(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        self.config = config
        self.context = context
        self.connector = context.connection(config["connection"])

    def read(self, inputs: list[Record]) -> Iterator[SourceBatch]:
        if not inputs:
            return
        pages = self.connector.read(
            table=self.config.get("table"),
            query=self.config.get("query"),
            cursor=self.config.get("cursor"),
            key=as_list(self.config.get("key")) or None,
            where=self.config.get("where"),
            position=None if self.context.full_resync else self.context.cursor_position(),
            batch_size=self.config.get("batch_size") or self.context.batch_size,
        )
        for records, position in pages:
            yield SourceBatch(records, position)


NODE_TYPE = NodeType(
    type="read.sql",
    family="read",
    title="Read from database",
    description="Reads rows of a table or a query; with a cursor, only what changed since the last run.",
    config_schema=CONFIG_SCHEMA,
    build=ReadSql,
    check=check,
)
