"""Typed encodings of a record's fields for an API (write.http's `encode`): an API takes decimals and
dates its own way — HubSpot a date as epoch milliseconds, Tryton's REST a Decimal as
{"__class__": "Decimal", "decimal": "12.50"}, most APIs a number as a JSON number, not its text.

Applied to the record before it is sent (and before a body template renders it), so what is
compared with what the API holds is what the API was sent. None stays None; a value that is not
what its encoding reads fails that record alone, naming the field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

ENCODINGS = {
    "number": "a JSON number: '1234.50' -> 1234.5",
    "decimal_text": "the digits as text: 1234.5 -> '1234.5'",
    "date": "an ISO date: '2026-12-03T10:15:00Z' -> '2026-12-03'",
    "datetime_utc": "an ISO date and time in UTC: '2026-12-03 11:15+01:00' -> '2026-12-03T10:15:00Z'",
    "epoch_ms": "milliseconds since 1970 (HubSpot's dates): '2026-12-03' -> 1796256000000",
    "tryton_decimal": "Tryton's Decimal: {'__class__': 'Decimal', 'decimal': '12.50'}",
    "tryton_date": "Tryton's date: {'__class__': 'date', 'year': 2026, 'month': 12, 'day': 3}",
    "tryton_datetime": "Tryton's datetime (UTC): {'__class__': 'datetime', 'year': 2026, ...}",
}

ENCODE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"enum": sorted(ENCODINGS)},
    "title": "Encode fields",
    "description": "Field -> how the API takes it: " + "; ".join(f"{k}: {v}" for k, v in ENCODINGS.items()),
}


class EncodingError(ValueError):
    """A value its encoding cannot read; the message names the field."""


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise InvalidOperation
    number = Decimal(str(value).strip().replace(",", "")) if isinstance(value, str) else Decimal(str(value))
    if not number.is_finite():
        raise InvalidOperation
    return number


def _moment(value: Any) -> dt.datetime:
    """A date and time in UTC from a datetime, a date (its midnight) or ISO text; naive means UTC."""
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def encode(value: Any, how: str) -> Any:
    if value is None:
        return None
    if how in ("number", "decimal_text", "tryton_decimal"):
        number = _decimal(value)
        if how == "number":
            return int(number) if number == number.to_integral_value() else float(number)
        text = format(number, "f")
        return text if how == "decimal_text" else {"__class__": "Decimal", "decimal": text}
    moment = _moment(value)
    if how == "date":
        return moment.date().isoformat()
    if how == "datetime_utc":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if how == "epoch_ms":
        return int(moment.timestamp() * 1000)
    if how == "tryton_date":
        return {"__class__": "date", "year": moment.year, "month": moment.month, "day": moment.day}
    if how == "tryton_datetime":
        return {
            "__class__": "datetime",
            **{part: getattr(moment, part) for part in ("year", "month", "day", "hour", "minute", "second")},
            "microsecond": moment.microsecond,
        }
    raise EncodingError(f"unknown encoding '{how}'; use one of {', '.join(sorted(ENCODINGS))}")


def encoded(record: dict[str, Any], encodings: dict[str, str]) -> dict[str, Any]:
    """The record with each field named in `encodings` encoded; EncodingError names a field that fails."""
    if not encodings:
        return record
    out = dict(record)
    for name, how in encodings.items():
        if name not in out:
            continue
        try:
            out[name] = encode(out[name], how)
        except (ValueError, InvalidOperation, OverflowError):
            kind = "number" if how in ("number", "decimal_text", "tryton_decimal") else "date"
            raise EncodingError(f"field '{name}': {str(out[name])[:40]!r} is not a {kind} ({how})") from None
    return out
