"""Two-way sync for write.sql and write.http: links, matching, field ownership, conflicts and sync state.

For each record the target row is found by its link (the ID cross-reference), else by the write's
key, else by the match rules (same e-mail, same name and postcode); only then is a new row made.

Each field is written according to who owns it: the source, the target, or both. For a field both
own, the link remembers each side's value at the last sync (its "known" values): a side whose value
still equals the known one has not changed it since. So: only the source changed it, write; only
the target changed it, keep (the reverse flow carries it back); neither changed it (the two systems
just spell it differently, "CA" and "California"), keep; both changed it, the flow's conflict
policy decides (newest wins, one side wins, or hold for review in the conflict queue).

After a record is written, the source's known values become its row as read (filter.changed puts it
in the record's `_meta`), and the target's known values take the fields just synced. A row equal to
its known values has nothing new for the other side: that is how filter.changed tells the sync's
own echo from a real change, and why a change still pending in a system is never hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from nodes.base import META, LinkUpdate, NodeContext, Outcome, id_text

OWNERS = ("source", "target", "both")
_PLAIN = frozenset({str, int, float, bool, type(None)})
POLICIES = ("newest", "source", "target", "review")
NORMALISE = ("exact", "text", "email")

SYNC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Two-way sync",
    "additionalProperties": False,
    "required": ["entity", "source", "source_id"],
    "properties": {
        "entity": {
            "type": "string",
            "minLength": 1,
            "description": "What the records are, e.g. account; both directions of a sync use the same name.",
        },
        "source": {"type": "string", "minLength": 1, "description": "The system the records come from (crm)."},
        "source_id": {"type": "string", "minLength": 1, "description": "Record field holding the source's id."},
        "target_id": {
            "type": "string",
            "minLength": 1,
            "description": "Column or API field with the target's own "
            "id (default: the table's primary key; for an API, id_field).",
        },
        "owners": {
            "type": "object",
            "additionalProperties": {"enum": list(OWNERS)},
            "description": "Field -> who owns it: source (default), target, or both.",
        },
        "on_conflict": {"enum": list(POLICIES), "default": "newest"},
        "source_updated": {
            "type": "string",
            "minLength": 1,
            "description": "Record field with the source's last change time (for newest wins).",
        },
        "target_updated": {
            "type": "string",
            "minLength": 1,
            "description": "Target column with its last change time (for newest wins).",
        },
        "ignore": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "uniqueItems": True,
            "description": "Columns the systems change themselves (updated_at): not part of snapshots.",
        },
        "match": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["columns"],
                "properties": {
                    "columns": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
                    "normalise": {"enum": list(NORMALISE), "default": "text"},
                },
            },
            "description": "How to find an existing target row for a record never linked: e.g. same e-mail.",
        },
        "deletions": {
            "type": "object",
            "additionalProperties": False,
            "required": ["table", "key", "set"],
            "properties": {
                "connection": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Where the source rows live (default: the source).",
                },
                "table": {"type": "string", "minLength": 1},
                "key": {"type": "string", "minLength": 1},
                "set": {"type": "object", "minProperties": 1},
            },
            "description": "Deactivate target rows whose source row is gone: the source table and "
            "key to look in, and the columns to set (e.g. is_active: 0).",
        },
    },
}


@dataclass
class _Item:
    """One record on its way through a synced write."""

    index: int
    record: dict[str, Any]
    source_id: str
    values: dict[str, Any]
    target_id: str | None = None
    known_target: dict[str, Any] | None = None  # the target's field values at the last sync
    known_source: dict[str, Any] | None = None  # the source's field values at the last sync
    source_row: dict[str, Any] | None = None  # the source row as read (from filter.changed)
    current: dict[str, Any] | None = None  # the target row now
    final: dict[str, Any] | None = None  # the synced fields' values in the target after the write
    linked: bool = False
    found_by: str = ""  # link, key or match: how the target row was found (unreadable: it could not be)
    conflicts: list[dict[str, Any]] = field(default_factory=list)


class SyncFailure(Exception):
    """A record that cannot be synced (ambiguous match, duplicate); it fails with this reason."""


class SyncTarget(Protocol):
    """Where a synced write finds and writes rows: a database table (nodes/sync/sql_target.py) or
    an API (nodes/sync/http_target.py). The sync itself decides; the target only reads and writes."""

    system: str  # the target's name in the links: its connection
    label: str  # what its rows are called in messages: a table, an API's list
    id_field: str  # the field with the target's own id
    key: list[str]  # the write's key, e.g. crm_id (may be empty)

    def has_field(self, name: str) -> bool: ...

    def find_by_key(self, values: list[dict[str, Any]]) -> list[dict[str, Any] | str | None]:
        """Per record: the row holding its key, None, or why it cannot be told (a failure)."""

    def rows_by_id(self, ids: list[str]) -> dict[str, dict[str, Any] | str]:
        """The rows now held under these ids (absent: gone), or why one could not be read."""

    def match_rows(
        self, rules: list[dict[str, Any]], rule: dict[str, Any], keys: list[tuple], normalise: Any
    ) -> tuple[list[dict[str, Any]], dict[tuple, str]]:
        """The rows matching a rule's normalised keys, and the keys that could not be searched (why)."""

    def write(
        self,
        items: list[_Item],
        writes: list[dict[str, Any]],
        dry_run: bool,
        link_for: Callable[[_Item, str], LinkUpdate],
    ) -> list[Any]:
        """One outcome (.outcome, .reason, .key, .before, .after) per item; a new row's id goes in
        its item's target_id."""

    def written(self, items: list[_Item]) -> None:
        """The records this batch wrote (a target keeping an index of its rows adds them)."""

    def set_where(self, ids: list[str], values: dict[str, Any], dry_run: bool) -> int: ...

    def close(self) -> None: ...


class SyncedWrite:
    """A write with a `sync` section, to any SyncTarget: see the module docstring."""

    def __init__(self, sync: dict[str, Any], context: NodeContext, target: SyncTarget) -> None:
        self.context = context
        self.sync = sync
        self.entity, self.source = sync["entity"], sync["source"]
        self.target = target.system
        self.rows = target
        self.target_id = target.id_field
        self.key = target.key
        self.owners = sync.get("owners", {})
        self.policy = sync.get("on_conflict", "newest")
        self.ignore = set(sync.get("ignore", []))
        self.meta_fields = {f for f in (sync["source_id"], sync.get("source_updated")) if f and not target.has_field(f)}

    # --- finding each record's target row -----------------------------------------------------------

    def write(
        self, records: list[dict[str, Any]], dry_run: bool, details: bool | None = None
    ) -> list[tuple[str, str | None, dict | None]]:
        """One (outcome, reason, change) per record, in order."""
        results: dict[int, tuple[str, str | None, dict | None]] = {}
        items: list[_Item] = []
        for index, record in enumerate(records):
            raw_id = record.get(self.sync["source_id"])
            if raw_id in (None, ""):
                results[index] = ("failed", f"field '{self.sync['source_id']}' (the {self.source} id) is empty", None)
                continue
            values = {k: v for k, v in record.items() if k not in self.meta_fields and k != META}
            item = _Item(index, record, id_text(raw_id), values)
            origin = (record.get(META) or {}).get("sync") or {}
            if origin.get("system") == self.source:
                item.source_row = origin.get("row")
            items.append(item)
        self._find_targets(items, results)
        live = [i for i in items if i.index not in results]
        self._load_rows(live, results)
        live = [i for i in live if i.index not in results]
        outcomes = self.rows.write(live, [self._merge(item) for item in live], dry_run, self._link)
        conflicts = []
        for item, outcome in zip(live, outcomes):
            if outcome.outcome == "failed":
                results[item.index] = ("failed", outcome.reason, None)
                continue
            results[item.index] = (
                outcome.outcome,
                None,
                {"outcome": outcome.outcome, "key": outcome.key, "before": outcome.before, "after": outcome.after}
                if (dry_run if details is None else details)
                else None,
            )
            conflicts += item.conflicts
        if not dry_run:
            done = [i for i in live if results[i.index][0] != "failed" and i.target_id is not None]
            self.rows.written(done)
            self.context.sync.save_links(self.entity, [self._link(i, i.target_id or "") for i in done])
            self.context.sync.add_conflicts(conflicts)
        return [results[i] for i in range(len(records))]

    def _link(self, item: _Item, target_id: str) -> LinkUpdate:
        """The record's link with both sides' values as of this sync (see the module docstring)."""
        return LinkUpdate(
            self.source,
            item.source_id,
            self.target,
            target_id,
            own_snapshot=self._plain(item.source_row) if item.source_row is not None else None,
            other_snapshot=self._plain({**(item.known_target or {}), **(item.final or {})}),
        )

    def _find_targets(self, items: list[_Item], results: dict) -> None:
        links = self.context.sync.links(self.entity, self.source, [i.source_id for i in items], self.target)
        for item in items:
            link = links.get(item.source_id)
            if link:
                item.target_id, item.linked, item.found_by = link.other_id, True, "link"
                item.known_source, item.known_target = link.own_snapshot, link.other_snapshot
        unlinked = [i for i in items if not i.linked]
        if unlinked and self.key:
            self._find_by_key(unlinked, results)
        for rule in self.sync.get("match", []):
            remaining = [i for i in unlinked if i.target_id is None and i.found_by != "unreadable"]
            if remaining:
                self._find_by_rule(remaining, rule, results)
        self._refuse_taken_rows([i for i in unlinked if i.target_id is not None and i.index not in results], results)
        self._refuse_shared_rows([i for i in items if i.target_id is not None and i.index not in results], results)

    def _find_by_key(self, items: list[_Item], results: dict) -> None:
        wanted = [i for i in items if all(i.values.get(k) not in (None, "") for k in self.key)]
        for item, found in zip(wanted, self.rows.find_by_key([i.values for i in wanted])):
            if isinstance(found, str):  # the target could not be asked (an API giving up): it waits
                results[item.index] = ("failed", found, None)
                item.found_by = "unreadable"
            elif found is not None:
                item.target_id, item.found_by = id_text(found[self.target_id]), "key"

    def _find_by_rule(self, items: list[_Item], rule: dict[str, Any], results: dict) -> None:
        columns, how = rule["columns"], rule.get("normalise", "text")
        keyed = {}
        for item in items:
            key = tuple(_normalise(item.values.get(c), how) for c in columns)
            if all(part not in (None, "") for part in key):
                keyed.setdefault(key, []).append(item)
        if not keyed:
            return
        rows, unsearched = self.rows.match_rows(self.sync.get("match", []), rule, list(keyed), _normalise)
        for key, reason in unsearched.items():
            for item in keyed.pop(key, []):
                results[item.index] = ("failed", reason, None)
        by_key: dict[tuple, list[dict]] = {}
        for row in rows:
            by_key.setdefault(tuple(_normalise(row.get(c), how) for c in columns), []).append(row)
        label = self.rows.label
        for key, group in keyed.items():
            candidates = list({id_text(row[self.target_id]): row for row in by_key.get(key, [])}.values())
            where = ", ".join(f"{c} {v!r}" for c, v in zip(columns, key))
            if len(candidates) > 1:
                for item in group:
                    results[item.index] = (
                        "failed",
                        f"{len(candidates)} rows of {label} match {where}; link one by hand",
                        None,
                    )
                continue
            owner = self._key_owner(candidates[0], group[0]) if len(candidates) == 1 else None
            if owner is not None:  # the row's own key names another source record: it is that one's
                for item in group:
                    results[item.index] = (
                        "failed",
                        f"duplicate {self.entity}: {self.target} {label} row "
                        f"{candidates[0][self.target_id]} with {where} belongs to {self.source} "
                        f"{owner}",
                        None,
                    )
                continue
            if candidates:
                if len(group) > 1:  # two incoming records claim the same row: duplicates in the source
                    for item in group[1:]:
                        results[item.index] = (
                            "failed",
                            f"duplicate {self.entity}: {self.source} "
                            f"{group[0].source_id} and {item.source_id} both match {where}",
                            None,
                        )
                group[0].target_id, group[0].found_by = id_text(candidates[0][self.target_id]), "match"
            elif len(group) > 1:  # no row yet, but two incoming records are the same one
                for item in group[1:]:
                    results[item.index] = (
                        "failed",
                        f"duplicate {self.entity}: {self.source} "
                        f"{group[0].source_id} and {item.source_id} both have {where}",
                        None,
                    )

    def close(self) -> None:
        self.rows.close()

    def finish(self, dry_run: bool) -> Iterator[Outcome]:
        """After the last batch: the target rows deactivated because their source row is gone."""
        deactivated = self.deactivate_deleted(dry_run)
        if deactivated:
            outcome = Outcome()
            outcome.count("deactivated", deactivated)
            yield outcome

    def _key_owner(self, row: dict[str, Any], item: _Item) -> str | None:
        """Which other source record a matched row's key fields name, if any."""
        if not self.key:
            return None
        theirs = [row.get(k) for k in self.key]
        if all(v in (None, "") for v in theirs):
            return None  # a row made in the target itself: free to link
        from app.connectors.sql_write import same_value

        if all(same_value(row.get(k), item.values.get(k)) for k in self.key):
            return None
        return ", ".join(str(v) for v in theirs)

    def _refuse_taken_rows(self, items: list[_Item], results: dict) -> None:
        """A target row already linked to another source record means the source has a duplicate."""
        if not items:
            return
        owners = self.context.sync.links(
            self.entity, self.target, [i.target_id for i in items], self.source, snapshots="none"
        )
        for item in items:
            owner = owners.get(item.target_id)
            if owner and owner.other_id != item.source_id:
                results[item.index] = (
                    "failed",
                    f"duplicate {self.entity}: {self.target} {self.rows.label} row "
                    f"{item.target_id} is already linked to {self.source} {owner.other_id}",
                    None,
                )

    def _refuse_shared_rows(self, items: list[_Item], results: dict) -> None:
        """Two records of one batch found the same target row: the one found by its link or key
        keeps it, the other is a duplicate in the source."""
        rank = {"link": 0, "key": 1, "match": 2}
        by_row: dict[str, list[_Item]] = {}
        for item in items:
            by_row.setdefault(item.target_id, []).append(item)
        for target_id, group in by_row.items():
            if len(group) < 2:
                continue
            keeper, *others = sorted(group, key=lambda i: (rank.get(i.found_by, 3), i.index))
            for item in others:
                results[item.index] = (
                    "failed",
                    f"duplicate {self.entity}: {self.target} {self.rows.label} row "
                    f"{target_id} already belongs to {self.source} {keeper.source_id}",
                    None,
                )

    def _load_rows(self, items: list[_Item], results: dict) -> None:
        ids = [i.target_id for i in items if i.target_id is not None]
        rows = self.rows.rows_by_id(ids) if ids else {}
        for item in items:
            if item.target_id is not None:
                row = rows.get(item.target_id)
                if isinstance(row, str):  # could not be read (an API giving up): this record waits
                    results[item.index] = ("failed", row, None)
                    continue
                item.current = row
                if item.current is None:  # the linked row is gone from the target: make it again
                    item.target_id, item.known_target = None, None

    # --- deciding what to write -------------------------------------------------------------------

    def _merge(self, item: _Item) -> dict[str, Any]:
        """The values to write for one record, field by field according to ownership."""
        if item.current is None:  # a new row: every field, and its id only when the record names one
            write = {k: v for k, v in item.values.items() if k != self.target_id or v not in (None, "")}
            item.final = {k: v for k, v in write.items() if self.rows.has_field(k) and k not in self.ignore}
            return write
        from app.connectors.sql_write import same_value

        write: dict[str, Any] = {self.target_id: item.current[self.target_id]}
        final: dict[str, Any] = {}
        for name, incoming in item.values.items():
            if name == self.target_id or not self.rows.has_field(name):
                write.setdefault(name, incoming)  # unknown columns: the writer fails the record, saying why
                continue
            current = item.current.get(name)
            if same_value(incoming, current):
                agreed = True
            elif self._takes_incoming(item, name, incoming, current):
                write[name] = incoming
                agreed = True
            else:  # the target keeps its own, different value: the sides don't agree on it yet
                agreed = False
            # Only values both sides now hold become the target's known values; a kept, differing
            # value stays "changed since the last sync", so the reverse flow carries it across.
            if agreed and name not in self.ignore:
                final[name] = incoming
        item.final = final
        return write

    def _takes_incoming(self, item: _Item, name: str, incoming: Any, current: Any) -> bool:
        """Whether the target takes the source's differing value for one field."""
        owner = self.owners.get(name, "source")
        if owner != "both":
            return owner == "source"
        source_changed = _changed(item.source_row, item.known_source, name)
        target_changed = _changed(item.current, item.known_target, name)
        if source_changed and target_changed:
            return self._source_wins(item, name, incoming, current)
        return source_changed  # only the source: take it; only the target, or neither: keep

    def _source_wins(self, item: _Item, name: str, incoming: Any, current: Any) -> bool:
        """Both sides changed the field since the last sync: the flow's policy decides."""
        if self.policy == "source":
            return True
        if self.policy == "target":
            return False
        if self.policy == "newest":
            ours = item.record.get(self.sync.get("source_updated") or "")
            theirs = item.current.get(self.sync.get("target_updated") or "")
            if ours is not None and theirs is not None:
                return str(ours) > str(theirs)
            return True  # no times to compare: the change arriving now wins
        item.conflicts.append(
            {
                "entity": self.entity,
                "field": name,
                "source_system": self.source,
                "source_id": item.source_id,
                "source_value": _json_value(incoming),
                "target_system": self.target,
                "target_id": item.target_id,
                "target_value": _json_value(current),
            }
        )
        return False

    def deactivate_deleted(self, dry_run: bool) -> int:
        """Target rows whose source row is gone get the `deletions.set` values (never a hard delete).

        Checked once per run, after the writes: every linked source id is looked for in the source
        table, a chunk at a time. Returns how many target rows it changed (or would change)."""
        rule = self.sync.get("deletions")
        if not rule:
            return 0
        links = self.context.sync.all_links(self.entity, self.source, self.target)
        if not links:
            return 0
        source = self.context.connection(rule.get("connection") or self.source)
        if not hasattr(source, "lookup"):
            from app.errors import ConnectorError

            raise ConnectorError(
                f"sync.deletions: connection '{rule.get('connection') or self.source}' is not a "
                "database; deletions are found by looking the linked ids up in a source table"
            )
        ids = list(links)
        gone: list[str] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            present = {
                id_text(r[rule["key"]])
                for r in source.lookup(rule["table"], [rule["key"]], [(x,) for x in chunk], [rule["key"]])
            }
            gone += [links[x] for x in chunk if x not in present]
        return self.rows.set_where(gone, rule["set"], dry_run) if gone else 0

    def _plain(self, row: dict[str, Any]) -> dict[str, Any]:
        """A row as the link keeps it: JSON values, without the fields the systems stamp themselves."""
        from app.connectors.sql.values import plain_value

        kept = {k: v for k, v in row.items() if k not in self.ignore and k != META}
        if _PLAIN.issuperset(map(type, kept.values())):
            return kept
        return {k: plain_value(v) for k, v in kept.items()}


def _changed(row: dict[str, Any] | None, known: dict[str, Any] | None, name: str) -> bool:
    """Did this side change the field since the last sync? Unknown counts as changed."""
    if row is None or known is None or name not in known or name not in row:
        return True
    from app.connectors.sql_write import same_value

    return not same_value(row.get(name), known.get(name))


def _normalise(value: Any, how: str) -> Any:
    if value is None:
        return None
    if how == "exact":
        return value
    return str(value).strip().lower()  # as SQL's lower(trim(...)) does, so both sides agree


def _json_value(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def as_outcome(records: list[dict[str, Any]], results: list[tuple[str, str | None, dict | None]]) -> Outcome:
    """A batch's Outcome from its (outcome, reason, change) per record, as the write nodes report it."""
    outcome = Outcome()
    for record, (kind, reason, change) in zip(records, results):
        if kind == "failed":
            outcome.fail(record, reason or "refused")
            continue
        outcome.count(kind)
        if change:
            outcome.changes.append(change)
    return outcome
