"""write.odata: creates or updates each record in an entity set of an OData v4 service, by a key
of the analyst's choosing (an alternate key such as the CRM's id); one outcome per record.

It is write.http (nodes/write_http.py) with what OData fixes already filled in from the service's
`$metadata`: the record is looked for with a typed `$filter` on the key (and `$expand` of its
children), created with a POST to the entity set — a deep insert when it has children — and
updated with a PATCH at its own address, the set's key predicate (`SalesOrders(<guid>)`), carrying
the ETag it was read with in `If-Match`. A 412 (changed meanwhile) reads it again and retries, never
overwriting what someone else wrote blind. Children already there keep their id (a deep update);
everything write.http guarantees holds: a retried or restarted create is found, not made twice.
"""

from __future__ import annotations

from typing import Any

from nodes.api_write_parts import GaveUp
from nodes.base import NodeContext, NodeType, Record
from nodes.odata_parts import ODATA_CONNECTION, entity_set_schema, odata_connector
from nodes.read_http import TIMEOUT
from nodes.schema_parts import (
    as_list,
    child_link_schema,
    create_only_schema,
    key_list,
    link_schema,
    object_schema,
    record_key_fields,
)
from nodes.write_http import PlannedWrite, WriteAttempt, WriteHttp

FINDS_PER_CALL = 40  # keys in one $filter: its URL stays well under the 8 KB servers take

CONFIG_SCHEMA: dict[str, Any] = object_schema(
    {
        "connection": ODATA_CONNECTION,
        "entity_set": entity_set_schema("written"),
        "key": {
            **key_list("Key"),
            "description": "The properties that find a record the service holds, e.g. crmDealId (an "
            "alternate key); the set's own key (ID) is read from $metadata for its address.",
        },
        "mode": {"enum": ["insert", "update", "upsert"], "default": "upsert", "title": "Mode"},
        "fields": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "x-picker": "column"},
            "uniqueItems": True,
            "minItems": 1,
            "title": "Only these fields",
            "description": "Send only these properties (and the key).",
        },
        "create_only": create_only_schema("a creation date"),
        "compare": {
            "type": "boolean",
            "default": True,
            "title": "Skip unchanged records",
            "description": "Write only when a property sent differs from what the service holds.",
        },
        "link": link_schema("service"),
        "children": {
            "type": "array",
            "title": "Child records",
            "items": object_schema(
                {
                    "field": {
                        "type": "string",
                        "minLength": 1,
                        "x-picker": "column",
                        "title": "Navigation property",
                        "description": "The record's field holding the children: a navigation property, e.g. items.",
                    },
                    "key": key_list("Child key"),
                    "link": child_link_schema("service"),
                },
                ["field", "key"],
            ),
            "description": "Children written with their parent as one unit (deep insert, deep update): one "
            "already there keeps its id and is updated in place, a new one is added.",
        },
        "batch_size": {
            "type": "integer",
            "minimum": 2,
            "maximum": 1000,
            "title": "Writes per $batch",
            "description": "Send the writes of a batch together, this many per OData $batch call (JSON format), "
            "after finding their records in a few calls; each is still answered, and counted, on its own. "
            "Empty: one call per write.",
        },
        "timeout": TIMEOUT,
    },
    ["connection", "entity_set", "key"],
)


def check(config: dict[str, Any]) -> list[tuple[tuple, str]]:
    fields = [c.get("field") for c in config.get("children") or []]
    repeated = sorted({f for f in fields if fields.count(f) > 1})
    return [(("children",), f"children '{f}' is given twice") for f in repeated]


class WriteOdata(WriteHttp):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        from app.errors import ConnectorError

        connector = odata_connector(config, context)
        self.entity = connector.entity_set(config["entity_set"])
        self.child_types = {
            c["field"]: connector.type_of(self.entity, c["field"]) for c in config.get("children") or []
        }
        self.odata = connector
        for name in as_list(config["key"]):
            if name not in self.entity.properties:
                raise ConnectorError(f"key '{name}' is not a property of {config['entity_set']} (see its $metadata)")
        keyless = [f for f, kind in self.child_types.items() if len(kind.keys) != 1]
        if keyless or len(self.entity.keys) != 1 and "link" in config:
            raise ConnectorError(
                f"{config['entity_set']}: links and children need entity types with a one-property key"
            )
        super().__init__(self._as_http(config), context)
        self.batch_size: int | None = config.get("batch_size")
        self.prefetched: dict[tuple, list[dict[str, Any]]] = {}  # this batch's finds, by key; each used once

    def _as_http(self, config: dict[str, Any]) -> dict[str, Any]:
        """The write.http config this write is: a POST to the set after a find, a PATCH by key."""
        entity_set = config["entity_set"]
        passed = ("key", "mode", "fields", "create_only", "compare", "link", "timeout")
        return {
            "connection": config["connection"],
            "method": "POST",
            "path": f"/{entity_set}",
            "find": {"path": f"/{entity_set}", "params": {"$filter": "(by key)"}, "record_path": "value"},
            "update": {"method": "PATCH", "path": f"/{entity_set}(key)"},
            **({"id_field": self.entity.keys[0]} if len(self.entity.keys) == 1 else {}),
            "children": [{**c, "id_field": self.child_types[c["field"]].keys[0]} for c in config.get("children") or []],
            **{k: config[k] for k in passed if k in config},
        }

    # --- what OData fixes: the search, the address, the ETag -----------------------------------

    def _condition(self, values: dict[str, Any]) -> str:
        """The typed $filter that finds a record by this write's key: crmDealId eq '17'."""
        from app.connectors.odata import literal

        return " and ".join(
            f"{k} eq {literal(self.entity.properties.get(k), values.get(k), f'key {k}')}" for k in self.key
        )

    def _expand(self) -> dict[str, str]:
        return {"$expand": ",".join(self.child_types)} if self.child_types else {}

    def _find(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        from app.errors import RecordError

        condition = self._condition(body)
        key = self._key_of(body)
        if key in self.prefetched:  # found with the rest of its batch; a retry looks again
            found = self.prefetched.pop(key)
        else:
            found = self.search(self.config["path"], {"$filter": condition, **self._expand()})
        if len(found) > 1:
            raise RecordError(
                f"{len(found)} records of {self.config['path']} have {self._describe(body)}; the key must find one"
            )
        return (found[0] if found else None), f"{self.config['path']}?$filter={condition}"

    def _key_of(self, values: dict[str, Any]) -> tuple:
        from nodes.base import id_text

        return tuple(id_text(values.get(k)) for k in self.key)

    # --- $batch: the finds of a batch in a few calls, its writes in a few more -------------------

    def _write_together(self, records: list[Record], attempts: list[WriteAttempt]) -> dict[int, Any]:
        """The batch's writes planned after one look-up for all, then sent in $batch calls. A record
        left out of the answer is written on its own afterwards, its look-up first: one that met a
        transient fault while planned, one whose batch got no answer, one the service refused as
        changed since it was read (412)."""
        from app.connectors.odata import BatchCall
        from app.errors import TransientError

        if not self.batch_size or self.context.dry_run or len(records) < 2:
            return {}
        self._prefetch(records)
        try:
            done, planned = self._plan_together(records, attempts)
        finally:
            self.prefetched = {}  # each look-up is used once: a later retry looks again
        for start in range(0, len(planned), self.batch_size):
            chunk = planned[start : start + self.batch_size]
            try:
                calls = [BatchCall(s.method, s.target, s.body, s.headers) for _, s in chunk]
                answers = self.odata.batch(calls, timeout=self.timeout)
            except TransientError:
                continue  # what the batch did is not known
            for (index, step), answer in zip(chunk, answers):
                written = self._answered(step, attempts[index], answer)
                if written is not None:
                    done[index] = written
        return done

    def _plan_together(
        self, records: list[Record], attempts: list[WriteAttempt]
    ) -> tuple[dict[int, Any], list[tuple[int, PlannedWrite]]]:
        """What each record's write comes to without a call (unchanged, or the error failing it),
        and the calls the others need, by the record's index."""
        from app.errors import FlowbridgeError, TransientError

        done: dict[int, Any] = {}
        planned: list[tuple[int, PlannedWrite]] = []
        for index, (record, attempt) in enumerate(zip(records, attempts)):
            try:
                step = self._plan(record, attempt)
            except (TransientError, GaveUp):
                continue
            except FlowbridgeError as error:
                done[index] = error
                if getattr(error, "every_record", False):
                    return done, []  # the run stops at this record: nothing is sent together
                continue
            if isinstance(step, PlannedWrite):
                planned.append((index, step))
            else:
                done[index] = step
        return done, planned

    def _answered(self, step: PlannedWrite, attempt: WriteAttempt, answer: Any) -> Any:
        """One batched call's answer judged as if it had come alone: the record's outcome, the
        error failing it, or None when it is to be written again on its own."""
        from app.errors import FlowbridgeError, TransientError

        try:
            self.odata.verdict(answer, f"{step.method} {step.target} (in $batch)")
            return self._finish(step, attempt, answer)
        except TransientError:
            return None
        except FlowbridgeError as error:
            return error

    def _prefetch(self, records: list[Record]) -> None:
        """Finds the records of a batch that the service holds, a few dozen keys a call."""
        from app.errors import FlowbridgeError

        wanted: dict[tuple, str] = {}
        for record in records:
            try:
                wanted.setdefault(self._key_of(record), self._condition(record))
            except FlowbridgeError:
                continue  # a key that cannot be written as a literal: that record fails on its own
        keys = list(wanted)
        found: dict[tuple, list[dict[str, Any]]] = {}
        try:
            for start in range(0, len(keys), FINDS_PER_CALL):
                part = keys[start : start + FINDS_PER_CALL]
                condition = " or ".join(f"({wanted[k]})" for k in part)
                params = {"$filter": condition, **self._expand()}
                for page in self.odata.records(self.config["path"].lstrip("/"), params, annotated=True):
                    for held in page:
                        found.setdefault(self._key_of(held), []).append(held)
                for key in part:
                    self.prefetched[key] = found.get(key, [])
        except (FlowbridgeError, GaveUp):
            return  # what was not found ahead is looked for one by one

    def _update_address(self, values: dict[str, Any]) -> str:
        return f"{self.config['path']}{self.odata.key_predicate(self.entity, values)}"

    def _get(self, address: str) -> dict[str, Any] | None:
        if self.child_types:  # the record with its children, as `find` reads it
            address = f"{address}?$expand={','.join(self.child_types)}"
        return super()._get(address)

    def _write_headers(self, method: str, current: dict[str, Any] | None) -> dict[str, str] | None:
        etag = (current or {}).get("@odata.etag")
        return {"If-Match": str(etag)} if method != "POST" and etag else None

    def _body(self, record: dict[str, Any]) -> dict[str, Any]:
        from app.connectors.odata import UnknownProperty

        body = super()._body(record)
        known = {*self.entity.properties, *self.entity.navigation}
        unknown = [k for k in body if k not in known]
        if unknown:
            raise UnknownProperty(
                f"{self.config['path'].lstrip('/')} has no propert{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(sorted(unknown)[:10])} (see its $metadata); map the record to its properties"
            )
        return body


NODE_TYPE = NodeType(
    type="write.odata",
    family="write",
    title="Write to an OData service",
    description="Creates or updates each record of an entity set (Dynamics, Business Central, SAP) by key, with "
    "its children as one unit; records equal to what the service holds are not written.",
    config_schema=CONFIG_SCHEMA,
    build=WriteOdata,
    outputs=(),
    check=check,
    write_key=record_key_fields,
)
