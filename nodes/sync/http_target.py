"""A two-way sync's target when it is an API (write.http with `sync`).

The sync mechanism (nodes/sync/synced_write.py) decides what to write, as for a table; this finds and
writes the API's records with write.http's own calls:
- a linked record is read at its address (`update.path`, or `path` for PUT and PATCH writes),
  filled with the id the link keeps: /customers/{customer_number};
- a record never linked is looked for by the write's `find` (its key), then by the match rules
  (a search of `find.path` by each rule's fields);
- a changed record is sent only the fields the sync decided to change (PATCH), or all the fields
  the flow sends with the target's kept values (PUT); a new one is created (POST, or PUT).

An API cannot roll back, so each create is kept as being sent before its call and as accepted —
with its link and both sides' values — the moment the API says yes (app/store/write_outcomes.py):
a stop loses no link, and a record whose create may have landed is found by its key, never made
twice.
"""

from __future__ import annotations

import string
from typing import Any

from app.errors import FlowbridgeError
from nodes.api_write_parts import GaveUp, Sending, same_as_held
from nodes.base import id_text

FAILURES = (FlowbridgeError, GaveUp)  # what a call or look-up raises for one record, or for the run


def address_fields(template: str) -> set[str]:
    """The {field} placeholders of an address template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class HttpSyncTarget:
    def __init__(self, writer: Any, sync: dict[str, Any]) -> None:
        self.writer = writer  # the write.http node: its calls, look-ups and error handling
        config = writer.config
        self.connector = writer.connector
        self.system: str = config["connection"]
        self.label: str = config["path"]
        self.id_field: str = sync.get("target_id") or config["id_field"]
        self.key: list[str] = list(writer.key)
        self.entity, self.source = sync["entity"], sync["source"]
        self.source_updated = sync.get("source_updated")
        self.fields = set(config.get("fields") or [])
        self.posts = config.get("method", "PUT") == "POST"
        # The record's own address: where it is read by its id and changed.
        self.address = config["update"]["path"] if self.posts else config["path"]
        self.update_method = config["update"].get("method", "PATCH") if self.posts else config.get("method", "PUT")
        self.mode = config.get("mode", "upsert")
        self.found: dict[str, dict[str, Any]] = {}  # rows this batch found by key or match, by id
        self.known: dict[str, Any] = {}  # this batch's kept outcomes, by record key

    def has_field(self, name: str) -> bool:
        """Whether a field is sent to the API: the `fields` the write names (with its key and id),
        else every field but the source's change time, which is only there to decide conflicts."""
        if self.fields:
            return name in self.fields or name in self.key or name == self.id_field
        return name != self.source_updated

    # --- finding ---------------------------------------------------------------------------------

    def find_by_key(self, values: list[dict[str, Any]]) -> list[dict[str, Any] | str | None]:
        from app.connectors.rest import fill

        found: list[dict[str, Any] | str | None] = []
        for value in values:
            try:
                row = self.writer._find(value)[0] if self.posts else self.writer._get(fill(self.label, value, "path"))
            except FAILURES as error:  # the record's own failure, or the run's (raised)
                found.append(self.writer.failure_reason(error))
                continue
            if row is not None and row.get(self.id_field) not in (None, ""):
                self.found[id_text(row[self.id_field])] = row
            found.append(row)
        return found

    def rows_by_id(self, ids: list[str]) -> dict[str, dict[str, Any] | str]:
        rows: dict[str, dict[str, Any] | str] = {}
        for target_id in ids:
            row = self.found.get(target_id)
            if row is None:
                try:
                    row = self.writer._get(self._address_of(target_id, {}))
                except FAILURES as error:  # this record waits (or, the API down, the run stops)
                    rows[target_id] = self.writer.failure_reason(error)
                    continue
            if row is not None:
                rows[target_id] = row
        return rows

    def match_rows(
        self, rules: list[dict[str, Any]], rule: dict[str, Any], keys: list[tuple], normalise: Any
    ) -> tuple[list[dict[str, Any]], dict[tuple, str]]:
        """The API's records with a rule's fields, one search per key: GET find.path?email=…"""
        path = self.writer.config["find"]["path"]
        rows: list[dict[str, Any]] = []
        unsearched: dict[tuple, str] = {}
        for key in keys:
            try:
                found = self.writer.search(path, dict(zip(rule["columns"], key)))
            except FAILURES as error:
                unsearched[key] = self.writer.failure_reason(error)
                continue
            rows += [row for row in found if isinstance(row, dict) and row.get(self.id_field) not in (None, "")]
        for row in rows:
            self.found[id_text(row[self.id_field])] = row
        return rows, unsearched

    def _address_of(self, target_id: str, values: dict[str, Any]) -> str:
        from app.connectors.rest import fill

        return fill(self.address, {**values, self.id_field: target_id}, "address of a record by its id")

    # --- writing ---------------------------------------------------------------------------------

    def write(self, items: list[Any], writes: list[dict[str, Any]], dry_run: bool, link_for: Any) -> list[Any]:
        from app.connectors.sql_write import WriteResult

        keys = [self.writer._record_key(item.values) for item in items]
        self.known = self.writer.context.outcomes.known([k for k in keys if k]) if self.posts else {}
        results = []
        for item, write, record_key in zip(items, writes, keys):
            body = {k: v for k, v in write.items() if self.has_field(k)}
            sent: list[bool] = []
            try:
                results.append(
                    self.connector.retrying(
                        lambda i=item, b=body, k=record_key, s=sent: self._write_one(i, b, k, s, dry_run, link_for)
                    )
                )
            except FAILURES as error:
                results.append(WriteResult("failed", self.writer.failure_reason(error)))
                continue
            self.writer.down_in_a_row = 0
        self.found = {}
        return results

    def _write_one(
        self, item: Any, body: dict[str, Any], record_key: str, sent: list[bool], dry_run: bool, link_for: Any
    ) -> Any:
        """One record's create or update; `sent` says an earlier attempt of this call sent it."""
        from app.connectors.sql_write import WriteResult
        from app.errors import RecordError

        kept = self.known.get(record_key)
        current = item.current
        if current is None and sent and self.posts:  # a retried create: did the first one land?
            current = self.writer._find(item.values)[0]
            if current is not None:
                item.target_id = id_text(current[self.id_field])
        if current is None:
            if self.mode == "update":
                raise RecordError(f"no record found with {self.writer._describe(item.values)} to update")
            if dry_run:
                return WriteResult("inserted", after=body, record=body, key_names=self.key)
            item.target_id = self._create(body, record_key, kept, sent)
            self._accepted(item, record_key, "inserted", link_for)
            return WriteResult("inserted", after=body, record=body, key_names=self.key)
        changed = {k: v for k, v in body.items() if k != self.id_field and not same_as_held(v, current.get(k))}
        # Found where an earlier run's create may have landed (its answer lost): that run made it.
        kind = (
            "inserted"
            if (sent or (kept is not None and kept.state == "sending"))
            else "updated"
            if changed
            else "unchanged"
        )
        before = {k: current.get(k) for k in changed}
        if not dry_run:
            if changed:
                payload = (
                    changed
                    if self.update_method == "PATCH"
                    else {
                        **{k: current.get(k) for k in item.values if self.has_field(k) and k != self.id_field},
                        **changed,
                    }
                )
                self.connector.send(
                    self.update_method,
                    self._address_of(item.target_id, {**current, **body}),
                    body=payload,
                    timeout=self.writer.timeout,
                )
            if kind != "unchanged":
                self._accepted(item, record_key, kind, link_for)
        return WriteResult(kind, before=before if changed else {}, after=changed, record=body, key_names=self.key)

    def _create(self, body: dict[str, Any], record_key: str, kept: Any, sent: list[bool]) -> str:
        """Create the record; the API's id for it. Kept as being sent before the call."""
        from app.connectors.rest import fill
        from app.errors import ConnectorError

        headers = None
        if self.posts:
            token = self.writer.context.outcomes.sending(record_key, kept) if record_key else None
            if token is not None:
                self.known[record_key] = Sending(token)
                if self.writer.idempotency_header:
                    headers = {self.writer.idempotency_header: token}
        sent.append(True)
        response = self.connector.send(
            "POST" if self.posts else "PUT",
            fill(self.label, body, "path"),
            body=body,
            timeout=self.writer.timeout,
            headers=headers,
        )
        written = self.writer._record_of(response) or {}
        target_id = written.get(self.id_field, body.get(self.id_field))
        if target_id in (None, "") and self.posts:  # an API answering a create without the record
            found = self.writer._find(body)[0]
            target_id = None if found is None else found.get(self.id_field)
        if target_id in (None, ""):
            raise ConnectorError(
                f"{self.connector.where}: the API made the record but gave no '{self.id_field}' "
                "for its link; set sync.target_id to the field holding its id"
            )
        return id_text(target_id)

    def _accepted(self, item: Any, record_key: str, outcome: str, link_for: Any) -> None:
        """The API took the record: its outcome and link (with both sides' values) kept at once."""
        if record_key:
            self.writer.context.outcomes.accepted(
                record_key, outcome, item.target_id, [(self.entity, link_for(item, item.target_id))]
            )

    def written(self, items: list[Any]) -> None:
        return None

    def set_where(self, ids: list[str], values: dict[str, Any], dry_run: bool) -> int:
        """Give the records whose source is gone the `deletions.set` values; how many needed it."""
        changed = 0
        for target_id in ids:
            current = self.connector.retrying(lambda t=target_id: self.writer._get(self._address_of(t, {})))
            if current is None or all(same_as_held(v, current.get(k)) for k, v in values.items()):
                continue
            changed += 1
            if not dry_run:
                payload = values if self.update_method == "PATCH" else {**current, **values}
                self.connector.retrying(
                    lambda t=target_id, c=current, p=payload: self.connector.send(
                        self.update_method, self._address_of(t, c), body=p, timeout=self.writer.timeout
                    )
                )
        return changed

    def close(self) -> None:
        return None
