"""Values on their way into a database (taken as a column's type) and out of it (plain, JSON-friendly)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import sqlalchemy as sa

T = TypeVar("T")

_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})
_NUMERIC = (sa.Numeric, sa.Float)  # SQLAlchemy 2.1 no longer makes Float a kind of Numeric
_TYPED = (sa.Boolean, sa.Integer, *_NUMERIC, sa.DateTime, sa.Date, sa.Time)
_TRUE = {"true", "t", "yes", "y", "1", "on"}
_FALSE = {"false", "f", "no", "n", "0", "off"}


# --- out of the database ------------------------------------------------------------------------


def plain_records(names: list[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Row tuples as records; values are converted only in the rows that need it (most don't)."""
    records = []
    for row in rows:
        if _PLAIN_TYPES.issuperset(map(type, row)):
            records.append(dict(zip(names, row)))
        else:
            records.append({name: plain_value(value) for name, value in zip(names, row)})
    return records


def plain_value(value: Any) -> Any:
    """A value as records carry it (JSON-friendly): Decimal to float, dates to ISO text."""
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent  # an int, or a letter for NaN and infinity
        whole = value == value.to_integral_value() and isinstance(exponent, int) and exponent >= 0
        return int(value) if whole else float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # MySQL TIME read through a query
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


# --- into the database --------------------------------------------------------------------------


def accepted_types(column: sa.Column[Any]) -> frozenset[type] | None:
    """Python types a column takes as they are; None when any value goes to the database as is."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return frozenset({bool})
    if isinstance(kind, sa.Integer):
        return frozenset({int})
    if isinstance(kind, (sa.Numeric, sa.Float)):
        return frozenset({int, float, Decimal})
    if isinstance(kind, sa.DateTime):
        return frozenset({dt.datetime})
    if isinstance(kind, sa.Date):
        return frozenset({dt.date})
    if isinstance(kind, sa.String):
        return frozenset({str})
    return None


def coerce(column: sa.Column[Any], value: Any) -> Any:
    """`value` as `column`'s type wants it: '42' for an INTEGER is 42, '2024-03-01T09:00' for a
    DATETIME is a datetime, 42 for a VARCHAR is '42'. Raises ValueError with a sentence when the
    value cannot be of that type. Types Flowbridge does not know are left to the database."""
    if value is None:
        return None
    kind = column.type
    if isinstance(value, str) and not value.strip() and isinstance(kind, _TYPED):
        return None  # an empty cell (CSV) in a number, date or flag column holds no value
    if isinstance(kind, sa.Boolean):
        return _flag(value)
    if isinstance(kind, sa.Integer):
        if (
            getattr(kind, "display_width", None) == 1
            and isinstance(value, str)
            and value.strip().lower() in _TRUE | _FALSE
        ):
            return int(_flag(value))  # MySQL's BOOLEAN is TINYINT(1)
        return _whole_number(value)
    if isinstance(kind, _NUMERIC):
        number = _number(value)
        return float(number) if isinstance(kind, sa.Float) and isinstance(number, Decimal) else number
    if isinstance(kind, sa.DateTime):
        return _datetime(value)
    if isinstance(kind, sa.Date):
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return _parse(dt.date.fromisoformat, value, "a date")
        except ValueError:
            return _parse(dt.datetime.fromisoformat, value, "a date (ISO 8601, e.g. 2024-03-01)").date()
    if isinstance(kind, sa.Time):
        if isinstance(value, (dt.time, dt.timedelta)):
            return value
        return _parse(dt.time.fromisoformat, value, "a time of day")
    if isinstance(kind, sa.String) and not isinstance(value, str):
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return value  # refused by the caller, with its reason
        text = value if isinstance(value, Decimal) else plain_value(value)
        return str(int(text)) if isinstance(text, float) and text.is_integer() else str(text)
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float, Decimal)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"{value!r} is not true or false")


def _whole_number(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        number = _number(value)
        whole = number == int(number)
    except (ValueError, OverflowError):
        whole = False
    if not whole:
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def _number(value: Any) -> int | float | Decimal:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            pass
        else:
            if number.is_finite():
                return number
    raise ValueError(f"{value!r} is not a number")


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return _parse(dt.datetime.fromisoformat, value, "a date and time (ISO 8601, e.g. 2024-03-01 09:30:00)")


def _parse(from_iso: Callable[[str], T], value: Any, what: str) -> T:
    """`value`, an ISO 8601 text, read by `from_iso`; anything else is not `what`."""
    if isinstance(value, str):
        try:
            return from_iso(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not {what}")
