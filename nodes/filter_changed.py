"""filter.changed: lets through only records that changed since the last sync of their link.

A two-way sync writes into both systems, and each write makes the written row look changed to the
flow reading that system. The sync's link remembers each side's field values at the last sync: a
record whose every field still equals them has nothing new (it is the sync's own echo, or was seen
already) and leaves by `unchanged`; a record with any field changed, or never synced, leaves by
`changed`, carrying its row in `_meta` so the write can tell which side changed which field.
"""

from __future__ import annotations

from typing import Any

from nodes.base import META, NodeContext, NodeType, Outcome, Processor, Record, id_text
from nodes.schema_parts import object_schema

CONFIG_SCHEMA = object_schema(
    {
        "entity": {
            "type": "string",
            "minLength": 1,
            "title": "Entity",
            "description": "As in the write's sync, e.g. account",
        },
        "system": {
            "type": "string",
            "minLength": 1,
            "title": "This system",
            "description": "Where these records come from (erp)",
        },
        "other": {
            "type": "string",
            "minLength": 1,
            "title": "Other system",
            "description": "The system they sync with (crm)",
        },
        "id": {"type": "string", "minLength": 1, "title": "Id field", "description": "Field holding this system's id"},
        "ignore": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "uniqueItems": True,
            "title": "Ignore",
            "description": "Fields the system changes by itself, e.g. updated_at",
        },
    },
    ["entity", "system", "other", "id"],
)


class FilterChanged(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        self.config = config
        self.context = context
        self.ignore = set(config.get("ignore", []))

    def process(self, records: list[Record]) -> Outcome:
        from app.connectors.sql_write import same_value

        outcome = Outcome(ports={"changed": [], "unchanged": []})
        id_field = self.config["id"]
        ids = [id_text(r.get(id_field)) for r in records]
        links = self.context.sync.links(
            self.config["entity"], self.config["system"], ids, self.config["other"], snapshots="own"
        )
        system = self.config["system"]
        for record, record_id in zip(records, ids):
            link = links.get(record_id)
            known = link.own_snapshot if link else None
            fields = [k for k in record if k not in self.ignore and k != META]
            # A full resync re-checks every record against the target: nothing is skipped then.
            if (
                not self.context.full_resync
                and known is not None
                and fields
                and all(k in known and (record[k] == known[k] or same_value(record[k], known[k])) for k in fields)
            ):
                outcome.emit("unchanged", record)
                continue
            row = {k: record[k] for k in fields}
            outcome.emit(
                "changed",
                {**record, META: {**(record.get(META) or {}), "sync": {"system": system, "id": record_id, "row": row}}},
            )
        return outcome


NODE_TYPE = NodeType(
    type="filter.changed",
    family="filter",
    title="Changed since last sync",
    description="Drops records a two-way sync wrote itself, so its own writes are not echoed back.",
    config_schema=CONFIG_SCHEMA,
    build=FilterChanged,
    outputs=("changed", "unchanged"),
    discard_ports=("unchanged",),
    port_totals={"unchanged": "unchanged"},
)
