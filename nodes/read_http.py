"""read.http: records from a JSON API, page by page; with a cursor, only what changed since the last run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nodes.base import NodeContext, NodeType, Processor, Record, SourceBatch, id_text
from nodes.schema_parts import CONNECTION, object_schema, relative_path_problems

PARAMS: dict[str, Any] = {
    "type": "object",
    "title": "Query parameters",
    "additionalProperties": {"type": ["string", "number", "boolean"]},
    "description": "Added to every call, e.g. sort: updated_at or expand: account.",
}
RECORD_PATH: dict[str, Any] = {
    "type": "string",
    "title": "Records at",
    "default": "data",
    "description": "Where the records are in each answer: a field such as data or items (dotted for deeper "
    "ones, e.g. result.items); empty when the answer is the list itself.",
}
TIMEOUT: dict[str, Any] = {
    "type": "number",
    "exclusiveMinimum": 0,
    "maximum": 600,
    "title": "Timeout (seconds)",
    "description": "Longest wait for one call (default: the connection's, 30 s).",
}
PARAM_NAME: dict[str, Any] = {"type": "string", "minLength": 1}
MAX_WALK_PAGES = 1_000_000

PAGINATION_SCHEMA: dict[str, Any] = object_schema(
    {
        "style": {
            "enum": ["none", "page", "offset", "cursor", "link", "range", "since"],
            "default": "none",
            "title": "Style",
            "description": "page: ?page=1,2,3; offset: ?offset=0,100,200; cursor: the answer names the next "
            "cursor; link: the answer links to the next page (Link header or a field); range: a Range header "
            "(items=0-99) and the answer's Content-Range (PostgREST); since: "
            "each call asks from the last cursor value read (needs the cursor; a record changed "
            "during the read is never skipped); none: one call.",
        },
        "size": {
            "type": "integer",
            "minimum": 1,
            "maximum": 10_000,
            "title": "Page size",
            "description": "Records asked for per call (sent as the size or limit parameter).",
        },
        "page_param": {**PARAM_NAME, "default": "page"},
        "size_param": {
            **PARAM_NAME,
            "default": "per_page",
            "description": "Parameter for the page size (page, cursor and link styles).",
        },
        "first_page": {"type": "integer", "minimum": 0, "default": 1},
        "offset_param": {**PARAM_NAME, "default": "offset"},
        "limit_param": {**PARAM_NAME, "default": "limit", "description": "Parameter for the page size (offset style)."},
        "cursor_param": {**PARAM_NAME, "default": "cursor"},
        "next_cursor_path": {
            **PARAM_NAME,
            "default": "next_cursor",
            "description": "Where the answer holds the next cursor (cursor style), e.g. meta.next_cursor.",
        },
        "range_header": {
            **PARAM_NAME,
            "default": "items={first}-{last}",
            "description": "Range style: the Range header asking for a page; PostgREST wants {first}-{last}.",
        },
        "next_url_path": {
            **PARAM_NAME,
            "description": "Link style: a field of the answer holding the next page's address "
            '(default: the Link header\'s rel="next").',
        },
    },
    ["style"],
    title="Pagination",
)

CURSOR_SCHEMA: dict[str, Any] = object_schema(
    {
        "field": {
            "type": "string",
            "minLength": 1,
            "title": "Cursor field",
            "description": "An always-increasing field of the records, such as updated_at.",
        },
        "param": {
            **PARAM_NAME,
            "default": "updated_since",
            "title": "Sent as",
            "description": "Query parameter that asks the API for records from a cursor value on (inclusive).",
        },
        "ordered": {
            "type": "boolean",
            "default": False,
            "title": "Answers are in cursor order",
            "description": "The API returns records sorted by the cursor field (ask for it with a sort parameter): "
            "the position then moves after every page, not only at the end of the read.",
        },
        "key": {
            "type": "string",
            "minLength": 1,
            "default": "id",
            "title": "Record id field",
            "description": "With pagination since: tells apart the records sharing the last cursor value.",
        },
    },
    ["field"],
    title="Incremental cursor",
)

CONFIG_SCHEMA: dict[str, Any] = object_schema(
    {
        "connection": CONNECTION,
        "path": {
            "type": "string",
            "minLength": 1,
            "title": "Path",
            "description": "The list to read, relative to the connection's base URL, e.g. /accounts.",
        },
        "params": PARAMS,
        "record_path": RECORD_PATH,
        "pagination": PAGINATION_SCHEMA,
        "cursor": CURSOR_SCHEMA,
        "timeout": TIMEOUT,
    },
    ["connection", "path"],
)


class ReadHttp(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        from app.connectors.rest import Pagination

        self.config, self.context = config, context
        self.connector = context.connection(config["connection"])
        if not hasattr(self.connector, "pages"):
            from app.errors import ConnectorError

            raise ConnectorError(f"connection '{config['connection']}' is not an http connection")
        self.pagination = Pagination.from_config(config.get("pagination"))
        self.cursor = config.get("cursor")

    def read(self, inputs: list[Record]) -> Iterator[SourceBatch]:
        if not inputs:
            return
        params = dict(self.config.get("params") or {})
        position = None
        if self.cursor:
            position = None if self.context.full_resync else self.context.cursor_position()
            if position is not None:
                params[self.cursor.get("param", "updated_since")] = position
        if self.pagination.style == "since":
            yield from self._walk(params, position)
            return
        highest = position
        pages = self.connector.pages(
            self.config["path"],
            params=params,
            record_path=self.config.get("record_path", "data"),
            pagination=self.pagination,
            timeout=self.config.get("timeout"),
        )
        for records in pages:
            if not self.cursor:
                yield SourceBatch(records)
                continue
            highest = _highest(highest, [r.get(self.cursor["field"]) for r in records], self.cursor["field"])
            # In cursor order, everything up to this page's last value has been read: safe to commit.
            yield SourceBatch(records, highest if self.cursor.get("ordered") else None)
        if self.cursor and not self.cursor.get("ordered") and highest is not None and highest != position:
            yield SourceBatch([], highest)  # the whole list was read: only now may the position move

    def _walk(self, params: dict[str, Any], position: Any) -> Iterator[SourceBatch]:
        """Keyset paging through the cursor parameter: each call asks for records from the last
        cursor value read (inclusive; the ones already read at that value are left out by key).

        Offsets shift when a record changes during the read (it moves to the end of the order) and
        a page boundary then skips a record for good; asking from a value cannot skip one."""
        from app.connectors.rest import Pagination
        from app.errors import ConnectorError

        field, key = self.cursor["field"], self.cursor.get("key", "id")
        param, size = self.cursor.get("param", "updated_since"), self.pagination.size
        since, seen_at_since, longest = position, set(), 0
        for _ in range(MAX_WALK_PAGES):
            query = {**params, **({param: since} if since is not None else {})}
            if size:
                query[self.pagination.size_param] = size
            pages = self.connector.pages(
                self.config["path"],
                params=query,
                pagination=Pagination(),
                record_path=self.config.get("record_path", "data"),
                timeout=self.config.get("timeout"),
            )
            records = next(iter(pages), [])
            longest = max(longest, len(records))
            values = [r.get(field) for r in records]
            if not _in_order(values):
                raise ConnectorError(
                    f"{self.config['path']}: the answer is not in '{field}' order (or some records "
                    f"have none); pagination since needs it (add a sort parameter)"
                )
            fresh = [r for r in records if not (r.get(field) == since and id_text(r.get(key)) in seen_at_since)]
            if not fresh:
                if records and values[0] == values[-1] == since and len(records) >= (size or longest):
                    raise ConnectorError(
                        f"{self.config['path']}: at least {len(records)} records have {field} "
                        f"{since!r}, a whole page; raise the page size so the read can move past it"
                    )
                return
            last = fresh[-1][field]
            at_last = {id_text(r.get(key)) for r in records if r.get(field) == last}
            seen_at_since = (seen_at_since | at_last) if last == since else at_last
            since = last
            # Sorted by the cursor: everything before `last` is read; records at `last` are read again
            # next time (inclusive), so the position may move after this page.
            yield SourceBatch(fresh, since)
        raise ConnectorError(f"{self.config['path']}: more than {MAX_WALK_PAGES} pages")


def check(config: dict[str, Any]) -> list[tuple[tuple, str]]:
    problems = relative_path_problems(config, ("path",))
    if (config.get("pagination") or {}).get("style") == "since" and "cursor" not in config:
        problems.append((("pagination", "style"), "pagination since pages through the cursor: set the cursor"))
    header = (config.get("pagination") or {}).get("range_header")
    if header is not None:
        try:
            header.format(first=0, last=99)
        except (KeyError, IndexError, ValueError):
            problems.append(
                (
                    ("pagination", "range_header"),
                    "the Range header may name only {first} and {last}, e.g. items={first}-{last}",
                )
            )
    return problems


def _in_order(values: list[Any]) -> bool:
    try:
        return all(v is not None for v in values) and all(a <= b for a, b in zip(values, values[1:]))
    except TypeError:  # values of different kinds
        return False


def _highest(current: Any, values: list[Any], field: str) -> Any:
    present = [v for v in values if v is not None]
    if current is not None:
        present.append(current)
    if not present:
        return current
    try:
        return max(present)
    except TypeError:
        from app.errors import ConnectorError

        kinds = sorted({type(v).__name__ for v in present})
        raise ConnectorError(
            f"cursor field '{field}' holds values of different kinds ({', '.join(kinds)}); "
            "choose a field that is always a number or always a date"
        ) from None


NODE_TYPE = NodeType(
    type="read.http",
    family="read",
    title="Read from an API",
    description="Reads the records of a JSON API list page by page; with a cursor, only what changed since the "
    "last run.",
    config_schema=CONFIG_SCHEMA,
    build=ReadHttp,
    check=check,
)
