"""write.sql: inserts, updates or upserts records into a table by key; one outcome per record."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nodes.base import NodeContext, NodeType, Outcome, Processor, Record, without_meta
from nodes.schema_parts import CONNECTION, TABLE, as_list, key_list, object_schema, record_key_fields
from nodes.sync.synced_write import SYNC_SCHEMA, SyncedWrite, as_outcome

CHILD_SCHEMA = object_schema(
    {
        "field": {"type": "string", "minLength": 1, "description": "Record field holding the child rows, e.g. lines"},
        "table": TABLE,
        "key": key_list("Child key"),
        "link": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {"type": "string", "minLength": 1},
            "description": "Child column -> parent column, e.g. order_number: order_number",
        },
    },
    ["field", "table", "key", "link"],
    title="Child rows",
)

CONFIG_SCHEMA = object_schema(
    {
        "connection": CONNECTION,
        "table": TABLE,
        "mode": {"enum": ["insert", "update", "upsert"], "default": "upsert", "title": "Mode"},
        "key": key_list("Key"),
        "columns": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "x-picker": "column"},
            "uniqueItems": True,
            "title": "Only these columns",
            "description": "Write only these fields (the others are left as the target has them).",
        },
        "children": {
            "type": "array",
            "items": CHILD_SCHEMA,
            "title": "Child rows",
            "description": "Rows written with their parent as one unit, e.g. an order's lines.",
        },
        "sync": SYNC_SCHEMA,
    },
    ["connection", "table"],
)


def check(config: dict[str, Any]) -> list[tuple[tuple, str]]:
    if "sync" in config:
        if config.get("mode", "upsert") != "upsert":
            return [(("mode",), "a two-way sync writes in upsert mode")]
        return []  # a synced write finds rows by their links; a key is optional
    if config.get("mode", "upsert") != "insert" and not as_list(config.get("key")):
        return [(("key",), f"mode {config.get('mode', 'upsert')} needs a key to find existing rows")]
    return []


class WriteSql(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        # Imported here: validating a flow should not pay for loading SQLAlchemy.
        from app.connectors.sql_write import ChildSpec, SqlTableWriter

        self.context = context
        self.reported = 0
        children = [
            ChildSpec(c["field"], c["table"], tuple(as_list(c["key"])), dict(c["link"]))
            for c in config.get("children", [])
        ]
        if "sync" in config:
            from nodes.sync.sql_target import SqlSyncTarget

            target = SqlSyncTarget(config, config["sync"], context, children)
            self.synced: SyncedWrite | None = SyncedWrite(config["sync"], context, target)
            return
        self.synced = None
        self.writer = SqlTableWriter(
            context.connection(config["connection"]),
            config["table"],
            as_list(config.get("key")),
            config.get("mode", "upsert"),
            children,
            config.get("columns"),
        )

    def process(self, records: list[Record]) -> Outcome:
        from app.connectors.retry import with_retries

        # Writes are idempotent (compare, then insert or update by key): retrying a batch is safe.
        # The connector already retries its reads; this retries the whole batch a bounded few times.
        outcome = as_outcome(records, with_retries(lambda: self._write(records), attempts=3))
        self.reported += len(outcome.changes)
        return outcome

    def close(self) -> None:
        if self.synced:
            self.synced.close()

    def finish(self) -> Iterator[Outcome]:
        if self.synced:
            yield from self.synced.finish(self.context.dry_run)

    def _write(self, records: list[Record]) -> list[tuple[str, str | None, dict | None]]:
        """(outcome, reason, change) per record; a change (key, before, after) only while reported."""
        report = self.context.dry_run or self.reported < self.context.keep_changes
        if self.synced:
            return [
                (kind, reason, change if report else None)
                for kind, reason, change in self.synced.write(records, self.context.dry_run, details=report)
            ]
        records = [without_meta(r) for r in records]
        return [
            (
                r.outcome,
                r.reason,
                {"outcome": r.outcome, "key": r.key, "before": r.before, "after": r.after} if report else None,
            )
            for r in self.writer.write(records, dry_run=self.context.dry_run)
        ]


NODE_TYPE = NodeType(
    type="write.sql",
    family="write",
    title="Write to database",
    description="Inserts, updates or upserts records into a table; unchanged records are not written.",
    config_schema=CONFIG_SCHEMA,
    build=WriteSql,
    outputs=(),
    check=check,
    write_key=record_key_fields,
)
