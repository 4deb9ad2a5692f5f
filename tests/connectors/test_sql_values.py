"""Values on their way into and out of a database, whatever the dialect: typing, comparing, JSON."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from app.connectors.sql.values import coerce, plain_value
from app.connectors.sql_write import key_of, same_value


def column(kind: sa.types.TypeEngine) -> sa.Column:
    return sa.Column("value", kind)


@pytest.mark.parametrize(
    "kind, given, taken",
    [
        (sa.Integer(), "42", 42),
        (sa.Integer(), " 42 ", 42),
        (sa.Integer(), 42.0, 42),
        (sa.Integer(), "4.0", 4),
        (sa.Integer(), "", None),
        (sa.Integer(), True, 1),
        (sa.Numeric(12, 2), "12.30", Decimal("12.30")),
        (sa.Numeric(12, 2), 7.25, 7.25),
        (sa.Float(), "0.5", 0.5),
        (sa.Boolean(), "yes", True),
        (sa.Boolean(), "FALSE", False),
        (sa.Boolean(), 1, True),
        (mysql.TINYINT(display_width=1), "true", 1),
        (mysql.TINYINT(display_width=1), "5", 5),
        (sa.DateTime(), "2024-03-01T09:30:00", dt.datetime(2024, 3, 1, 9, 30)),
        (sa.DateTime(), "2024-03-01 09:30:00Z", dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC)),
        (sa.DateTime(), dt.date(2024, 3, 1), dt.datetime(2024, 3, 1)),
        (sa.Date(), "2024-03-01", dt.date(2024, 3, 1)),
        (sa.Date(), "2024-03-01 00:00:00", dt.date(2024, 3, 1)),
        (sa.Time(), "09:30", dt.time(9, 30)),
        (sa.String(20), 1007, "1007"),
        (sa.String(20), 12.0, "12"),
        (sa.String(20), Decimal("12.30"), "12.30"),
        (sa.String(20), True, "true"),
        (sa.String(20), "", ""),
        (sa.types.NullType(), "anything", "anything"),
    ],
)
def test_a_value_is_taken_as_its_columns_type(kind, given, taken) -> None:
    assert coerce(column(kind), given) == taken


@pytest.mark.parametrize(
    "kind, given, says",
    [
        (sa.Integer(), "forty-two", "'forty-two' is not a whole number"),
        (sa.Integer(), "4.5", "'4.5' is not a whole number"),
        (sa.Integer(), float("nan"), "nan is not a whole number"),
        (sa.Numeric(), "12,30", "'12,30' is not a number"),
        (sa.Numeric(), "NaN", "'NaN' is not a number"),
        (sa.Boolean(), "perhaps", "'perhaps' is not true or false"),
        (sa.DateTime(), "next tuesday", "'next tuesday' is not a date and time"),
        (sa.Date(), "01/03/2024", "'01/03/2024' is not a date"),
    ],
)
def test_a_value_that_cannot_be_of_the_columns_type_says_why(kind, given, says) -> None:
    with pytest.raises(ValueError, match=says):
        coerce(column(kind), given)


def test_records_carry_only_what_json_can() -> None:
    values = [
        Decimal("12.50"),
        Decimal("3"),
        dt.datetime(2024, 3, 1, 9, 30),
        dt.date(2024, 3, 1),
        dt.time(9, 30),
        dt.timedelta(hours=9, minutes=30),
        uuid.UUID(int=1),
        b"\x01\x02",
    ]
    assert json.loads(json.dumps([plain_value(v) for v in values])) == [
        12.5,
        3,
        "2024-03-01 09:30:00",
        "2024-03-01",
        "09:30:00",
        "9:30:00",
        "00000000-0000-0000-0000-000000000001",
        "0102",
    ]


def test_stored_and_given_values_compare_as_a_user_would() -> None:
    assert same_value(Decimal("12.30"), 12.3) and same_value(42, 42.0)
    assert same_value(dt.datetime(2024, 3, 1, 9, 30), "2024-03-01 09:30:00")
    assert not same_value(None, "") and not same_value(0, None)
    assert key_of({"k": 42}, ["k"]) == key_of({"k": "42"}, ["k"]) == key_of({"k": Decimal("42.00")}, ["k"])
