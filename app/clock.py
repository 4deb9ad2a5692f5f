"""The one clock of the pages and views that show time spans and of the scheduler's staleness
check, so a test can set "now" instead of depending on the hour it runs at (a run three hours ago
is yesterday's shortly after midnight; a flow is stale two minutes after it was switched on)."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A time read from the store, in UTC: SQLite hands times back without their zone (they were
    stored in UTC); PostgreSQL hands them back with one."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)
