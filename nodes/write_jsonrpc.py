"""write.jsonrpc: creates or updates records of a model in an ERP called by model and method
(Tryton, Odoo), through a jsonrpc connection (app/connectors/jsonrpc.py).

Each record is looked for first, by a domain built from it (`find`, e.g. [("code", "=", record.code)]),
so a record written before is updated, never created twice; one equal in every field sent is
`unchanged` and not written. The records a batch must create go in one `create` call (Tryton
creates a list in one transaction, all or none): each is marked as being sent before the call and
as accepted, with the id the system gave it and its link, as soon as the answer comes
(app/store/write_outcomes.py). When the list is refused, the records are created one by one, so
the one the ERP refuses fails alone with the ERP's own words; when its answer is lost, each is
looked for again before it is created: a record is never created blindly twice.

Updates are `write` calls of the fields that differ. A refusal that no record can get past (the
login refused, a model or method the system does not have) stops the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nodes.api_write_parts import same_as_held
from nodes.base import LinkUpdate, NodeContext, NodeType, Outcome, Processor, Record, Source, id_text, without_meta
from nodes.jsonrpc_parts import JSONRPC_CONNECTION, as_domain, model_schema
from nodes.schema_parts import (
    EXPRESSION,
    as_list,
    create_only_schema,
    key_list,
    link_schema,
    object_schema,
    record_key_fields,
)

MAX_DOWN_IN_A_ROW = 3  # records giving up on transient faults one after the other: the system is down

CONFIG_SCHEMA: dict[str, Any] = object_schema(
    {
        "connection": JSONRPC_CONNECTION,
        "model": model_schema("written"),
        "key": key_list("Key"),
        "find": object_schema(
            {
                "domain": {
                    **EXPRESSION,
                    "title": "Domain",
                    "description": "An expression over the record giving the domain that finds the record the "
                    "system holds already, e.g. [('code', '=', record.code)].",
                },
            },
            ["domain"],
            title="Find an existing record",
        ),
        "mode": {"enum": ["insert", "update", "upsert"], "default": "upsert", "title": "Mode"},
        "fields": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "x-picker": "column"},
            "uniqueItems": True,
            "minItems": 1,
            "title": "Only these fields",
            "description": "Send only these fields (and the key).",
        },
        "create_only": create_only_schema("one2many commands (addresses: [['create', [...]]])"),
        "link": link_schema("ERP"),
    },
    ["connection", "model", "key", "find"],
)


@dataclass
class _Create:
    record: Record
    key: str
    values: dict[str, Any]
    change: dict[str, Any]


class WriteJsonRpc(Processor):
    def __init__(self, config: dict[str, Any], context: NodeContext) -> None:
        from app.errors import ConnectorError

        self.config, self.context = config, context
        self.connector = context.connection(config["connection"])
        if not hasattr(self.connector, "search_read"):
            raise ConnectorError(f"connection '{config['connection']}' is not a jsonrpc connection")
        self.model = config["model"]
        self.key = as_list(config["key"])
        self.mode = config.get("mode", "upsert")
        self.fields = config.get("fields")
        self.create_only = set(config.get("create_only") or [])
        self.link = config.get("link")
        self.find = context.program([Source("domain", config["find"]["domain"], "expression")])
        self.down_in_a_row = 0
        self.reported = 0

    # --- a batch -----------------------------------------------------------------------------------

    def process(self, records: list[Record]) -> Outcome:
        outcome = Outcome()
        known = self.context.outcomes.known([k for k in map(self._record_key, records) if k])
        creates: dict[str, _Create] = {}
        later: list[Record] = []  # a second record of a key the batch creates: written after that create
        for record in records:
            if self._record_key(self._values(record)) in creates:
                later.append(record)
                continue
            planned = self._planned(record, known, outcome)
            if planned is not None:
                creates[planned.key] = planned
        if creates:
            self._create_all(list(creates.values()), known, outcome)
        for record in later:  # one by one, as if the batch had been written record by record
            planned = self._planned(record, self.context.outcomes.known([self._record_key(record)]), outcome)
            if planned is not None:
                self.context.outcomes.sending(planned.key)
                self._create_alone(planned, outcome)
        return outcome

    def _planned(self, record: Record, known: dict[str, Any], outcome: Outcome) -> _Create | None:
        try:
            return self._one(record, known, outcome)
        except Exception as error:  # a record's own failure, or one that stops the run (_reason raises)
            outcome.fail(record, self._reason(error))
            return None

    def _one(self, record: Record, known: dict[str, Any], outcome: Outcome) -> _Create | None:
        """Write one record that the system holds already; one to create is returned for the batch's create."""
        from app.errors import RecordError

        values = self._values(record)
        key = self._record_key(values)
        if not key:
            raise RecordError(f"key field(s) {', '.join(k for k in self.key if values.get(k) in (None, ''))} empty")
        current = self._found(values)
        if current is None and self.mode == "update":
            raise RecordError(f"no {self.model} found with {self._describe(values)} to update")
        if current is not None and self.mode == "insert":
            raise RecordError(f"a {self.model} with {self._describe(values)} exists already")
        key_values = {k: values.get(k) for k in self.key}
        if current is None:
            change = {"outcome": "inserted", "key": key_values, "before": None, "after": dict(values)}
            return _Create(record, key, values, change)
        sent = {k: v for k, v in values.items() if k not in self.create_only}
        changed = {k: v for k, v in sent.items() if not same_as_held(v, current.get(k))}
        kept = known.get(key)
        was_sent = kept is not None and kept.state == "sending"  # an earlier run's create arrived
        if not changed:
            kind = "inserted" if was_sent else "unchanged"
            self._report(outcome, {"outcome": kind, "key": key_values, "before": {}, "after": {}})
            outcome.count(kind)
            self._keep(record, key, kind, current["id"], outcome, accepted=was_sent)
            return None
        kind = "inserted" if was_sent else "updated"
        self._report(
            outcome,
            {"outcome": kind, "key": key_values, "before": {k: current.get(k) for k in changed}, "after": changed},
        )
        if not self.context.dry_run:
            self.connector.write(self.model, [current["id"]], changed)
        outcome.count(kind)
        self._keep(record, key, kind, current["id"], outcome, accepted=True)
        return None

    def _create_all(self, creates: list[_Create], known: dict[str, Any], outcome: Outcome) -> None:
        """One create call for the batch's new records; one by one when it is refused or its answer lost."""
        from app.connectors.jsonrpc import CallRefused
        from app.errors import TransientError

        for planned in creates:
            self._report(outcome, planned.change)
        if self.context.dry_run:
            outcome.count("inserted", len(creates))
            return
        for planned in creates:
            self.context.outcomes.sending(planned.key, known.get(planned.key))
        try:
            ids = self.connector.create(self.model, [p.values for p in creates])
        except (CallRefused, TransientError):
            for planned in creates:
                self._create_alone(planned, outcome)
            return
        for planned, target_id in zip(creates, ids):
            outcome.count("inserted")
            self._keep(planned.record, planned.key, "inserted", target_id, outcome, accepted=True)

    def _create_alone(self, planned: _Create, outcome: Outcome) -> None:
        def attempt() -> int:
            found = self._found(planned.values)  # its create may have arrived though the answer did not
            if found is not None:
                return int(found["id"])
            [made] = self.connector.create(self.model, [planned.values])
            return int(made)

        try:
            target_id = self.connector.http.retrying(attempt)
        except Exception as error:
            outcome.fail(planned.record, self._reason(error))
            return
        self.down_in_a_row = 0
        outcome.count("inserted")
        self._keep(planned.record, planned.key, "inserted", target_id, outcome, accepted=True)

    # --- parts -------------------------------------------------------------------------------------

    def _values(self, record: Record) -> dict[str, Any]:
        record = without_meta(record)
        if self.fields:
            wanted = list(dict.fromkeys([*self.key, *self.fields]))
            return {k: record[k] for k in wanted if k in record}
        return dict(record)

    def _found(self, values: dict[str, Any]) -> dict[str, Any] | None:
        from app.errors import RecordError

        [evaluated] = self.find.evaluate([values])
        if evaluated.error:
            raise RecordError(f"find: {evaluated.error}")
        domain = evaluated.values["domain"]
        if not isinstance(domain, (list, tuple)):
            raise RecordError(f"find: the domain is not a list but {type(domain).__name__}")
        fields = [k for k in values if k not in self.create_only]
        found = self.connector.search_read(self.model, as_domain(domain), ["id", *fields], limit=2)
        if len(found) > 1:
            raise RecordError(f"2 or more {self.model} records match {self._describe(values)}; the find must match one")
        return found[0] if found else None

    def _keep(self, record: Record, key: str, kind: str, target_id: Any, outcome: Outcome, *, accepted: bool) -> None:
        if self.context.dry_run:
            return
        link = self._link(record, target_id)
        links = [(self.link["entity"], link)] if link and self.link else []
        if accepted:
            self.context.outcomes.accepted(key, kind, id_text(target_id), links)
        elif links:
            self.context.sync.save_links(links[0][0], [links[0][1]])

    def _link(self, record: Record, target_id: Any) -> LinkUpdate | None:
        if not self.link or target_id is None or record.get(self.link["source_id"]) in (None, ""):
            return None
        return LinkUpdate(
            self.link["source"],
            id_text(record[self.link["source_id"]]),
            self.link.get("target") or self.config["connection"],
            id_text(target_id),
        )

    def _report(self, outcome: Outcome, change: dict[str, Any]) -> None:
        if self.context.dry_run or self.reported < self.context.keep_changes:
            outcome.changes.append(change)
            self.reported += 1

    def _reason(self, error: Exception) -> str:
        """Why one record failed; raises ConnectorError when no record would get through (the login
        refused, a model or method the system lacks, the system down for several records)."""
        from app.connectors.jsonrpc import CallRefused
        from app.errors import ConnectorError, RecordError, TransientError

        if isinstance(error, TransientError):
            self.down_in_a_row += 1
            reason = f"gave up after {self.connector.attempts} attempts: {error}"
            if self.down_in_a_row >= MAX_DOWN_IN_A_ROW:
                raise ConnectorError(
                    f"{reason}; {self.down_in_a_row} records in a row failed like this, so the run stops "
                    "(the records not written yet are read again next run)"
                ) from None
            return reason
        if not isinstance(error, (RecordError, ConnectorError)):
            raise error  # not one of a record's failures: a defect, never hidden as a refusal
        if getattr(error, "every_record", False) or (isinstance(error, CallRefused) and _lacking(error)):
            raise ConnectorError(f"{error} (every record would go the same way, so the run stops)") from None
        self.down_in_a_row = 0
        return str(error)

    def _record_key(self, values: dict[str, Any]) -> str:
        found = [values.get(k) for k in self.key]
        if any(v in (None, "") for v in found):
            return ""
        return "&".join(f"{k}={id_text(v)}" for k, v in zip(self.key, found))[:255]

    def _describe(self, values: dict[str, Any]) -> str:
        return ", ".join(f"{k}={values.get(k)!r}" for k in self.key)


def _lacking(error: Exception) -> bool:
    """The system lacks the model, a field or the method (connectors/jsonrpc.py words them so)."""
    reason = str(getattr(error, "reason", ""))
    said = str(error)
    return "does not know" in said or "no such method" in said or "Method not found" in reason


NODE_TYPE = NodeType(
    type="write.jsonrpc",
    family="write",
    title="Write to a JSON-RPC ERP",
    description="Creates or updates records of a model (Tryton, Odoo) by key, found first by a domain; new records of a "
    "batch in one create call; records equal to what the ERP holds are not written.",
    config_schema=CONFIG_SCHEMA,
    build=WriteJsonRpc,
    outputs=(),
    write_key=record_key_fields,
)
