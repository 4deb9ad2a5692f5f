"""The Flows page says a schedule in words: the usual crons read as a person would say them."""

from __future__ import annotations

import pytest

from nodes.trigger_schedule import describe


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"cron": "*/15 * * * *"}, "every 15 minutes"),
        ({"cron": "5 * * * *"}, "hourly at :05"),
        ({"cron": "7,22,37,52 * * * *"}, "hourly at :07, :22, :37, :52"),
        ({"cron": "30 2 * * *", "timezone": "Europe/Paris"}, "daily at 02:30 (Europe/Paris)"),
        ({"cron": "0 9 * * 1"}, "Mondays at 09:00"),
        ({"cron": "0 9 1 * *"}, "cron 0 9 1 * *"),  # anything else is shown as it is
        ({"interval": {"hours": 1, "minutes": 30}}, "every 1 hour 30 minutes"),
    ],
)
def test_a_schedule_reads_as_a_person_would_say_it(config: dict, words: str) -> None:
    assert describe(config) == words
