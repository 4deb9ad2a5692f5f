"""Writing records into one SQL table: insert, update or upsert by key, one outcome per record.

A batch is compared with what the target already holds (one SELECT per batch), so a record equal to
the stored row is `unchanged` and not written. The batch is written in one transaction; if the
database refuses it (a constraint, a bad value), the batch is written again one record at a time
inside savepoints, so only the records the database refuses fail, each with the database's reason.
A transient fault (lock timeout, lost connection) is raised instead, for the caller to retry.
A record may carry child rows (an order's lines): parent and children are written as one unit.
Values are taken as their columns' types first ('42' for an INTEGER, ISO text for a DATETIME), so
the same record behaves alike on SQLite, PostgreSQL and MySQL/MariaDB.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc

from app.connectors.sql.connector import SqlConnector
from app.connectors.sql.engine import WRITING
from app.connectors.sql.errors import classify, driver_message, is_transient
from app.connectors.sql.values import accepted_types, coerce, plain_value
from app.errors import ConnectorError, RecordError

INSERTED, UPDATED, UNCHANGED, FAILED = "inserted", "updated", "unchanged", "failed"
_PLAIN_TYPES = frozenset({str, int, float, type(None)})  # what sqlite3 stores as is (bool is not here)
_OUTCOME_OF_ACTION = {"insert": INSERTED, "update": UPDATED, "unchanged": UNCHANGED}


class WriteResult:
    """What happened to one record: its outcome, why it failed, and the fields it changed.

    `after` and `key` are built when read: most runs never look at them, and building them for
    every record costs more than the write itself."""

    __slots__ = ("outcome", "reason", "before", "_after", "_record", "_key_names", "inserted_key")

    def __init__(
        self,
        outcome: str,
        reason: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        record: dict[str, Any] | None = None,
        key_names: list[str] | None = None,
    ) -> None:
        self.outcome, self.reason, self.before = outcome, reason, before
        self._after, self._record, self._key_names = after, record, key_names
        self.inserted_key: dict[str, Any] | None = None  # the primary key the database gave a new row

    @property
    def after(self) -> dict[str, Any] | None:
        return None if self._after is None else {k: plain_value(v) for k, v in self._after.items()}

    @property
    def key(self) -> dict[str, Any] | None:
        if self._record is None or self._key_names is None:
            return None
        return {k: self._record.get(k) for k in self._key_names}

    def __repr__(self) -> str:
        return f"WriteResult({self.outcome!r}, reason={self.reason!r}, before={self.before!r}, after={self.after!r})"


@dataclass(frozen=True)
class ChildSpec:
    """Child rows carried in a record field, e.g. `lines` -> table sales_order_lines.

    `key` names a child row among its parent's children; the children of a parent are the rows
    whose `link` columns hold the parent's values, so `key` need not be unique across parents.
    """

    field: str
    table: str
    key: tuple[str, ...]
    link: dict[str, str]  # child column -> parent column, e.g. {"order_number": "order_number"}


def same_value(a: Any, b: Any) -> bool:
    """Equal as a user would judge it: 12.3 == Decimal('12.30'), a datetime == its ISO text."""
    if a is None or b is None:
        return a is None and b is None
    if (
        isinstance(a, (int, float, Decimal))
        and isinstance(b, (int, float, Decimal))
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    ):
        return float(a) == float(b)
    return _text(a) == _text(b)


def _text(value: Any) -> str:
    if value.__class__ in (str, int):  # most keys: nothing to normalise
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat().replace("T", " ")
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class _Ambiguous(dict):
    """In place of a target row: the key found this many rows."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count


def key_of(record: dict[str, Any], key: list[str] | tuple[str, ...]) -> tuple:
    """A key as text, so 42, 42.0, Decimal('42.00') and '42' find the same row."""
    if len(key) == 1:  # most keys are one column; skip the generator
        return (_text(record.get(key[0])),)
    return tuple(_text(record.get(k)) for k in key)


@dataclass
class _Planned:
    index: int
    record: dict[str, Any]
    action: str  # insert / update / unchanged
    values: dict[str, Any]  # insert: every field; update: the changed fields (typed for the columns)
    key: dict[str, Any]  # the key fields, typed for the columns
    children: list[tuple[ChildSpec, list[dict[str, Any]]]] = field(default_factory=list)
    before: dict[str, Any] | None = None
    needs_id: bool = False  # inserted one by one, to learn the id the database gives it


class SqlTableWriter:
    """Writes batches into one table of one connection."""

    def __init__(
        self,
        connector: SqlConnector,
        table: str,
        key: list[str],
        mode: str = "upsert",
        children: list[ChildSpec] | None = None,
        columns: list[str] | None = None,
        insert_without_key: bool = False,
    ) -> None:
        # insert_without_key: in upsert mode a record with no key is a new row whose key the
        # database assigns (an autoincrement id); its WriteResult carries that key.
        self.insert_without_key = insert_without_key
        self.connector = connector
        self.table = connector.table(table)
        self.table_name = table
        self.key = list(key)
        self.mode = mode
        self.children = children or []
        self.only_columns = None if columns is None else set(columns) | set(self.key)
        self.columns = {c.name: c for c in self.table.columns}
        self.column_names = set(self.columns)
        self._check_columns(self.table_name, self.key, self.column_names, "key")
        self._child_tables = {c.field: connector.table(c.table) for c in self.children}
        self._typed = TypedColumns(self.table, table, "table")
        self._plain_inserts: dict[tuple[str, ...], str] = {}
        self._child_typed = {
            c.field: TypedColumns(self._child_tables[c.field], c.table, "child table") for c in self.children
        }
        self._child_fields = {c.field for c in self.children}
        for child in self.children:
            names = {c.name for c in self._child_tables[child.field].columns}
            self._check_columns(child.table, list(child.key) + list(child.link), names, "child")
            self._check_columns(table, list(child.link.values()), self.column_names, "link")

    def _check_columns(self, table: str, wanted: list[str], present: set[str], what: str) -> None:
        missing = [c for c in wanted if c not in present]
        if missing:
            raise ConnectorError(
                f"{self.connector.where}: table '{table}' has no column(s) {', '.join(missing)} "
                f"(named as {what} fields)"
            )

    # --- planning: what each record would do ------------------------------------------------------

    def plan(self, records: list[dict[str, Any]]) -> tuple[list[_Planned], dict[int, WriteResult]]:
        """Compare a batch with the target; the writes to make, and the records failed already."""
        failed: dict[int, WriteResult] = {}
        candidates: list[tuple[int, dict[str, Any], dict[str, Any], list]] = []
        new_rows: list[tuple[int, dict[str, Any], dict[str, Any], list]] = []
        for index, record in enumerate(records):
            try:
                values, children = self._split(record)
            except RecordError as error:
                failed[index] = WriteResult(FAILED, str(error))
                continue
            if self.mode != "insert":
                empty = [k for k in self.key if values.get(k) in (None, "")]
                if empty and self.insert_without_key and len(empty) == len(self.key):
                    new_rows.append((index, record, values, children))
                    continue
                if empty:
                    failed[index] = WriteResult(FAILED, f"key field(s) {', '.join(empty)} empty")
                    continue
            candidates.append((index, record, values, children))
        existing = self._existing([c[2] for c in candidates]) if self.mode != "insert" else {}
        planned: list[_Planned] = [
            _Planned(
                index,
                record,
                "insert",
                {k: v for k, v in values.items() if k not in self.key or v is not None},
                {},
                children,
                needs_id=True,
            )
            for index, record, values, children in new_rows
        ]
        for index, record, values, children in candidates:
            key = {k: values.get(k) for k in self.key}
            found = key_of(values, self.key)
            current = existing.get(found) if self.mode != "insert" else None
            if isinstance(current, _Ambiguous):
                failed[index] = WriteResult(
                    FAILED,
                    f"key {self._describe_key(record, plain=True)} matches "
                    f"{current.count} rows in {self.table_name}; the key must "
                    "find one (fix the duplicates there, or choose another key)",
                )
                continue
            if current is None:
                if self.mode == "update":
                    failed[index] = WriteResult(
                        FAILED, f"no row in {self.table_name} with {self._describe_key(record)} to update"
                    )
                    continue
                planned.append(_Planned(index, record, "insert", values, key, children))
                existing[found] = values  # a later duplicate in the batch updates it
                continue
            changed = {k: v for k, v in values.items() if not same_value(v, current.get(k))}
            action = "update" if changed or self._children_differ(children) else "unchanged"
            planned.append(
                _Planned(
                    index,
                    record,
                    action,
                    changed,
                    key,
                    children,
                    before={k: plain_value(current.get(k)) for k in changed},
                )
            )
            existing[found] = {**current, **values}
        return planned, failed

    def _describe_key(self, record: dict[str, Any], plain: bool = False) -> str:
        return ", ".join(f"{k}={record.get(k)}" if plain else f"{k}={record.get(k)!r}" for k in self.key)

    def _split(self, record: dict[str, Any]) -> tuple[dict[str, Any], list]:
        """The record's column values (typed for the columns) and its child rows (typed too)."""
        children = []
        for child in self.children:
            rows = record.get(child.field) or []
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise RecordError(f"field '{child.field}' must be a list of records")
            typed = self._child_typed[child.field]
            children.append(
                (child, [typed.typed({k: v for k, v in row.items() if k not in child.link}) for row in rows])
            )
        if self._child_fields or self.only_columns is not None:
            record = {
                k: v
                for k, v in record.items()
                if k not in self._child_fields and (self.only_columns is None or k in self.only_columns)
            }
        return self._typed.typed(record), children

    def _children_differ(self, children: list) -> bool:
        # Children are compared when written; a parent with children is always re-checked.
        return any(rows for _, rows in children)

    def _existing(self, values: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
        keys = list({key_of(v, self.key): tuple(v.get(k) for k in self.key) for v in values}.values())
        if not keys:
            return {}
        rows = self.connector.rows_matching(self.table_name, self.key, keys)
        found: dict[tuple, dict[str, Any]] = {}
        for row in rows:
            key = key_of(row, self.key)
            # Two rows share the key (the table has no unique index on it): neither is the record's.
            previous = found.get(key)
            if previous is None:
                found[key] = dict(row)
            else:
                found[key] = _Ambiguous(previous.count + 1 if isinstance(previous, _Ambiguous) else 2)
        return found

    # --- writing ------------------------------------------------------------------------------------

    def write(self, records: list[dict[str, Any]], dry_run: bool = False) -> list[WriteResult]:
        """Write a batch; one WriteResult per record, in order. Transient faults raise."""
        planned, failed = self.plan(records)
        results: dict[int, WriteResult] = dict(failed)
        try:
            if dry_run:
                results.update(self._rehearse(planned))
                return [results[i] for i in range(len(records))]
            with self.connector.engine.connect() as conn:
                conn.execution_options(**{WRITING: True})
                try:
                    written: dict[int, WriteResult] = {}
                    with conn.begin():
                        for p in planned:
                            written[p.index] = self._apply(conn, p) if p.children or p.needs_id else self._result_for(p)
                        self._apply_plain(conn, [p for p in planned if not p.children and not p.needs_id])
                    results.update(written)
                except Exception as error:
                    if not _refused(error):
                        raise
                    results.update(self._one_by_one(conn, planned))
        except ConnectorError:
            raise
        except Exception as error:
            raise classify(error, self.connector.where) from None
        return [results[i] for i in range(len(records))]

    def _result_for(self, p: _Planned) -> WriteResult:
        return WriteResult(
            _OUTCOME_OF_ACTION[p.action],
            before=p.before,
            after=p.values if p.action != "unchanged" else None,
            record=p.record,
            key_names=self.key,
        )

    def _rehearse(self, planned: list[_Planned]) -> dict[int, WriteResult]:
        """What a write would do, for a dry run: each record written in its own savepoint of one
        transaction that is rolled back, so the database's own refusals (a NULL into a NOT NULL
        column, a foreign key, a check, a trigger) show as "would fail" with its reason, and nothing
        stays. Children are written and compared the same way."""
        results: dict[int, WriteResult] = {}
        with self.connector.engine.connect() as conn:
            conn.execution_options(**{WRITING: True})
            transaction = conn.begin()
            try:
                for p in planned:
                    try:
                        with conn.begin_nested():
                            if p.children or p.needs_id:
                                results[p.index] = self._apply(conn, p)
                            else:
                                self._apply_one(conn, p)
                                results[p.index] = self._result_for(p)
                    except RecordError as error:
                        results[p.index] = WriteResult(FAILED, str(error))
                    except Exception as error:
                        if not _refused(error):
                            raise
                        results[p.index] = WriteResult(FAILED, refusal_reason(error, self.table_name))
            finally:
                transaction.rollback()
        return results

    def _apply_plain(self, conn: sa.Connection, planned: list[_Planned]) -> None:
        inserts = [p.values for p in planned if p.action == "insert"]
        for group in _by_shape(inserts):
            self._insert(conn, group)
        for shape, group in _by_shape_keyed([p for p in planned if p.action == "update"], self.key):
            conn.execute(self._update_statement(shape), group)

    def _insert(self, conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
        """Rows of one shape. On SQLite, rows of plain values go straight to the driver's executemany:
        SQLAlchemy's per-row parameter processing would cost more than SQLite's insert itself."""
        if conn.dialect.name == "sqlite" and all(_PLAIN_TYPES.issuperset(map(type, r.values())) for r in rows):
            names = tuple(rows[0])
            sql = self._plain_inserts.get(names)
            if sql is None:
                columns = ", ".join(conn.dialect.identifier_preparer.quote(n) for n in names)
                table = conn.dialect.identifier_preparer.format_table(self.table)
                sql = self._plain_inserts[names] = (
                    f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(names))})"
                )
            conn.exec_driver_sql(sql, [tuple(r.values()) for r in rows])
            return
        conn.execute(sa.insert(self.table), rows)

    def _update_statement(self, shape: tuple[str, ...]) -> sa.Update:
        return (
            sa.update(self.table)
            .where(*(self.table.c[k] == sa.bindparam(f"k_{k}") for k in self.key))
            .values({c: sa.bindparam(f"v_{c}") for c in shape})
        )

    def _one_by_one(self, conn: sa.Connection, planned: list[_Planned]) -> dict[int, WriteResult]:
        """After the database refused a batch: each record in its own savepoint."""
        results: dict[int, WriteResult] = {}
        with conn.begin():
            for p in planned:
                try:
                    with conn.begin_nested():
                        if p.children or p.needs_id:
                            results[p.index] = self._apply(conn, p)
                        else:
                            self._apply_one(conn, p)
                            results[p.index] = self._result_for(p)
                except Exception as error:
                    if not _refused(error):
                        raise
                    results[p.index] = WriteResult(FAILED, refusal_reason(error, self.table_name))
        return results

    def _apply_one(self, conn: sa.Connection, p: _Planned) -> None:
        if p.action == "insert":
            conn.execute(sa.insert(self.table), p.values)
        elif p.action == "update":
            self._update_parent(conn, p)

    def _update_parent(self, conn: sa.Connection, p: _Planned) -> None:
        params = {f"v_{c}": v for c, v in p.values.items()} | {f"k_{k}": v for k, v in p.key.items()}
        if conn.execute(self._update_statement(tuple(sorted(p.values))), params).rowcount == 0:
            # the row went away since the batch was compared, or its insert earlier in the batch failed
            raise RecordError(f"no row in {self.table_name} with {self._describe_key(p.record)} to update")

    def _apply(self, conn: sa.Connection, p: _Planned) -> WriteResult:
        """A parent and its children, inside the caller's transaction or savepoint."""
        inserted_key = None
        if p.action == "insert":
            result = conn.execute(sa.insert(self.table).values(p.values))
            inserted_key = dict(
                zip([c.name for c in self.table.primary_key.columns], result.inserted_primary_key or ())
            )
            parent = {**p.values, **inserted_key}
            if any(parent.get(column) is None for child, _ in p.children for column in child.link.values()):
                parent = self._parent_row(conn, p, p.key or inserted_key)  # a linked column the database filled in
        else:
            if p.action == "update" and p.values:
                self._update_parent(conn, p)
            parent = self._parent_row(conn, p)
        child_changed = False
        for child, rows in p.children:
            child_changed |= self._write_children(conn, child, rows, parent)
        if p.action == "insert":
            done = self._result_for(p)
            done.inserted_key = inserted_key
            return done
        if p.values or child_changed:
            return WriteResult(UPDATED, before=p.before, after=p.values, record=p.record, key_names=self.key)
        return WriteResult(UNCHANGED, record=p.record, key_names=self.key)

    def _parent_row(self, conn: sa.Connection, p: _Planned, key: dict[str, Any] | None = None) -> dict[str, Any]:
        key = key if key is not None else p.key
        if not key:
            raise RecordError(f"cannot find the row just written in {self.table_name}: it has no key")
        row = (
            conn.execute(sa.select(self.table).where(*(self.table.c[k] == v for k, v in key.items())))
            .mappings()
            .first()
        )
        if row is None:
            raise RecordError(
                f"no row in {self.table_name} with {self._describe_key(p.record)} to attach child rows to"
            )
        return dict(row)

    def _write_children(
        self, conn: sa.Connection, child: ChildSpec, rows: list[dict[str, Any]], parent: dict[str, Any]
    ) -> bool:
        """Insert or update one parent's child rows; whether anything changed."""
        table = self._child_tables[child.field]
        link = {
            column: coerce(table.c[column], parent.get(parent_column)) for column, parent_column in child.link.items()
        }
        missing = [parent_column for column, parent_column in child.link.items() if link[column] is None]
        if missing:
            raise RecordError(f"the {self.table_name} row has no {', '.join(missing)} to link its {child.field} to")
        scope = [table.c[column] == value for column, value in link.items()]
        try:
            current = {
                key_of(dict(r), child.key): dict(r) for r in conn.execute(sa.select(table).where(*scope)).mappings()
            }
            changed = False
            for row in ({**row, **link} for row in rows):
                existing = current.get(key_of(row, child.key))
                if existing is None:
                    conn.execute(sa.insert(table).values(row))
                    current[key_of(row, child.key)] = row
                    changed = True
                    continue
                diff = {k: v for k, v in row.items() if not same_value(v, existing.get(k))}
                if diff:
                    conn.execute(
                        sa.update(table).where(*scope, *(table.c[k] == row[k] for k in child.key)).values(diff)
                    )
                    existing.update(diff)
                    changed = True
            return changed
        except exc.StatementError as error:
            if not _refused(error):
                raise
            raise RecordError(refusal_reason(error, child.table)) from error


class TypedColumns:
    """A table's columns, and how to take a record's values as their types (fast when they are)."""

    def __init__(self, table: sa.Table, name: str, what: str) -> None:
        self.columns = {c.name: c for c in table.columns}
        self.accepts = {c.name: accepted_types(c) for c in table.columns}
        self.name, self.what = name, what
        self._fitting: set[tuple] = set()  # (field names, value types) shapes that need no conversion

    def typed(self, values: dict[str, Any]) -> dict[str, Any]:
        """`values` with each taken as its column's type; a field the table cannot hold fails the record.

        Records from one map node nearly all have the same fields with the same types: once such a
        shape is known to fit the table, records of that shape are taken as they are."""
        shape = (tuple(values), tuple(map(type, values.values())))
        if shape in self._fitting:
            return values
        typed = self._typed_one_by_one(values)
        if len(self._fitting) < 256 and all(typed[k] is v for k, v in values.items()):
            self._fitting.add(shape)
        return typed

    def _typed_one_by_one(self, values: dict[str, Any]) -> dict[str, Any]:
        typed = {}
        accepts = self.accepts
        for k, v in values.items():
            try:
                ok = accepts[k]
            except KeyError:
                unknown = sorted(k for k in values if k not in accepts)
                raise RecordError(f"{self.what} {self.name} has no column(s) {', '.join(unknown)}") from None
            if v is None or (ok is not None and type(v) in ok):
                typed[k] = v  # already what the column takes: the common case, kept cheap
                continue
            if isinstance(v, (dict, list)) and not isinstance(self.columns[k].type, sa.JSON):
                bad = [f for f, x in values.items() if isinstance(x, (dict, list))]
                raise RecordError(f"field(s) {', '.join(bad)} hold a list or object, which a column cannot store")
            try:
                typed[k] = coerce(self.columns[k], v)
            except ValueError as error:
                raise RecordError(f"field {k}: {error} (column {self.name}.{k} is {self.columns[k].type})") from None
        return typed


def _refused(error: Exception) -> bool:
    """The database refused this data (a record's fault), as opposed to a fault worth a retry."""
    return isinstance(error, RecordError) or (isinstance(error, exc.StatementError) and not is_transient(error))


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
        params.update({f"k_{k}": p.key[k] for k in key})
        groups.setdefault(shape, []).append(params)
    return list(groups.items())


def refusal_reason(error: Exception, table: str) -> str:
    """The database's own words for why it refused a record, on one line."""
    if isinstance(error, RecordError):
        return str(error)
    text = " ".join(driver_message(error, whole=True).split())
    return f"{table} refused the record: {text[:500]}"
