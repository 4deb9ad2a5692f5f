"""The one clock of the pages and views that show time spans, so a test can set "now" instead of
depending on the hour it runs at (a run three hours ago is yesterday's shortly after midnight)."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
