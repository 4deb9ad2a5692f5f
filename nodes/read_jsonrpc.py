"""read.jsonrpc: the records of a model in an ERP called by model and method (Tryton, Odoo), page
by page; with a cursor, only what was created or changed since the last run.

Pages are asked by offset and limit in id order, which a change during the read does not reorder,
so no record is skipped. The cursor is the system's own stamps, asked by the connector's dialect: a
record counts as changed when its write_date or its create_date (a record Tryton never wrote has
no write_date; Odoo sets it at creation) is at or after the position; the position moves to the latest stamp read once the whole list is read, and the next
run asks from there, inclusive (a record changed at that very moment is read again, never missed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nodes.base import NodeContext, NodeType, Processor, Record, Source, SourceBatch
from nodes.jsonrpc_parts import JSONRPC_CONNECTION, as_domain, flattened, model_schema
from nodes.schema_parts import EXPRESSION, object_schema

DEFAULT_PAGE_SIZE = 500
STAMPS = ("write_date", "create_date")

CONFIG_SCHEMA: dict[str, Any] = object_schema(
    {
        "connection": JSONRPC_CONNECTION,
        "model": model_schema("read"),
        "fields": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "x-picker": "column"},
            "uniqueItems": True,
            "minItems": 1,
            "title": "Fields",
            "description": "The fields read (id always); a many2one comes as its id; a related record's field is "
            "named through the relation, party.code, and comes as record['party.code'].",
        },
        "domain": {
            **EXPRESSION,
            "title": "Domain",
            "description": "Which records, as an expression giving the system's domain, e.g. [('active', '=', True)].",
        },
        "cursor": {
            "type": "boolean",
            "default": False,
            "title": "Only what changed",
            "description": "Read only the records created or changed since the last run (by the system's "
            "write_date and create_date).",
        },
        "page_size": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": DEFAULT_PAGE_SIZE},
    },
    ["connection", "model", "fields"],
)


class ReadJsonRpc(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        from app.errors import ConnectorError

        self.config, self.context = config, context
        self.connector = context.connection(config["connection"])
        if not hasattr(self.connector, "search_read"):
            raise ConnectorError(f"connection '{config['connection']}' is not a jsonrpc connection")
        self.domain = (
            context.program([Source("domain", config["domain"], "expression")]) if config.get("domain") else None
        )

    def read(self, inputs: list[Record]) -> Iterator[SourceBatch]:
        if not inputs:
            return
        domain = self._domain()
        cursor = bool(self.config.get("cursor"))
        position = None if not cursor or self.context.full_resync else self.context.cursor_position()
        if position is not None:
            try:
                domain = self.connector.changed_since(domain, str(position))
            except ValueError:
                from app.errors import ConnectorError

                raise ConnectorError(
                    f"the cursor's position {str(position)[:40]!r} is not a date and time; "
                    "run once with --full to read everything and set it again"
                ) from None
        fields = list(dict.fromkeys(["id", *self.config["fields"], *(STAMPS if cursor else ())]))
        size, offset, highest = int(self.config.get("page_size") or DEFAULT_PAGE_SIZE), 0, position
        while True:
            page = self.connector.search_read(self.config["model"], domain, fields, offset=offset, limit=size)
            page = [flattened(record, fields) for record in page]
            if cursor:
                stamps = [r.get(STAMPS[0]) or r.get(STAMPS[1]) for r in page]
                highest = max([s for s in stamps if s] + ([highest] if highest else []), default=highest)
                page = [{k: v for k, v in r.items() if k in self.config["fields"] or k == "id"} for r in page]
            if page:
                yield SourceBatch(page)
            if len(page) < size:
                break
            offset += size
        if cursor and highest is not None and highest != position:
            yield SourceBatch([], highest)  # the whole list was read: only now may the position move

    def _domain(self) -> list[Any]:
        from app.errors import ConnectorError

        if self.domain is None:
            return []
        [evaluated] = self.domain.evaluate([{}])
        if evaluated.error or not isinstance(evaluated.values["domain"], (list, tuple)):
            raise ConnectorError(f"domain: {evaluated.error or 'not a list'}")
        return as_domain(evaluated.values["domain"])


NODE_TYPE = NodeType(
    type="read.jsonrpc",
    family="read",
    title="Read from a JSON-RPC ERP",
    description="Reads the records of a model (Tryton, Odoo) page by page; with the cursor, only what was created or "
    "changed since the last run.",
    config_schema=CONFIG_SCHEMA,
    build=ReadJsonRpc,
)
