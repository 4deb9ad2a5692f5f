"""write.http: creates or updates each record through a JSON API; one outcome per record.

Two ways to reach a record, as APIs differ:
- PUT or PATCH to the record's own address, built from its fields (`/products/{sku}`); the record
  is first read there (404: not there yet) so one already equal is `unchanged` and not written.
- POST to a list when the API numbers records itself: the record is first looked for by its key
  (`find`, e.g. GET /customers?crm_id=17); found, it is updated at its own address (`update`),
  else created. Looking first is what makes a retried write safe: a POST whose answer was lost is
  found on the retry, not made twice.

Each record's outcome is kept the moment the API gives it (app/store/write_outcomes.py): a create
is marked as being sent before its call, and as accepted — with the API's id and the record's link
— as soon as the API says yes. A record marked as being sent by a run that stopped is looked for
with `find` again (and, when the API's record cannot be found yet, by the id it was given), and a
create sent again carries the same `Idempotency-Key` where the connection's `idempotency_header`
names one: a record is never created blindly twice, and a stopped run still counts what it wrote.

Each record is written on its own, so a record the API refuses (a 4xx) fails alone with the API's
reason while the others go on. Look-ups are retried on transient faults like any read; a write that
meets one (its answer lost, say) is retried from the look-up on, so it is never sent twice blindly.
A record still failing transiently after every attempt fails with that reason; several in a row
mean the API is down, and the run stops (nothing is lost: the read's position has not moved).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from nodes.api_write_parts import GaveUp, Sending, same_as_held
from nodes.base import LinkUpdate, NodeContext, NodeType, Outcome, Processor, Record, Source, id_text, without_meta
from nodes.encodings import ENCODE_SCHEMA, EncodingError, encoded
from nodes.read_http import RECORD_PATH, TIMEOUT
from nodes.request_templates import BODY_SCHEMA, HEADERS_SCHEMA, RequestTemplates
from nodes.schema_parts import (
    CONNECTION,
    as_list,
    child_link_schema,
    create_only_schema,
    key_list,
    link_schema,
    object_schema,
    record_key_fields,
    relative_path_problems,
)
from nodes.sync.synced_write import SYNC_SCHEMA, SyncedWrite, as_outcome

TEMPLATE_PATH: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "description": "An address relative to the base URL; {field} is replaced by the "
    "record's field, e.g. /products/{sku}.",
}
MAX_DOWN_IN_A_ROW = 3  # records giving up on transient faults one after the other: the API is down
REFUSES_EVERY_RECORD = {401, 403, 407}  # the connection, not the record, is refused: the run stops

CONFIG_SCHEMA: dict[str, Any] = object_schema(
    {
        "connection": CONNECTION,
        "method": {
            "enum": ["PUT", "PATCH", "POST"],
            "default": "PUT",
            "title": "Method",
            "description": "PUT or PATCH: to the record's own address (path). POST: to a list (path), after "
            "looking the record up with find.",
        },
        "path": {**TEMPLATE_PATH, "title": "Path"},
        "key": key_list("Key"),
        "mode": {"enum": ["insert", "update", "upsert"], "default": "upsert", "title": "Mode"},
        "find": object_schema(
            {
                "path": {**TEMPLATE_PATH, "title": "List to search"},
                "params": {
                    "type": "object",
                    "minProperties": 1,
                    "title": "Search parameters",
                    "additionalProperties": {"type": "string", "minLength": 1, "x-expression": "template"},
                    "description": "Query parameter -> the value to search by: {crm_id} (the record's field), or "
                    "a template over the record for the filter an API wants — an OData $filter "
                    "(crmId eq '{{ record.id }}'), or an encoded one "
                    '({{ [["crm_id", "=", record.id]] | tojson | b64encode }}).',
                },
                "record_path": RECORD_PATH,
            },
            ["path", "params"],
            title="Find an existing record",
            description="How to find the record the API already holds (needed with POST).",
        ),
        "update": object_schema(
            {
                "method": {"enum": ["PUT", "PATCH"], "default": "PATCH"},
                "path": {
                    **TEMPLATE_PATH,
                    "description": "The found record's address; {field} comes from the found record, "
                    "then the record, e.g. /customers/{customer_number}.",
                },
            },
            ["path"],
            title="Update a found record",
        ),
        "id_field": {
            "type": "string",
            "minLength": 1,
            "title": "The API's id field",
            "description": "Field of the API's records holding the id it gave them (customer_number).",
        },
        "fields": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "uniqueItems": True,
            "minItems": 1,
            "title": "Only these fields",
            "description": "Send only these fields (and the key).",
        },
        "create_only": create_only_schema('an ERP\'s address commands (addresses: [["create", [...]]])'),
        "compare": {
            "type": "boolean",
            "default": True,
            "title": "Skip unchanged records",
            "description": "Read the record first and write only when a field sent differs.",
        },
        "item_path": {
            "type": "string",
            "title": "Record at",
            "description": "Where the record is in a one-record answer (default: the whole answer).",
        },
        "link": link_schema("API"),
        "children": {
            "type": "array",
            "title": "Child records",
            "items": object_schema(
                {
                    "field": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Record field holding the children, e.g. items.",
                    },
                    "key": key_list("Child key"),
                    "id_field": {
                        "type": "string",
                        "minLength": 1,
                        "description": "Field of the API's children holding the id it gave them (ID).",
                    },
                    "link": child_link_schema("API"),
                },
                ["field", "key", "id_field"],
            ),
            "description": "Children written with their parent as one unit, to an API that takes them nested "
            "(OData deep insert and update): a child already there is sent with its id (and "
            "updated in place), a new one without; the parent is unchanged only when every "
            "child is. The API's record must come with its children (e.g. find $expand).",
        },
        "patch_creates": {
            "type": "boolean",
            "default": False,
            "title": "PATCH creates",
            "description": "The API creates a record PATCHed at an address it does not hold (Salesforce's upsert by "
            "external id: /sobjects/Account/Crm_Id__c/{id}), so PATCH may upsert.",
        },
        "body": BODY_SCHEMA,
        "headers": HEADERS_SCHEMA,
        "encode": ENCODE_SCHEMA,
        "idempotency_header": {
            "type": "string",
            "minLength": 1,
            "title": "Idempotency header",
            "description": "A header the API dedupes creates by, e.g. Idempotency-Key: a create sent "
            "again (after a lost answer or a stop) carries the same value.",
        },
        "timeout": TIMEOUT,
        "sync": SYNC_SCHEMA,
    },
    ["connection", "path", "key"],
)


def check(config: dict[str, Any]) -> list[tuple[tuple, str]]:
    problems = relative_path_problems(config, ("path",), ("find", "path"), ("update", "path"))
    method, mode = config.get("method", "PUT"), config.get("mode", "upsert")
    if method == "POST":
        if "find" not in config:
            problems.append((("find",), "a POST write needs find, so a retried call cannot create a record twice"))
        if "update" not in config and mode != "insert":
            problems.append((("update",), f"mode {mode} with POST needs update: where a found record is changed"))
    elif "find" in config or "update" in config:
        problems.append((("method",), "find and update go with POST; PUT and PATCH address the record by path"))
    if method == "PATCH" and mode != "update" and not config.get("patch_creates"):
        problems.append(
            (
                ("mode",),
                "PATCH only changes records that exist: use mode update, or PUT (or patch_creates, for an "
                "API whose PATCH creates, as Salesforce's upsert by external id does)",
            )
        )
    if "link" in config and "id_field" not in config:
        problems.append((("id_field",), "keeping links needs id_field, the field with the API's own id"))
    for shaped_apart in ("children", "create_only", "fields", "sync"):
        if "body" in config and config.get(shaped_apart):
            problems.append(((shaped_apart,), f"a body template says what is sent: write it without {shaped_apart}"))
    if "sync" in config:
        problems += _sync_problems(config)
    return problems


def _sync_problems(config: dict[str, Any]) -> list[tuple[tuple, str]]:
    """What a two-way sync through an API needs: the API's id, and an address built from it alone."""
    from nodes.sync.http_target import address_fields

    sync, method = config["sync"], config.get("method", "PUT")
    target_id = sync.get("target_id") or config.get("id_field")
    if not target_id:
        return [
            (
                ("id_field",),
                "a two-way sync needs id_field (or sync.target_id): the field with the API's own "
                "id, kept in each record's link",
            )
        ]
    problems: list[tuple[tuple, str]] = []
    where, template = (
        (("update", "path"), (config.get("update") or {}).get("path"))
        if method == "POST"
        else (("path",), config.get("path"))
    )
    extra = address_fields(template or "") - {target_id}
    if template and extra:
        problems.append(
            (
                where,
                f"a two-way sync reads and changes a record at its address by the API's id: "
                f"use only {{{target_id}}} here, not {', '.join(sorted(extra))}",
            )
        )
    if "link" in config:
        problems.append((("link",), "a two-way sync keeps its links itself (sync.entity and sync.source): drop link"))
    if config.get("children"):
        problems.append(
            (("children",), "a two-way sync through an API does not take children yet; write them without sync")
        )
    if config.get("mode", "upsert") == "insert":
        problems.append((("mode",), "a two-way sync updates what it finds: use upsert, or update"))
    if sync.get("match") and method != "POST":
        problems.append((("sync", "match"), "match rules search the API's list: they need method POST with find"))
    return problems


Written = tuple[str, dict | None, Any]  # a record's outcome, its change (dry runs, reports), the API's id


@dataclass
class PlannedWrite:
    """The call that writes one record, worked out and not sent yet."""

    method: str
    target: str
    body: dict[str, Any]
    headers: dict[str, str] | None
    kind: str  # inserted or updated
    change: dict[str, Any]
    current: dict[str, Any] | None  # what the API held, None for a create


@dataclass
class WriteAttempt:
    """What one record's earlier attempts did: a write sent (and perhaps applied) before a fault;
    and, once written, its children's links."""

    sent: str | None = None
    child_links: list[tuple[str, LinkUpdate]] | None = None


class WriteHttp(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        self.config, self.context = config, context
        self.connector = context.connection(config["connection"])
        if not hasattr(self.connector, "send"):
            from app.errors import ConnectorError

            raise ConnectorError(f"connection '{config['connection']}' is not an http connection")
        self.key = as_list(config["key"])
        self.method = config.get("method", "PUT")
        self.mode = config.get("mode", "upsert")
        self.compare = config.get("compare", True)
        self.fields = config.get("fields")
        self.create_only = set(config.get("create_only") or [])
        self.children = [{**c, "key": as_list(c["key"])} for c in config.get("children") or []]
        self.encodings: dict[str, str] = dict(config.get("encode") or {})
        self.timeout = config.get("timeout")
        self.link = config.get("link")
        self.idempotency_header = config.get("idempotency_header")
        # Search parameters written as templates ({{ … }}) are evaluated over each record; the
        # others are {field} placeholders, filled from its fields.
        templates = {
            name: text
            for name, text in (config.get("find") or {}).get("params", {}).items()
            if "{{" in text or "{%" in text
        }
        self.find_program = (
            context.program([Source(name, text, "template") for name, text in templates.items()]) if templates else None
        )
        self.templates = (
            RequestTemplates(config.get("body"), config.get("headers"), context)
            if "body" in config or config.get("headers")
            else None
        )
        self.down_in_a_row = 0
        self.reported = 0  # per-record changes reported (all in a dry run; else as many as the run keeps)
        self.known: dict[str, Any] = {}  # this batch's kept outcomes, by record key

        self.synced: SyncedWrite | None = None
        if "sync" in config:
            from nodes.sync.http_target import HttpSyncTarget

            self.synced = SyncedWrite(config["sync"], context, HttpSyncTarget(self, config["sync"]))

    def process(self, records: list[Record]) -> Outcome:
        from app.errors import FlowbridgeError

        if self.synced:
            return self._sync(records)
        outcome = Outcome()
        # Links of records found unchanged, by entity (a written one keeps its links at once).
        links: dict[str, list[LinkUpdate]] = {}
        self.known = (
            self.context.outcomes.known([k for k in map(self._record_key, records) if k])
            if self.method == "POST"
            else {}
        )
        attempts = [WriteAttempt() for _ in records]
        together = self._write_together(records, attempts)
        for index, (record, attempt) in enumerate(zip(records, attempts)):
            try:
                written = together.get(index)
                if isinstance(written, Exception):
                    raise written
                if written is None:  # on its own, retried from the look-up on
                    written = self.connector.retrying(lambda r=record, a=attempt: self._write(r, a))
                kind, change, target_id = written
            except (FlowbridgeError, GaveUp) as error:
                outcome.fail(record, self.failure_reason(error), getattr(error, "body", None) or None)
                continue
            self.down_in_a_row = 0
            outcome.count(kind)
            if change and (self.context.dry_run or self.reported < self.context.keep_changes):
                outcome.changes.append(change)
                self.reported += 1
            link = self._link(record, target_id)
            if kind in ("inserted", "updated") and not self.context.dry_run:
                kept = ([(self.link["entity"], link)] if link else []) + (attempt.child_links or [])
                self.context.outcomes.accepted(
                    self._record_key(record), kind, None if target_id is None else id_text(target_id), kept
                )
            elif not self.context.dry_run:
                for entity, kept_link in ([(self.link["entity"], link)] if link else []) + (attempt.child_links or []):
                    links.setdefault(entity, []).append(kept_link)
        for entity, updates in links.items():
            self.context.sync.save_links(entity, updates)
        return outcome

    def _sync(self, records: list[Record]) -> Outcome:
        """A two-way sync's batch (nodes/sync/synced_write.py, through nodes/sync/http_target.py)."""
        assert self.synced is not None
        report = self.context.dry_run or self.reported < self.context.keep_changes
        outcome = as_outcome(records, self.synced.write(records, self.context.dry_run, details=report))
        self.reported += len(outcome.changes)
        return outcome

    def finish(self) -> Iterator[Outcome]:
        if self.synced:
            yield from self.synced.finish(self.context.dry_run)

    def close(self) -> None:
        if self.synced:
            self.synced.close()

    def failure_reason(self, error: Exception) -> str:
        """Why one record failed; raises ConnectorError when no record would get through (the API
        down for several records in a row, the credentials or the address refused), so the run stops."""
        from app.errors import ConnectorError, RecordError, TransientError

        if isinstance(error, (TransientError, GaveUp)):
            self.down_in_a_row += 1
            reason = f"gave up after {self.connector.attempts} attempts: {error}"
            if self.down_in_a_row >= MAX_DOWN_IN_A_ROW:
                raise ConnectorError(
                    f"{reason}; {self.down_in_a_row} records in a row failed like this, so the "
                    "run stops (the records not written yet are read again next run)"
                ) from None
            return reason
        if not isinstance(error, (RecordError, ConnectorError)):
            raise error  # not one of a record's failures: a defect, never hidden as a refusal
        if getattr(error, "every_record", False):
            raise ConnectorError(f"{error} (every record would go the same way, so the run stops)") from None
        if getattr(error, "status", None) in REFUSES_EVERY_RECORD:
            raise ConnectorError(
                f"{error} (every record would be refused the same way, so the run "
                "stops; check the connection's credentials)"
            ) from None
        if _wrong_address(error):
            raise ConnectorError(
                f"{error} (the address is wrong for every record, not for this one, so "
                "the run stops; check the node's paths and methods)"
            ) from None
        self.down_in_a_row = 0
        return _reason(error)

    def _record_key(self, record: Record) -> str:
        """The record's identity in this write's outcomes: its key fields, e.g. crm_id=17."""
        values = [record.get(k) for k in self.key]
        if any(v in (None, "") for v in values):
            return ""
        return "&".join(f"{k}={id_text(v)}" for k, v in zip(self.key, values))[:255]

    def _link(self, record: Record, target_id: Any) -> LinkUpdate | None:
        if not self.link or target_id is None:
            return None
        source_id = record.get(self.link["source_id"])
        if source_id in (None, ""):
            return None
        return LinkUpdate(
            self.link["source"],
            id_text(source_id),
            self.link.get("target") or self.config["connection"],
            id_text(target_id),
        )

    # --- one record --------------------------------------------------------------------------------

    def _body(self, record: Record) -> dict[str, Any]:
        record = self._encoded(record)
        if self.fields:
            wanted = list(dict.fromkeys([*self.key, *self.fields]))
            return {k: record[k] for k in wanted if k in record}
        return dict(record)

    def _encoded(self, record: Record) -> dict[str, Any]:
        """The record's fields as the API takes them (`encode`); a field that fails fails the record."""
        from app.errors import RecordError

        try:
            return encoded(without_meta(record), self.encodings)
        except EncodingError as error:
            raise RecordError(str(error)) from None

    def _write_together(self, records: list[Record], attempts: list[WriteAttempt]) -> dict[int, Any]:
        """Records written together, by their index: what `_write` gives, or the error that failed
        one. Here none: each record is written on its own (write.odata's $batch writes many)."""
        return {}

    def _write(self, record: Record, attempt: WriteAttempt) -> Written:
        """(outcome, change for a dry run, the API's id of the record); raises the project's errors."""
        step = self._plan(record, attempt)
        if not isinstance(step, PlannedWrite):
            return step
        response = self.connector.send(
            step.method, step.target, body=step.body, timeout=self.timeout, headers=step.headers
        )
        return self._finish(step, attempt, response)

    def _plan(self, record: Record, attempt: WriteAttempt) -> PlannedWrite | Written:
        """The call that writes the record, worked out from what the API holds; or what the record's
        write comes to without one (unchanged, or a dry run's change)."""
        from app.connectors.rest import fill
        from app.errors import RecordError

        body = self._body(record)
        empty = [k for k in self.key if body.get(k) in (None, "")]
        if empty:
            raise RecordError(f"key field(s) {', '.join(empty)} empty")
        if self.method == "POST":
            current, address = self._find(body)
            if current is None:
                current = self._accepted_before(body)
            kept = self.known.get(self._record_key(body))
            if current is not None and kept is not None and kept.state == "sending" and not attempt.sent:
                # An earlier run's create reached the API though its answer never came back: this
                # run finds what it made, and counts it as made (it is written only if it differs).
                attempt.sent = "inserted"
        else:
            address = fill(self.config["path"], body, "path")
            current = self._get(address) if self.compare or self.mode != "upsert" else None
        if current is None and self.mode == "update":
            raise RecordError(
                f"no record to update at {address}"
                if self.method != "POST"
                else f"no record found with {self._describe(body)} to update"
            )
        if current is not None and self.mode == "insert":
            raise RecordError(f"a record with {self._describe(body)} exists already")
        if current is not None and self.create_only:
            body = {k: v for k, v in body.items() if k not in self.create_only}
        if current is not None and self.children:
            body = self._with_child_ids(body, current)
        key = {k: body.get(k) for k in self.key}
        headers: dict[str, str] | None = None
        shaped = None
        if self.templates is not None:  # what the API wants around the record, and its own headers
            shaped, headers = self.templates.render(self._encoded(record))
        sent = body if self.templates is None or shaped is None else shaped
        changed = sent if current is None else {k: v for k, v in sent.items() if not self._same_field(k, v, current)}
        if current is not None and self.compare and not changed:
            if self.children:  # unchanged, or made by a run that stopped before it kept the links
                attempt.child_links = self._child_links(body, current)
            kind = attempt.sent or "unchanged"
            return kind, {"outcome": kind, "key": key, "before": {}, "after": {}}, self._id(current)
        kind = "inserted" if current is None else "updated"
        change = {
            "outcome": attempt.sent or kind,
            "key": key,
            "before": None if current is None else {k: current.get(k) for k in changed},
            "after": dict(changed),
        }
        if self.context.dry_run:
            return kind, change, None
        if current is None and self.method == "POST":
            method, target = "POST", fill(self.config["path"], body, "path")
        elif current is not None and self.method == "POST":
            method = self.config["update"].get("method", "PATCH")
            target = self._update_address({**body, **current})
        else:
            method, target = self.method, address
        headers = {**(headers or {}), **(self._write_headers(method, current) or {})} or None
        if method == "POST":  # a create: kept as being sent before the call, in case its answer is lost
            record_key = self._record_key(body)
            token = self.context.outcomes.sending(record_key, self.known.get(record_key))
            if token is not None:  # marked: a retry of this record (or a later run) reuses the key
                self.known[record_key] = Sending(token)
            if self.idempotency_header and token:
                headers = {**(headers or {}), self.idempotency_header: token}
        attempt.sent = attempt.sent or kind
        return PlannedWrite(method, target, sent, headers, kind, change, current)

    def _finish(self, step: PlannedWrite, attempt: WriteAttempt, response: Any) -> Written:
        """What the API's answer to a planned write says: its outcome and the API's id."""
        kind = step.kind
        if not self.compare and self.method == "PUT" and step.current is None:
            kind = "inserted" if response.status_code == 201 else "updated"
            step.change["outcome"] = attempt.sent = kind
        written = self._record_of(response)
        if self.children:
            attempt.child_links = self._child_links(step.body, written)
        return attempt.sent or kind, step.change, self._id(written) if written else self._id(step.current or {})

    # --- children ----------------------------------------------------------------------------------

    def _child_key(self, child: dict[str, Any], item: dict[str, Any]) -> tuple:
        return tuple(id_text(item.get(k)) for k in child["key"])

    def _with_child_ids(self, body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
        """The children sent to update a record: each one the API has already (by its key) with the
        id the API gave it, so it is updated in place; a new one without."""
        body = dict(body)
        for child in self.children:
            items = body.get(child["field"])
            if not isinstance(items, list):
                continue
            theirs = {self._child_key(child, c): c for c in current.get(child["field"]) or [] if isinstance(c, dict)}
            body[child["field"]] = [
                {**item, child["id_field"]: theirs[self._child_key(child, item)][child["id_field"]]}
                if isinstance(item, dict) and self._child_key(child, item) in theirs
                else item
                for item in items
            ]
        return body

    def _same_field(self, name: str, ours: Any, current: dict[str, Any]) -> bool:
        child = next((c for c in self.children if c["field"] == name), None)
        theirs = current.get(name)
        if child is None or not isinstance(ours, list) or not isinstance(theirs, list):
            return same_as_held(ours, theirs)
        # Children by their key, in any order: the same set, each equal in the fields sent.
        mine = {self._child_key(child, c): c for c in ours if isinstance(c, dict)}
        held = {self._child_key(child, c): c for c in theirs if isinstance(c, dict)}
        return mine.keys() == held.keys() and all(same_as_held(c, held[k]) for k, c in mine.items())

    def _child_links(self, body: dict[str, Any], written: dict[str, Any] | None) -> list[tuple[str, LinkUpdate]]:
        """Each child's link (source id -> the API's id), from the API's answer, or read back when
        the answer does not carry the children (an OData PATCH)."""
        wanted = [c for c in self.children if c.get("link")]
        if not wanted:
            return []
        if written is None or any(not isinstance(written.get(c["field"]), list) for c in wanted):
            written, _ = self._find(body) if self.method == "POST" else (None, "")
        links: list[tuple[str, LinkUpdate]] = []
        for child in wanted:
            link = child["link"]
            theirs = {
                self._child_key(child, c): c for c in (written or {}).get(child["field"]) or [] if isinstance(c, dict)
            }
            for item in body.get(child["field"]) or []:
                found = theirs.get(self._child_key(child, item)) if isinstance(item, dict) else None
                if found is None or item.get(link["source_id"]) in (None, "") or found.get(child["id_field"]) is None:
                    continue
                links.append(
                    (
                        link["entity"],
                        LinkUpdate(
                            link["source"],
                            id_text(item[link["source_id"]]),
                            link.get("target") or self.config["connection"],
                            id_text(found[child["id_field"]]),
                        ),
                    )
                )
        return links

    def _find(self, body: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
        from app.connectors.rest import fill
        from app.errors import RecordError

        find = self.config["find"]
        path = fill(find["path"], body, "find path")
        filled = {}
        if self.find_program is not None:
            [evaluated] = self.find_program.evaluate([body])
            if evaluated.error:
                raise RecordError(f"find: {evaluated.error}")
            # A template giving a list repeats the parameter (Tryton's f=name&f=code).
            filled = {
                name: [str(v) for v in value] if isinstance(value, list) else "" if value is None else str(value)
                for name, value in evaluated.values.items()
            }
        params = {
            name: filled[name] if name in filled else fill(template, body, f"find parameter {name}")
            for name, template in find["params"].items()
        }
        found = self.search(path, params)
        if len(found) > 1:
            raise RecordError(f"{len(found)} records of {path} have {self._describe(body)}; the key must find one")
        return (found[0] if found else None), f"{path}?" + "&".join(f"{k}={v}" for k, v in params.items())

    def search(self, path: str, params: dict[str, Any]) -> list[Any]:
        """The records of a list the API answers a search with (find's `record_path` in its body)."""
        from app.connectors.rest import dig
        from app.errors import ConnectorError

        record_path = self.config["find"].get("record_path", "data")
        found = dig(self.connector.json(self._look_up(path, params=params), f"GET {path}"), record_path)
        if not isinstance(found, list):
            raise ConnectorError(
                f"{self.connector.where}: GET {path}: no list of records at "
                f"'{record_path or '(the whole body)'}' in the answer"
            )
        return found

    def _accepted_before(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The API's record for a record it accepted before, by the id it gave (an API's search may
        lag behind its writes: a record created a moment ago is not found by `find` yet)."""
        kept = self.known.get(self._record_key(body))
        field = self.config.get("id_field")
        if kept is None or kept.state != "accepted" or not kept.target_id or not field or "update" not in self.config:
            return None
        return self._get(self._update_address({**body, field: kept.target_id}))

    def _update_address(self, values: dict[str, Any]) -> str:
        """Where a found record is changed, from its fields (the API's first, then the record's)."""
        from app.connectors.rest import fill

        return fill(self.config["update"]["path"], values, "update path")

    def _write_headers(self, method: str, current: dict[str, Any] | None) -> dict[str, str] | None:
        """Headers a write sends besides the connection's (an OData update's If-Match)."""
        return None

    def _get(self, address: str) -> dict[str, Any] | None:
        response = self._look_up(address, missing_ok=True)
        return None if response is None else self._record_of(response, required=True)

    def _look_up(self, path: str, **options: Any) -> Any:
        """A GET, retried on its own (reading twice is harmless)."""
        from app.errors import TransientError

        try:
            return self.connector.call("GET", path, timeout=self.timeout, **options)
        except TransientError as error:
            raise GaveUp(str(error)) from None

    def _record_of(self, response: Any, required: bool = False) -> dict[str, Any] | None:
        from app.connectors.rest import dig
        from app.errors import ConnectorError

        if not response.content:
            return None
        record = dig(self.connector.json(response, str(response.request.url.path)), self.config.get("item_path"))
        if isinstance(record, dict):
            return record
        if required:
            raise ConnectorError(f"{self.connector.where}: {response.request.url.path}: the answer is not a record")
        return None

    def _id(self, record: dict[str, Any]) -> Any:
        field = self.config.get("id_field")
        return record.get(field) if field else None

    def _describe(self, body: dict[str, Any]) -> str:
        return ", ".join(f"{k}={body.get(k)!r}" for k in self.key)


def _wrong_address(error: Exception) -> bool:
    """A refusal no record can get past: the method is not allowed there (405), or a list the write
    searches or posts to does not exist (404 on a GET with query, or on a POST)."""
    status, call = getattr(error, "status", None), str(getattr(error, "call", ""))
    return status == 405 or (status == 404 and call.split(" ", 1)[0] in ("GET", "POST"))


def _reason(error: Exception) -> str:
    """Why a record failed, as the dead-letter store shows it; a refusal says the call, the status
    and the API's own reason."""
    from app.connectors.rest import Refused, RefusedInAnswer

    if isinstance(error, RefusedInAnswer):
        return f"{error.call} refused in its answer (HTTP {error.status}): {error.reason}"
    if isinstance(error, Refused):
        return f"{error.call} refused: HTTP {error.status}: {error.reason}"
    return str(error)


NODE_TYPE = NodeType(
    type="write.http",
    family="write",
    title="Write to an API",
    description="Creates or updates each record through a JSON API by key; records equal to what the API holds are "
    "not written.",
    config_schema=CONFIG_SCHEMA,
    build=WriteHttp,
    outputs=(),
    check=check,
    write_key=record_key_fields,
)
