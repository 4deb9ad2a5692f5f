"""trigger.schedule: runs on a cron expression or an interval, in the flow's time zone."""

from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from nodes.base import NodeType
from nodes.schema_parts import object_schema
from nodes.trigger_manual import TriggerProcessor

INTERVAL_UNITS = ("weeks", "days", "hours", "minutes", "seconds")

CONFIG_SCHEMA: dict[str, Any] = {
    **object_schema(
        {
            "cron": {
                "type": "string",
                "minLength": 1,
                "title": "Cron expression",
                "description": "Five fields: minute hour day month weekday, e.g. */15 * * * *",
            },
            "interval": {
                **object_schema({u: {"type": "integer", "minimum": 0} for u in INTERVAL_UNITS}),
                "title": "Every",
                "minProperties": 1,
            },
            "timezone": {
                "type": "string",
                "minLength": 1,
                "title": "Time zone",
                "description": "IANA name such as Europe/Paris; the server's zone when empty.",
            },
        }
    ),
    "oneOf": [{"required": ["cron"]}, {"required": ["interval"]}],
}


def check(config: dict[str, Any]) -> list[tuple[tuple, str]]:
    """Problems a schema cannot see: a cron expression APScheduler refuses, an unknown time zone."""
    problems: list[tuple[tuple, str]] = []
    zone = None
    if config.get("timezone"):
        try:
            zone = ZoneInfo(config["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            problems.append((("timezone",), f"'{config['timezone']}' is not a known time zone"))
    if isinstance(config.get("cron"), str):
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(config["cron"], timezone=zone)
        except ValueError as error:
            problems.append((("cron",), f"'{config['cron']}' is not a valid cron expression: {error}"))
    interval = config.get("interval")
    if isinstance(interval, dict) and not any(isinstance(v, int) and v > 0 for v in interval.values()):
        problems.append((("interval",), "the interval must be longer than zero"))
    return problems


_DAYS = ["Sundays", "Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays"]


def _cron_in_words(cron: str) -> str:
    """The usual crons in words ("*/15 * * * *" -> "every 15 minutes"); others as they are."""
    fields = cron.split()
    if len(fields) != 5:
        return f"cron {cron}"
    minute, hour, day, month, weekday = fields
    every_minute = re.fullmatch(r"\*/(\d+)", minute)
    if every_minute and (hour, day, month, weekday) == ("*", "*", "*", "*"):
        return f"every {every_minute.group(1)} minutes"
    if re.fullmatch(r"\d+(,\d+)*", minute) and (hour, day, month, weekday) == ("*", "*", "*", "*"):
        return "hourly at " + ", ".join(f":{int(m):02d}" for m in minute.split(","))
    if minute.isdigit() and hour.isdigit() and (day, month) == ("*", "*"):
        at = f"{int(hour):02d}:{int(minute):02d}"
        if weekday == "*":
            return f"daily at {at}"
        if weekday.isdigit() and int(weekday) < 7:
            return f"{_DAYS[int(weekday)]} at {at}"
    return f"cron {cron}"


def describe(config: dict[str, Any]) -> str:
    """The schedule in words, for the Flows page."""
    if config.get("cron"):
        text = _cron_in_words(config["cron"])
    else:
        parts = [f"{n} {u[:-1] if n == 1 else u}" for u, n in (config.get("interval") or {}).items() if n]
        text = "every " + " ".join(parts)
    return text + (f" ({config['timezone']})" if config.get("timezone") else "")


NODE_TYPE = NodeType(
    type="trigger.schedule",
    family="trigger",
    title="Schedule",
    description="Starts on a cron expression or at a fixed interval.",
    config_schema=CONFIG_SCHEMA,
    build=TriggerProcessor,
    inputs=(),
    check=check,
    summary=describe,
    scheduled=True,
)
