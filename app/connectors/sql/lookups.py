"""Rows found by the values of some columns, a chunk of keys per query: lookups before a write,
matches by normalised text, and setting values on rows found by id (deactivating rows whose source is gone).

Reads go through SqlConnector.fetch (read-only, retried); set_where's UPDATE runs in its own transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.connectors.sql.errors import classify
from app.connectors.sql.values import accepted_types, coerce, plain_value

if TYPE_CHECKING:
    from app.connectors.sql.connector import SqlConnector

LOOKUP_CHUNK = 500  # keys per IN (...): well inside every database's limit on bound parameters


def lookup(
    connector: SqlConnector, table: str, match: list[str], keys: list[tuple[Any, ...]], columns: list[str] | None = None
) -> list[dict[str, Any]]:
    """Rows of `table` whose `match` columns equal one of `keys` (one query per 500 keys).

    Keys are taken as the columns' types ('42' finds 42 in an integer column, 42 finds '42' in
    a text one); a key that cannot be of that type (a word for an integer column) finds nothing.
    """
    return [_plain_row(r) for r in rows_matching(connector, table, match, keys, columns)]


def rows_matching(
    connector: SqlConnector,
    table: str,
    match: list[str],
    keys: list[tuple[Any, ...]],
    columns: list[str] | None = None,
    conn: sa.Connection | None = None,
) -> list[Any]:
    """Like lookup, with the values as the driver returns them (for comparing before a write).

    With `conn`, the queries run in the caller's transaction, and the caller's policy retries them."""
    reflected = connector.table(table)
    match_columns = [connector.column(table, m, "match") for m in match]
    wanted = [connector.column(table, c, "column") for c in columns] if columns else list(reflected.c)
    accepts = [accepted_types(c) or () for c in match_columns]
    typed: dict[tuple[Any, ...], None] = {}  # first-seen order, no repeats
    for key in keys:
        try:
            typed[tuple(v if type(v) in ok else coerce(c, v) for c, ok, v in zip(match_columns, accepts, key))] = None
        except ValueError:
            continue  # no row can hold it
    typed_keys = list(typed)
    rows: list[Any] = []
    for start in range(0, len(typed_keys), LOOKUP_CHUNK):
        chunk = typed_keys[start : start + LOOKUP_CHUNK]
        condition = (
            match_columns[0].in_([k[0] for k in chunk]) if len(match) == 1 else sa.tuple_(*match_columns).in_(chunk)
        )
        statement = sa.select(*wanted).where(condition)
        if conn is not None:
            rows += list(conn.execute(statement).mappings())
        else:
            rows += connector.fetch(statement)
    return rows


def match_rows(
    connector: SqlConnector,
    table: str,
    columns: list[str],
    how: str,
    keys: list[tuple[Any, ...]],
    fetch: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Rows whose `columns`, compared trimmed and lower-cased (how='text' or 'email') or exactly,
    equal one of `keys` (already normalised the same way); for finding a record's existing row."""
    reflected = connector.table(table)
    compared: list[sa.ColumnElement[Any]] = [connector.column(table, c, "match") for c in columns]
    if how != "exact":
        compared = [sa.func.lower(sa.func.trim(c)) for c in compared]
    wanted = [connector.column(table, c, "column") for c in dict.fromkeys(fetch)] if fetch else list(reflected.c)
    rows: list[dict[str, Any]] = []
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        condition = compared[0].in_([k[0] for k in chunk]) if len(compared) == 1 else sa.tuple_(*compared).in_(chunk)
        rows += [_plain_row(r) for r in connector.fetch(sa.select(*wanted).where(condition))]
    return rows


def set_where(
    connector: SqlConnector, table: str, column: str, ids: list[Any], values: dict[str, Any], dry_run: bool = False
) -> int:
    """Set `values` on the rows whose `column` is in `ids` and that don't hold them yet; how many.

    For deactivating rows whose source is gone: a row already deactivated is not counted again."""
    reflected = connector.table(table)
    target = connector.column(table, column, "id")
    columns = {name: connector.column(table, name, "column") for name in values}
    typed_ids = []
    for value in ids:
        try:
            typed_ids.append(coerce(target, value))
        except ValueError:
            continue
    typed_values = {name: coerce(columns[name], v) for name, v in values.items()}
    differs = sa.or_(*(sa.or_(columns[n] != v, columns[n].is_(None)) for n, v in typed_values.items()))
    changed = 0
    for start in range(0, len(typed_ids), LOOKUP_CHUNK):
        chunk = typed_ids[start : start + LOOKUP_CHUNK]
        if dry_run:
            changed += connector.fetch(
                sa.select(sa.func.count()).select_from(reflected).where(target.in_(chunk), differs), scalar=True
            )
            continue
        try:
            with connector.engine.begin() as conn:
                changed += conn.execute(
                    sa.update(reflected).where(target.in_(chunk), differs).values(typed_values)
                ).rowcount
        except Exception as error:
            raise classify(error, connector.where) from None
    return changed


def _plain_row(row: Any) -> dict[str, Any]:
    return {k: plain_value(v) for k, v in row.items()}
