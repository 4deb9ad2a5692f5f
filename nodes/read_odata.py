"""read.odata: the records of an entity set of an OData v4 service, page by page; with a cursor
property (modifiedAt, Modified_On…), only what changed since the last run.

Without a cursor the service's own paging is followed (`@odata.nextLink`) to its end. With one,
pages are asked in the cursor's order and then the key's (`$orderby=modifiedAt,ID`), each page
starting after the last record of the one before (`$filter` on both, `$top` records at a time)
rather than at an offset: a record changed while the read goes on moves to the end, where this run
still reads it, and none shifts past a page boundary unread. The position moves with each batch
written, to the last cursor value it held; the next run asks from there, inclusive (`ge`), so a
record changed at that very moment is read again, never missed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nodes.base import NodeContext, NodeType, Processor, Record, SourceBatch
from nodes.odata_parts import ODATA_CONNECTION, entity_set_schema, odata_connector
from nodes.schema_parts import object_schema

DEFAULT_PAGE_SIZE = 500
PROPERTIES: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "x-picker": "column"},
    "uniqueItems": True,
    "minItems": 1,
}

CONFIG_SCHEMA: dict[str, Any] = object_schema(
    {
        "connection": ODATA_CONNECTION,
        "entity_set": entity_set_schema("read"),
        "select": {
            **PROPERTIES,
            "title": "Properties",
            "description": "The properties read ($select; the key and the cursor always); all when empty.",
        },
        "expand": {
            **PROPERTIES,
            "title": "With their children",
            "description": "Navigation properties read with each record ($expand), e.g. items.",
        },
        "filter": {
            "type": "string",
            "minLength": 1,
            "title": "Filter",
            "description": "Which records, in OData's $filter language, e.g. status eq 'released' and netTotal gt 0.",
        },
        "cursor": {
            "type": "string",
            "minLength": 1,
            "x-picker": "column",
            "title": "Cursor property",
            "description": "A property that grows with each change, e.g. modifiedAt: only records changed since the "
            "last run are read.",
        },
        "page_size": {
            "type": "integer",
            "minimum": 1,
            "maximum": 5_000,
            "default": DEFAULT_PAGE_SIZE,
            "description": "Records asked for per page with a cursor ($top).",
        },
    },
    ["connection", "entity_set"],
)


class ReadOdata(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        from app.errors import ConnectorError

        self.config, self.context = config, context
        self.connector = odata_connector(config, context)
        self.entity = self.connector.entity_set(config["entity_set"])
        named = [*(config.get("select") or []), *([config["cursor"]] if config.get("cursor") else [])]
        unknown = [n for n in named if n not in self.entity.properties]
        unknown += [n for n in config.get("expand") or [] if n not in self.entity.navigation]
        if unknown:
            raise ConnectorError(
                f"{config['entity_set']} has no propert{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(unknown)} (see its $metadata)"
            )
        self.cursor: str | None = config.get("cursor")
        self.order = [*([self.cursor] if self.cursor else []), *(k for k in self.entity.keys if k != self.cursor)]

    def read(self, inputs: list[Record]) -> Iterator[SourceBatch]:
        if not inputs:
            return
        params: dict[str, Any] = {}
        if self.config.get("select"):
            params["$select"] = ",".join(dict.fromkeys([*self.order, *self.config["select"]]))
        if self.config.get("expand"):
            params["$expand"] = ",".join(self.config["expand"])
        if self.cursor is None:
            for page in self.connector.records(self.config["entity_set"], {**params, **self._filter([])}):
                yield SourceBatch(page)
            return
        yield from self._changed(params)

    def _changed(self, params: dict[str, Any]) -> Iterator[SourceBatch]:
        """The records changed since the position, page after page by (cursor, key)."""
        assert self.cursor is not None
        position = None if self.context.full_resync else self.context.cursor_position()
        since = [f"{self.cursor} ge {self._literal(self.cursor, position, 'the cursor position')}"] if position else []
        size = int(self.config.get("page_size") or DEFAULT_PAGE_SIZE)
        after: dict[str, Any] | None = None
        while True:
            query = {
                **params,
                **self._filter([*since, *([self._after(after)] if after else [])]),
                "$orderby": ",".join(self.order),
                "$top": size,
            }
            page, following = self.connector.page(self.config["entity_set"], query)
            if not page:
                return
            stamp = page[-1].get(self.cursor)
            yield SourceBatch(page, stamp)  # in the cursor's order: the last value is this batch's position
            if len(page) < size and not following:
                return
            after = page[-1]

    def _filter(self, conditions: list[str]) -> dict[str, str]:
        written = [f"({self.config['filter']})"] if self.config.get("filter") else []
        joined = " and ".join([*written, *conditions])
        return {"$filter": joined} if joined else {}

    def _after(self, last: dict[str, Any]) -> str:
        """Records after `last` in (cursor, key) order; a null cursor sorts first."""
        terms = []
        for i, name in enumerate(self.order):
            equal = [f"{n} eq {self._literal(n, last.get(n), n)}" for n in self.order[:i]]
            value = last.get(name)
            greater = f"{name} ne null" if value is None else f"{name} gt {self._literal(name, value, name)}"
            terms.append("(" + " and ".join([*equal, greater]) + ")")
        return "(" + " or ".join(terms) + ")"

    def _literal(self, name: str, value: Any, what: str) -> str:
        from app.connectors.odata import literal
        from app.errors import ConnectorError, RecordError

        try:
            return literal(self.entity.properties.get(name), value, what)
        except RecordError as error:
            raise ConnectorError(f"{error}; run once with --full to read everything and set it again") from None


NODE_TYPE = NodeType(
    type="read.odata",
    family="read",
    title="Read from an OData service",
    description="Reads the records of an entity set (Dynamics, Business Central, SAP) page by page; with a cursor "
    "property, only what changed since the last run.",
    config_schema=CONFIG_SCHEMA,
    build=ReadOdata,
)
