"""transform: a list of steps applied in order: set, compute, rename, drop, keep, lookup, dedupe.

Steps see the record as the previous step left it. A record that fails a step fails whole, and the
dead-letter store keeps it as it entered the node, so a retry starts it here again. `dedupe` sends
the records it drops through the `duplicate` port; keeping the newest holds the winners in a
temporary SQLite file until the input is exhausted, so memory stays bounded.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from nodes.base import NodeContext, NodeType, Outcome, Processor, Record, Source
from nodes.schema_parts import CONNECTION, EXPRESSION, TABLE, TEMPLATE, object_schema

FIELD = {"type": "string", "minLength": 1}
FIELDS = {"type": "array", "items": FIELD, "minItems": 1, "uniqueItems": True}


def _op(name: str, properties: dict[str, Any], required: list[str], title: str) -> dict[str, Any]:
    return object_schema({"op": {"const": name}, **properties}, ["op", *required], title=title)


CONFIG_SCHEMA: dict[str, Any] = {
    **object_schema(
        {
            "steps": {
                "type": "array",
                "title": "Steps",
                "minItems": 1,
                "items": {
                    "oneOf": [
                        {"$ref": f"#/$defs/{n}"}
                        for n in ("set", "compute", "rename", "drop", "keep", "lookup", "dedupe", "each")
                    ]
                },
            }
        },
        ["steps"],
    ),
    "$defs": {
        "set": _op("set", {"field": FIELD, "value": TEMPLATE}, ["field", "value"], "Set a field from a template"),
        "compute": _op(
            "compute",
            {"field": FIELD, "expression": EXPRESSION},
            ["field", "expression"],
            "Compute a field with an expression",
        ),
        "rename": _op("rename", {"from": FIELD, "to": FIELD}, ["from", "to"], "Rename a field"),
        "drop": _op("drop", {"fields": FIELDS}, ["fields"], "Drop fields"),
        "keep": _op("keep", {"fields": FIELDS}, ["fields"], "Keep only these fields"),
        "lookup": _op(
            "lookup",
            {
                "connection": CONNECTION,
                "table": {**TABLE, "description": "The table to look in (a database)."},
                "path": {
                    "type": "string",
                    "minLength": 1,
                    "title": "List",
                    "description": "The list to look in (an API), relative to its base URL, e.g. /country.subdivision.",
                },
                "model": {
                    "type": "string",
                    "minLength": 1,
                    "pattern": r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$",
                    "title": "Model",
                    "x-picker": "table",
                    "description": "The model to look in (a JSON-RPC ERP such as Tryton), e.g. country.subdivision: "
                    "one search per batch for the match fields' values.",
                },
                "search": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": TEMPLATE,
                    "title": "Search parameters (one call per batch)",
                    "description": "Query parameter -> template over record.values, each match field's "
                    'values in the batch, e.g. d: {{ [["code", "in", record.values.code]] | '
                    "tojson | b64encode(true) }}. Without it, one call per value, asking "
                    "?field=value.",
                },
                "record_path": {
                    "type": "string",
                    "description": "Where the rows are in the API's answer (default: the "
                    "whole answer, or its data field).",
                },
                "match": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": TEMPLATE,
                    "description": "Column (or field) of the looked-up rows -> template on the record.",
                },
                "fields": {
                    "type": "object",
                    "additionalProperties": FIELD,
                    "description": "Record field to set -> column of the found row.",
                },
                "many": {"type": "boolean", "default": False, "description": "Collect every matching row as a list."},
                "as": FIELD,
                "columns": FIELDS,
                "order_by": FIELD,
                "required": {
                    "type": "boolean",
                    "default": True,
                    "description": "Fail the record when nothing matches.",
                },
            },
            ["connection", "match"],
            "Look up rows in another table, API or model",
        ),
        "dedupe": _op(
            "dedupe",
            {
                "key": {
                    **EXPRESSION,
                    "description": "Records with the same key are duplicates, e.g. record.email | lower",
                },
                "keep": {"enum": ["first", "newest"], "default": "first"},
                "order_by": {
                    **EXPRESSION,
                    "description": "With keep newest: what makes a record newer, e.g. record.updated_at",
                },
            },
            ["key"],
            "Drop duplicates",
        ),
        "each": _op(
            "each",
            {
                "field": {**FIELD, "description": "A field holding a list of records, e.g. lines"},
                "steps": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "oneOf": [
                            {"$ref": f"#/$defs/{n}"} for n in ("set", "compute", "rename", "drop", "keep", "lookup")
                        ]
                    },
                },
            },
            ["field", "steps"],
            "Apply steps to each item of a list field",
        ),
    },
}

Pair = list  # [record as it entered the node, working copy]


class _Step:
    def apply(self, pairs: list[Pair], outcome: Outcome) -> list[Pair]:
        raise NotImplementedError


class _Evaluate(_Step):
    """set and compute: one program for the step, evaluated over the batch."""

    def __init__(self, field: str, text: str, kind: str, context: NodeContext) -> None:
        self.field = field
        self.program = context.program([Source(field, text, kind)])

    def apply(self, pairs: list[Pair], outcome: Outcome) -> list[Pair]:
        kept = []
        for pair, result in zip(pairs, self.program.evaluate([p[1] for p in pairs])):
            if result.error:
                outcome.fail(pair[0], result.error)
                continue
            pair[1][self.field] = result.values[self.field]
            kept.append(pair)
        return kept


class _Reshape(_Step):
    """rename, drop and keep: plain dictionary work."""

    def __init__(self, step: dict[str, Any]) -> None:
        self.step = step

    def apply(self, pairs: list[Pair], outcome: Outcome) -> list[Pair]:
        step = self.step
        for pair in pairs:
            record = pair[1]
            if step["op"] == "rename" and step["from"] in record:
                record[step["to"]] = record.pop(step["from"])
            elif step["op"] == "drop":
                for name in step["fields"]:
                    record.pop(name, None)
            elif step["op"] == "keep":
                pair[1] = {k: record.get(k) for k in step["fields"]}
        return pairs


class _Each(_Step):
    """Steps applied to every item of a list field (an order's lines), all items of a batch at once."""

    def __init__(self, step: dict[str, Any], context: NodeContext) -> None:
        self.field = step["field"]
        self.steps = [_build_step(s, context) for s in step["steps"]]

    def apply(self, pairs: list[Pair], outcome: Outcome) -> list[Pair]:
        items: list[Pair] = []  # [owning pair, item copy]
        kept = []
        for pair in pairs:
            value = pair[1].get(self.field)
            if value is None:
                value = []
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                outcome.fail(pair[0], f"field '{self.field}' is not a list of records")
                continue
            pair[1][self.field] = []
            items += [[pair, dict(item)] for item in value]
            kept.append(pair)
        item_outcome = Outcome()
        for step in self.steps:
            items = step.apply(items, item_outcome)
        failed_owners = {id(f.record): f.reason for f in item_outcome.failed}
        for owner, item in items:
            owner[1][self.field].append(item)
        survivors = []
        for pair in kept:
            if id(pair) in failed_owners:
                outcome.fail(pair[0], f"an item of '{self.field}' failed: {failed_owners[id(pair)]}")
            else:
                survivors.append(pair)
        return survivors


class _Lookup(_Step):
    """Rows of another table, or of an API's list, matched by templates: one query per batch (an API:
    one call per batch with `search`, else one per value)."""

    def __init__(self, step: dict[str, Any], context: NodeContext) -> None:
        self.step = step
        self.columns = list(step["match"])
        self.connector = context.connection(step["connection"])
        self.program = context.program([Source(c, t, "template") for c, t in step["match"].items()])
        self.search = (
            context.program([Source(p, t, "template") for p, t in step["search"].items()])
            if step.get("search")
            else None
        )
        self.where = f"{step['connection']}.{step.get('table') or step.get('path') or step.get('model')}"
        if "path" in step and not hasattr(self.connector, "pages"):
            from app.errors import ConnectorError

            raise ConnectorError(f"connection '{step['connection']}' is not an http connection (the lookup has a path)")
        if "model" in step and not hasattr(self.connector, "search_read"):
            from app.errors import ConnectorError

            raise ConnectorError(
                f"connection '{step['connection']}' is not a jsonrpc connection (the lookup has a model)"
            )

    def _key(self, values: dict[str, Any]) -> tuple:
        # As text: 42, 42.0 and "42" (an API's number, a template's text) are the same value.
        from app.connectors.sql_write import key_of

        return key_of(values, self.columns)

    def _rows(self, keys: list[tuple], fetch: list[str] | None) -> list[dict[str, Any]]:
        step = self.step
        if "table" in step:
            return self.connector.lookup(step["table"], self.columns, keys, fetch) if keys else []
        if "model" in step:  # one search per chunk of values: each match field "in" its values
            found: list[dict[str, Any]] = []
            for start in range(0, len(keys), RPC_LOOKUP_CHUNK):
                chunk = keys[start : start + RPC_LOOKUP_CHUNK]
                domain = [[c, "in", sorted({key[i] for key in chunk}, key=repr)] for i, c in enumerate(self.columns)]
                wanted = fetch or list(dict.fromkeys(["id", *self.columns, *(step.get("fields") or {}).values()]))
                found += self.connector.search_read(step["model"], domain, wanted)
            return found
        from app.connectors.rest import Pagination

        record_path = step.get("record_path", "")
        if self.search is None:  # one call per value: ?field=value
            return [
                row
                for key in keys
                for page in self.connector.pages(
                    step["path"], params=dict(zip(self.columns, key)), record_path=record_path
                )
                for row in page
            ]
        rows: list[dict[str, Any]] = []
        for start in range(0, len(keys), HTTP_LOOKUP_CHUNK):
            chunk = keys[start : start + HTTP_LOOKUP_CHUNK]
            values = {c: [key[i] for key in chunk] for i, c in enumerate(self.columns)}
            [asked] = self.search.evaluate([{"values": values}])
            if asked.error:
                from app.errors import ConnectorError

                raise ConnectorError(f"lookup in {self.where}: search {asked.error}")
            params = {
                name: [str(x) for x in v] if isinstance(v, list) else "" if v is None else str(v)
                for name, v in asked.values.items()
            }  # a list repeats the parameter (f=id&f=code)
            for page in self.connector.pages(
                step["path"], params=params, record_path=record_path, pagination=Pagination()
            ):
                rows += page
        return rows

    def apply(self, pairs: list[Pair], outcome: Outcome) -> list[Pair]:
        step = self.step
        wanted: list[tuple[Pair, dict[str, Any]]] = []
        for pair, result in zip(pairs, self.program.evaluate([p[1] for p in pairs])):
            if result.error:
                outcome.fail(pair[0], result.error)
            else:
                wanted.append((pair, result.values))
        keys = sorted(
            {tuple(v[c] for c in self.columns) for _, v in wanted if all(v[c] is not None for c in self.columns)},
            key=repr,
        )
        found: dict[tuple, list[dict[str, Any]]] = {}
        wanted_columns = step.get("columns")
        fetch = list(dict.fromkeys([*wanted_columns, *self.columns])) if wanted_columns else None
        for row in self._rows(keys, fetch) if keys else []:
            found.setdefault(self._key(row), []).append(
                {c: row.get(c) for c in wanted_columns} if wanted_columns else row
            )
        kept = []
        for pair, values in wanted:
            rows = found.get(self._key(values), [])
            where = ", ".join(f"{c}={values[c]!r}" for c in self.columns)
            if not rows and step.get("required", True):
                outcome.fail(pair[0], f"no row in {self.where} with {where}")
                continue
            if step.get("many"):
                if step.get("order_by"):
                    rows = sorted(rows, key=lambda r: _order_key(r.get(step["order_by"])))
                pair[1][step.get("as") or step.get("table") or step["path"].strip("/").split("/")[-1]] = rows
            elif len(rows) > 1:
                outcome.fail(pair[0], f"{len(rows)} rows in {self.where} match {where}; expected one")
                continue
            else:
                row = rows[0] if rows else {}
                # No `fields`: every column of the row; empty `fields`: only check that the row exists.
                mapping = step.get("fields")
                for target, column in (mapping if mapping is not None else {c: c for c in row}).items():
                    pair[1][target] = row.get(column)
            kept.append(pair)
        return kept


HTTP_LOOKUP_CHUNK = 100  # values asked for in one call to an API (its URL must stay short)
RPC_LOOKUP_CHUNK = 1000  # values asked for in one JSON-RPC search (in its body: no URL to keep short)


def _order_key(value: Any) -> tuple:
    """Sort values of mixed types (None oldest, numbers before text) without a TypeError."""
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (1, value)
    return (2, str(value))


class _Dedupe:
    """Keeps the first or the newest record per key; the state lives in a temporary SQLite file."""

    def __init__(self, step: dict[str, Any], context: NodeContext) -> None:
        self.newest = step.get("keep", "first") == "newest"
        sources = [Source("key", step["key"], "expression")]
        if self.newest:
            sources.append(Source("order", step.get("order_by") or "record.updated_at", "expression"))
        self.program = context.program(sources)
        self.db = sqlite3.connect(context.temp_path("dedupe.sqlite"))
        self.db.execute("CREATE TABLE held (key TEXT PRIMARY KEY, rank TEXT, original TEXT, record TEXT)")

    def apply(self, pairs: list[Pair], outcome: Outcome) -> list[Pair]:
        """The records that go on now (keep first); duplicates leave by the `duplicate` port."""
        evaluated = []
        for pair, result in zip(pairs, self.program.evaluate([p[1] for p in pairs])):
            if result.error:
                outcome.fail(pair[0], result.error)
            else:
                evaluated.append(
                    (pair, json.dumps(result.values["key"], sort_keys=True, default=str), result.values.get("order"))
                )
        held = self._held([key for _, key, _ in evaluated])
        passing = []
        for pair, key, order in evaluated:
            current = held.get(key)
            if current is not None and (not self.newest or _order_key(order) <= current[0]):
                outcome.emit("duplicate", pair[1])
                continue
            if current is not None:  # newer than the one held: that one becomes the duplicate
                outcome.emit("duplicate", json.loads(current[2]))
            # keep first only needs the key; keep newest holds the winner itself until the end
            held[key] = (
                (_order_key(order), json.dumps(pair[0], default=str), json.dumps(pair[1], default=str))
                if self.newest
                else ((0, 0), "", "")
            )
            if not self.newest:
                passing.append(pair)
        self.db.executemany(
            "INSERT OR REPLACE INTO held VALUES (?, ?, ?, ?)",
            [(k, json.dumps(v[0]), v[1], v[2]) for k, v in held.items()],
        )
        return passing

    def _held(self, keys: list[str]) -> dict[str, tuple]:
        found: dict[str, tuple] = {}
        unique = list(set(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            query = f"SELECT key, rank, original, record FROM held WHERE key IN ({','.join('?' * len(chunk))})"
            for key, rank, original, record in self.db.execute(query, chunk):
                found[key] = (tuple(json.loads(rank)), original, record)
        return found

    def held_pairs(self, batch_size: int):
        """With keep newest: the winners, a batch at a time, once the input is exhausted."""
        cursor = self.db.execute("SELECT original, record FROM held ORDER BY rowid")
        while rows := cursor.fetchmany(batch_size):
            yield [[json.loads(o), json.loads(r)] for o, r in rows]

    def close(self) -> None:
        self.db.close()


def _build_step(step: dict[str, Any], context: NodeContext) -> _Step:
    op = step["op"]
    if op == "set":
        return _Evaluate(step["field"], step["value"], "template", context)
    if op == "compute":
        return _Evaluate(step["field"], step["expression"], "expression", context)
    if op == "lookup":
        return _Lookup(step, context)
    if op == "each":
        return _Each(step, context)
    return _Reshape(step)


class Transform(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        self.context = context
        self.before: list[_Step] = []
        self.after: list[_Step] = []
        self.dedupe: _Dedupe | None = None
        for step in config["steps"]:
            if step["op"] == "dedupe":
                self.dedupe = _Dedupe(step, context)
            else:
                (self.after if self.dedupe else self.before).append(_build_step(step, context))

    def process(self, records: list[Record]) -> Outcome:
        outcome = Outcome(ports={"out": [], "duplicate": []})
        pairs = self._run(self.before, [[r, dict(r)] for r in records], outcome)
        if self.dedupe:
            pairs = self._run(self.after, self.dedupe.apply(pairs, outcome), outcome)
        outcome.ports["out"] = [p[1] for p in pairs]
        return outcome

    def finish(self) -> Iterator[Outcome]:
        if self.dedupe and self.dedupe.newest:
            for pairs in self.dedupe.held_pairs(self.context.batch_size):
                outcome = Outcome(ports={"out": [], "duplicate": []})
                outcome.ports["out"] = [p[1] for p in self._run(self.after, pairs, outcome)]
                yield outcome

    @staticmethod
    def _run(steps: list[_Step], pairs: list[Pair], outcome: Outcome) -> list[Pair]:
        for step in steps:
            pairs = step.apply(pairs, outcome)
        return pairs

    def close(self) -> None:
        if self.dedupe:
            self.dedupe.close()


def check(config: dict[str, Any]) -> list[tuple[tuple, str]]:
    from nodes.schema_parts import relative_path_problems

    steps = [s for s in config.get("steps", []) if isinstance(s, dict)]
    dedupes = [i for i, s in enumerate(steps) if s.get("op") == "dedupe"]
    problems: list[tuple[tuple, str]] = [
        (("steps", i), "a transform can drop duplicates once; add a second transform node for another")
        for i in dedupes[1:]
    ]
    for i, step in enumerate(steps):
        for inner, lookup in [((), step)] + [
            (("steps", j), s) for j, s in enumerate(step.get("steps") or []) if isinstance(s, dict)
        ]:
            if lookup.get("op") != "lookup":
                continue
            where = ("steps", i, *inner)
            if sum(place in lookup for place in ("table", "path", "model")) != 1:
                problems.append(
                    (
                        where,
                        "a lookup looks in a table (a database), a path (an API) or a model (a JSON-RPC ERP): give one",
                    )
                )
            problems += [((*where, *place), sentence) for place, sentence in relative_path_problems(lookup, ("path",))]
    return problems


def _holds_records(config: dict[str, Any]) -> bool:
    return any(s.get("op") == "dedupe" and s.get("keep") == "newest" for s in config.get("steps", []))


NODE_TYPE = NodeType(
    type="transform",
    family="transform",
    title="Transform",
    description="Sets, computes, renames and drops fields, looks rows up in another table, drops duplicates.",
    config_schema=CONFIG_SCHEMA,
    build=Transform,
    outputs=("out", "duplicate"),
    discard_ports=("duplicate",),
    holds_records=_holds_records,
    check=check,
)
