"""Times that come after what a system under test holds, whatever today's date is.

The demo CRM and ERP stamp `updated_at` with the real clock whenever a sync writes a row, and their
seed data carries fixed times. A test that edits a record "later" must be later than both, so the
next run's cursor reads the edit: never a fixed date, which the real clock overtakes one day.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

FORMAT = "%Y-%m-%d %H:%M:%S"


def as_moment(stamp: Any) -> dt.datetime:
    """A stored time ('2026-11-01 09:00:00.123', ISO with 'T', or a datetime) as a naive UTC datetime."""
    if isinstance(stamp, dt.datetime):
        return stamp.astimezone(dt.UTC).replace(tzinfo=None) if stamp.tzinfo else stamp
    return dt.datetime.fromisoformat(str(stamp).strip().replace("T", " ")[:19])


def later(*stamps: Any, hours: float = 1) -> str:
    """`hours` after the real clock (UTC, as the demo stamps it) and after every one of `stamps`."""
    moments = [dt.datetime.now(dt.UTC).replace(tzinfo=None)]
    moments += [as_moment(s) for s in stamps if s is not None]
    return (max(moments) + dt.timedelta(hours=hours)).strftime(FORMAT)
