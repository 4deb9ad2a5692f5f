"""Writing records into one SQL table: insert, update or upsert by key, one outcome per record.

A batch is compared with what the target already holds (one SELECT per batch), so a record equal to
the stored row is `unchanged` and not written. The batch is written in one transaction; if the
database refuses it (a constraint, a bad value), the batch is written again one record at a time
inside savepoints, so only the records the database refuses fail, each with the database's reason.
A record may carry child rows (an order's lines): parent and children are written as one unit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from app.connectors.sql import SqlConnector, classify, plain_value
from app.errors import ConnectorError, RecordError

INSERTED, UPDATED, UNCHANGED, FAILED = "inserted", "updated", "unchanged", "failed"
_OUTCOME_OF_ACTION = {"insert": INSERTED, "update": UPDATED, "unchanged": UNCHANGED}


@dataclass
class WriteResult:
    """What happened to one record: its outcome, why it failed, and the fields it changed."""

    outcome: str
    reason: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    key: dict[str, Any] | None = None


@dataclass(frozen=True)
class ChildSpec:
    """Child rows carried in a record field, e.g. `lines` -> table sales_order_lines."""

    field: str
    table: str
    key: tuple[str, ...]
    link: dict[str, str]  # child column -> parent column, e.g. {"order_number": "order_number"}


def same_value(a: Any, b: Any) -> bool:
    """Equal as a user would judge it: 12.3 == Decimal('12.30'), a datetime == its ISO text."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return float(a) == float(b)
    return _text(a) == _text(b)


def _text(value: Any) -> str:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat().replace("T", " ")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def key_of(record: dict[str, Any], key: Iterable[str]) -> tuple:
    """A key as text, so 42, 42.0 and '42' find the same row."""
    return tuple(_text(record.get(k)) for k in key)


@dataclass
class _Planned:
    index: int
    record: dict[str, Any]
    action: str  # insert / update / unchanged
    values: dict[str, Any]
    children: list[tuple[ChildSpec, list[dict[str, Any]]]] = field(default_factory=list)
    before: dict[str, Any] | None = None


class SqlTableWriter:
    """Writes batches into one table of one connection."""

    def __init__(self, connector: SqlConnector, table: str, key: list[str], mode: str = "upsert",
                 children: list[ChildSpec] | None = None, columns: list[str] | None = None) -> None:
        self.connector = connector
        self.table = connector.table(table)
        self.table_name = table
        self.key = list(key)
        self.mode = mode
        self.children = children or []
        self.only_columns = columns
        self.column_names = {c.name for c in self.table.columns}
        self._check_columns(self.table_name, self.key, self.column_names, "key")
        self._child_tables = {c.field: connector.table(c.table) for c in self.children}
        for child in self.children:
            names = {c.name for c in self._child_tables[child.field].columns}
            self._check_columns(child.table, list(child.key) + list(child.link), names, "child")
            self._check_columns(table, list(child.link.values()), self.column_names, "link")

    def _check_columns(self, table: str, wanted: list[str], present: set[str], what: str) -> None:
        missing = [c for c in wanted if c not in present]
        if missing:
            raise ConnectorError(f"{self.connector.where}: table '{table}' has no column(s) {', '.join(missing)} "
                                 f"(named as {what} fields)")

    # --- planning: what each record would do ------------------------------------------------------

    def plan(self, records: list[dict[str, Any]]) -> tuple[list[_Planned], dict[int, WriteResult]]:
        """Compare a batch with the target; the writes to make, and the records failed already."""
        failed: dict[int, WriteResult] = {}
        candidates: list[tuple[int, dict[str, Any], dict[str, Any], list]] = []
        for index, record in enumerate(records):
            try:
                values, children = self._split(record)
            except RecordError as error:
                failed[index] = WriteResult(FAILED, str(error))
                continue
            if self.mode != "insert":
                empty = [k for k in self.key if values.get(k) in (None, "")]
                if empty:
                    failed[index] = WriteResult(FAILED, f"key field(s) {', '.join(empty)} empty")
                    continue
            candidates.append((index, record, values, children))
        existing = self._existing([c[2] for c in candidates]) if self.mode != "insert" else {}
        planned: list[_Planned] = []
        for index, record, values, children in candidates:
            current = existing.get(key_of(values, self.key)) if self.mode != "insert" else None
            if current is None:
                if self.mode == "update":
                    failed[index] = WriteResult(FAILED, f"no row in {self.table_name} with "
                                                        f"{self._describe_key(values)} to update")
                    continue
                planned.append(_Planned(index, record, "insert", values, children))
                existing[key_of(values, self.key)] = values  # a later duplicate in the batch updates it
                continue
            changed = {k: v for k, v in values.items() if not same_value(v, current.get(k))}
            action = "update" if changed or self._children_differ(children) else "unchanged"
            planned.append(_Planned(index, record, action, changed, children,
                                    before={k: current.get(k) for k in changed}))
            existing[key_of(values, self.key)] = {**current, **values}
        return planned, failed

    def _describe_key(self, values: dict[str, Any]) -> str:
        return ", ".join(f"{k}={values.get(k)!r}" for k in self.key)

    def _split(self, record: dict[str, Any]) -> tuple[dict[str, Any], list]:
        children = []
        for child in self.children:
            rows = record.get(child.field) or []
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise RecordError(f"field '{child.field}' must be a list of records")
            children.append((child, rows))
        child_fields = {c.field for c in self.children}
        values = {k: v for k, v in record.items() if k not in child_fields
                  and (self.only_columns is None or k in self.only_columns)}
        unknown = sorted(k for k in values if k not in self.column_names)
        if unknown:
            raise RecordError(f"table {self.table_name} has no column(s) {', '.join(unknown)}")
        bad = [k for k, v in values.items() if isinstance(v, (dict, list))]
        if bad:
            raise RecordError(f"field(s) {', '.join(bad)} hold a list or object, which a column cannot store")
        return values, children

    def _children_differ(self, children: list) -> bool:
        # Children are compared when written; a parent with children is always re-checked.
        return any(rows for _, rows in children)

    def _existing(self, values: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
        keys = sorted({tuple(v.get(k) for k in self.key) for v in values}, key=repr)
        if not keys:
            return {}
        rows = self.connector.lookup(self.table_name, self.key, keys)
        return {key_of(row, self.key): row for row in rows}

    # --- writing ------------------------------------------------------------------------------------

    def write(self, records: list[dict[str, Any]], dry_run: bool = False) -> list[WriteResult]:
        """Write a batch; one WriteResult per record, in order. Transient faults raise."""
        planned, failed = self.plan(records)
        results: dict[int, WriteResult] = dict(failed)
        if dry_run:
            for p in planned:
                results[p.index] = self._result_for(p)
            return [results[i] for i in range(len(records))]
        try:
            with self.connector.engine.connect() as conn:
                try:
                    with conn.begin():
                        for p in planned:
                            results[p.index] = self._apply(conn, p) if p.children else self._result_for(p)
                        self._apply_plain(conn, [p for p in planned if not p.children])
                except (exc.IntegrityError, exc.DataError, exc.StatementError, RecordError) as error:
                    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
                        raise
                    results.update(self._one_by_one(conn, planned))
        except ConnectorError:
            raise
        except Exception as error:
            raise classify(error, self.connector.where) from None
        return [results[i] for i in range(len(records))]

    def _result_for(self, p: _Planned) -> WriteResult:
        return WriteResult(_OUTCOME_OF_ACTION[p.action], before=p.before,
                           after=p.values if p.action != "unchanged" else None,
                           key={k: p.record.get(k) for k in self.key})

    def _apply_plain(self, conn: sa.Connection, planned: list[_Planned]) -> None:
        inserts = [p.values for p in planned if p.action == "insert"]
        for group in _by_shape(inserts):
            conn.execute(sa.insert(self.table), group)
        updates = [p for p in planned if p.action == "update"]
        for shape, group in _by_shape_keyed(updates, self.key):
            statement = (sa.update(self.table)
                         .where(*(self.table.c[k] == sa.bindparam(f"k_{k}") for k in self.key))
                         .values({c: sa.bindparam(f"v_{c}") for c in shape}))
            conn.execute(statement, group)

    def _one_by_one(self, conn: sa.Connection, planned: list[_Planned]) -> dict[int, WriteResult]:
        """After the database refused a batch: each record in its own savepoint."""
        results: dict[int, WriteResult] = {}
        with conn.begin():
            for p in planned:
                try:
                    with conn.begin_nested():
                        if p.children:
                            results[p.index] = self._apply(conn, p)
                        else:
                            self._apply_plain(conn, [p])
                            results[p.index] = self._result_for(p)
                except (exc.IntegrityError, exc.DataError, exc.StatementError, RecordError) as error:
                    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
                        raise
                    results[p.index] = WriteResult(FAILED, refusal_reason(error, self.table_name))
        return results

    def _apply(self, conn: sa.Connection, p: _Planned) -> WriteResult:
        """A parent and its children, inside the caller's transaction or savepoint."""
        if p.action == "insert":
            result = conn.execute(sa.insert(self.table).values(p.values))
            parent = {**p.values, **dict(zip([c.name for c in self.table.primary_key.columns],
                                              result.inserted_primary_key or ()))}
        else:
            if p.action == "update" and p.values:
                key = {k: p.record.get(k) for k in self.key}
                conn.execute(sa.update(self.table).where(*(self.table.c[k] == v for k, v in key.items()))
                             .values(p.values))
            parent = self._parent_row(conn, p.record)
        child_changed = False
        for child, rows in p.children:
            child_changed |= self._write_children(conn, child, rows, parent)
        if p.action == "insert":
            return self._result_for(p)
        if p.values or child_changed:
            return WriteResult(UPDATED, before=p.before, after=p.values, key={k: p.record.get(k) for k in self.key})
        return WriteResult(UNCHANGED, key={k: p.record.get(k) for k in self.key})

    def _parent_row(self, conn: sa.Connection, record: dict[str, Any]) -> dict[str, Any]:
        row = conn.execute(sa.select(self.table).where(
            *(self.table.c[k] == record.get(k) for k in self.key))).mappings().first()
        return {k: plain_value(v) for k, v in (row or {}).items()}

    def _write_children(self, conn: sa.Connection, child: ChildSpec, rows: list[dict[str, Any]],
                        parent: dict[str, Any]) -> bool:
        table = self._child_tables[child.field]
        names = {c.name for c in table.columns}
        changed = False
        linked = [{**row, **{c: parent.get(p) for c, p in child.link.items()}} for row in rows]
        for row in linked:
            unknown = sorted(k for k in row if k not in names)
            if unknown:
                raise RecordError(f"child table {child.table} has no column(s) {', '.join(unknown)}")
        keys = [tuple(r.get(k) for k in child.key) for r in linked]
        current = {}
        if keys:
            condition = sa.tuple_(*(table.c[k] for k in child.key)).in_(keys) if len(child.key) > 1 \
                else table.c[child.key[0]].in_([k[0] for k in keys])
            current = {key_of(dict(r), child.key): dict(r)
                       for r in conn.execute(sa.select(table).where(condition)).mappings()}
        for row in linked:
            existing = current.get(key_of(row, child.key))
            if existing is None:
                conn.execute(sa.insert(table).values(row))
                changed = True
                continue
            diff = {k: v for k, v in row.items() if not same_value(v, existing.get(k))}
            if diff:
                conn.execute(sa.update(table).where(*(table.c[k] == row[k] for k in child.key)).values(diff))
                changed = True
        return changed


def _by_shape(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[tuple, list] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return list(groups.values())


def _by_shape_keyed(planned: list[_Planned], key: list[str]) -> list[tuple[tuple, list[dict]]]:
    groups: dict[tuple, list] = {}
    for p in planned:
        shape = tuple(sorted(p.values))
        params = {f"v_{c}": p.values[c] for c in shape}
        params.update({f"k_{k}": p.record.get(k) for k in key})
        groups.setdefault(shape, []).append(params)
    return list(groups.items())


def refusal_reason(error: Exception, table: str) -> str:
    """The database's own words for why it refused a record, on one line."""
    if isinstance(error, RecordError):
        return str(error)
    original = getattr(error, "orig", None) or error
    text = " ".join(str(original).split())
    return f"{table} refused the record: {text[:500]}"
