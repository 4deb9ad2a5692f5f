"""Reading a table or a query in batches: by key, page by page (keyset pagination), or streamed whole.

Paging by key means a long sync never holds a read transaction open against a database it also
writes. Every query runs through SqlConnector.fetch or SqlConnector.reading: read-only, and only
`fetch` retries. Cursor positions are stored as JSON between runs (encode_position, decode_position).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from app.connectors.sql.errors import classify
from app.connectors.sql.values import coerce, plain_records
from app.connectors.statements import second_statement_at
from app.errors import ConnectorError

if TYPE_CHECKING:
    from app.connectors.sql.connector import SqlConnector

Batch = tuple[list[dict[str, Any]], Any]  # records, and the cursor position safe to commit after them
ColumnNamed = Callable[[str, str], Any]  # (column name, what it is named as) -> the column to compare


def read_batches(
    connector: SqlConnector,
    *,
    table: str | None = None,
    query: str | None = None,
    cursor: str | None = None,
    key: list[str] | None = None,
    where: str | None = None,
    position: Any = None,
    batch_size: int = 1000,
) -> Iterator[Batch]:
    """Batches of records, each with the cursor position that is safe to commit after it.

    With a cursor and a committed position, records are read in cursor order from that
    position (inclusive, so ties on the cursor value are read again rather than lost) and
    every batch carries its last cursor value. Without one, records are read in key order and
    only the last batch carries a position: the largest cursor value seen when the read began.

    Pages are found by comparing the database's own stored values (read back raw, never
    re-formatted by SQLAlchemy), so the comparison always agrees with the database's ORDER BY
    and a page never starts before the previous one ended.
    """
    for name, text in (("query", query), ("where", where)):
        if text and second_statement_at(text) is not None:
            raise ConnectorError(
                f"{connector.where}: the read's {name} holds a second statement (a ';' before its "
                "end); a read runs one SELECT and never writes"
            )
    source, keys, columns = _source(connector, table, query, key)
    if where and where.strip().rstrip(";").strip():
        source = source.where(sa.text(f"({where.strip().rstrip(';')})"))
    if not keys:
        if cursor:
            raise ConnectorError(
                f"{connector.where}: reading by cursor '{cursor}' needs a key to order ties; set the node's key"
            )
        yield from _stream(connector, source, batch_size)
        return
    resume_by = cursor if position is not None else None  # reading on from a committed position
    incremental = resume_by is not None
    signpost = _max(connector, source, columns(cursor, "cursor")) if cursor and not incremental else None
    names = ([resume_by] if resume_by is not None else []) + keys
    order = [_raw(columns(n, "cursor" if n == cursor else "key")) for n in names]
    labels = [f"fb_order_{i}" for i in range(len(order))]
    base = source.add_columns(*(o.label(label) for o, label in zip(order, labels)))
    if resume_by is not None:
        base = base.where(order[0] >= _position_value(connector, decode_position(position), table, resume_by))
    _check_keys_present(connector, base, {k: columns(k, "key") for k in keys})
    last: tuple[Any, ...] | None = None
    while True:
        # (a, b) > (x, y) says where the page starts; a >= x is implied, and lets MySQL/MariaDB
        # start its index range there instead of scanning from the beginning for every page.
        page = base if last is None else base.where(order[0] >= last[0], sa.tuple_(*order) > sa.tuple_(*last))
        names_read, rows = connector.fetch(page.order_by(*order).limit(batch_size + 1), as_rows=True)
        done = len(rows) <= batch_size
        rows = rows[:batch_size]
        if not rows:
            return
        last = tuple(rows[-1][-len(labels) :])
        records = plain_records(names_read[: -len(labels)], rows)  # the order labels are last: left out
        if incremental:
            yield records, encode_position(last[0])
        else:
            yield records, encode_position(signpost) if done and cursor else None
        if done:
            return


def encode_position(value: Any) -> Any:
    """A cursor value as JSON (datetimes tagged so they compare as datetimes when read back)."""
    if isinstance(value, dt.datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, Decimal):
        return float(value)
    return value


def decode_position(value: Any) -> Any:
    if isinstance(value, dict) and "datetime" in value:
        return dt.datetime.fromisoformat(value["datetime"])
    return value


def _source(
    connector: SqlConnector, table: str | None, query: str | None, key: list[str] | None
) -> tuple[sa.Select[Any], list[str], ColumnNamed]:
    """The select to page through, its key, and how to name one of its columns."""
    if table:
        reflected = connector.table(table)
        keys = key or [c.name for c in reflected.primary_key.columns]
        return sa.select(reflected), keys, lambda name, what: connector.column(table, name, what)
    if not query:
        raise ConnectorError(f"{connector.where}: a read needs a table or a query")
    query = query.strip().rstrip(";").strip()
    source = sa.select(sa.text("*")).select_from(sa.text(f"({query}) AS fb_source"))
    return source, key or [], lambda name, what: sa.column(name)


def _stream(connector: SqlConnector, statement: sa.Executable, batch_size: int) -> Iterator[Batch]:
    """A query with no key, read whole in one read-only transaction: not retried, since batches
    already handed on cannot be taken back."""
    try:
        with connector.reading() as conn:
            result = conn.execution_options(yield_per=batch_size).execute(statement)
            names = list(result.keys())
            for part in result.partitions():
                yield plain_records(names, part), None
    except ConnectorError:
        raise
    except Exception as error:
        raise classify(error, connector.where) from None


def _max(connector: SqlConnector, source: sa.Select[Any], column: Any) -> Any:
    return connector.fetch(source.with_only_columns(sa.func.max(_raw(column))), scalar=True)


def _check_keys_present(connector: SqlConnector, source: sa.Select[Any], keys: dict[str, Any]) -> None:
    """A row whose key is NULL compares as unknown, so paging would skip it: refuse to start.

    Costs one query, unless the table declares its key columns NOT NULL."""
    maybe_empty = [name for name, column in keys.items() if getattr(column, "nullable", True)]
    if not maybe_empty:
        return
    condition = sa.or_(*(_raw(keys[name]).is_(None) for name in maybe_empty))
    empty = connector.fetch(source.with_only_columns(*(_raw(keys[n]) for n in maybe_empty)).where(condition).limit(1))
    if empty:
        field = next(name for name, value in zip(maybe_empty, empty[0].values()) if value is None)
        raise ConnectorError(
            f"{connector.where}: some rows have no value in key field '{field}', so they cannot "
            "be read page by page; choose a key that is never empty"
        )


def _position_value(connector: SqlConnector, value: Any, table: str | None, cursor: str) -> Any:
    """A committed position as the cursor column compares it (text stays text on SQLite)."""
    if table is None or isinstance(value, str):
        return value
    try:
        return coerce(connector.column(table, cursor, "cursor"), value)
    except ValueError as error:
        raise ConnectorError(
            f"{connector.where}: the stored position {value!r} does not fit cursor '{cursor}' "
            f"({error}); read everything again to reset it"
        ) from None


def _raw(column: Any) -> Any:
    """The column compared and fetched exactly as stored, without SQLAlchemy's type processing."""
    return sa.type_coerce(column, sa.types.NullType())
