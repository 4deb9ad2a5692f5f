"""The Health dashboard: runs and records per day, failures and the lag since the last success, per flow."""

from __future__ import annotations

import datetime as dt

from nicegui import ui
from nicegui.testing.user import User

from app import clock
from app.services.health_view import flow_health
from app.store.database import Store
from app.store.models import Run

FLOW = "crm_accounts_to_erp_customers"
UTC = dt.UTC
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _run(
    store: Store,
    run_id: str,
    at: dt.datetime,
    status: str,
    totals: dict[str, int] | None = None,
    *,
    env: str = "production",
    dry_run: bool = False,
    flow_id: str = FLOW,
) -> None:
    with store.session() as session:
        session.add(
            Run(
                id=run_id,
                flow_id=flow_id,
                env=env,
                status=status,
                started_at=at,
                finished_at=at + dt.timedelta(minutes=1),
                totals=totals or {},
                dry_run=dry_run,
            )
        )
        session.commit()


def _chart(user: User, marker: str) -> dict:
    [chart] = user.find(kind=ui.echart, marker=marker).elements
    return chart.options


def test_runs_records_and_lag_are_counted_per_day(store: Store, demo: dict) -> None:
    _run(store, "long-ago", NOW - dt.timedelta(days=40), "succeeded")  # before the window: the lag starts from it
    _run(
        store,
        "day-1-ok",
        dt.datetime(2026, 11, 18, 9, 0, tzinfo=UTC),
        "succeeded",
        {"read": 10, "inserted": 3, "updated": 2, "failed": 0},
    )
    _run(store, "day-1-bad", dt.datetime(2026, 11, 18, 10, 0, tzinfo=UTC), "failed", {"read": 4, "failed": 4})
    _run(
        store,
        "day-2-partial",
        dt.datetime(2026, 11, 19, 8, 0, tzinfo=UTC),
        "partial",
        {"read": 7, "inserted": 5, "failed": 2},
    )
    _run(store, "today-skipped", dt.datetime(2026, 11, 20, 8, 0, tzinfo=UTC), "skipped")
    _run(store, "a-dry-run", dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC), "succeeded", {"read": 99}, dry_run=True)
    _run(store, "in-the-sandbox", dt.datetime(2026, 11, 20, 9, 0, tzinfo=UTC), "succeeded", {"read": 5}, env="sandbox")
    found = {h.flow_id: h for h in flow_health(store, days=14, env="production", now=NOW)}
    health = found[FLOW]
    assert health.days[0] == dt.date(2026, 11, 7) and health.days[-1] == dt.date(2026, 11, 20)
    assert health.runs["succeeded"][-3:] == [1, 0, 0]
    assert health.runs["failed"][-3:] == [1, 0, 0]
    assert health.runs["partial"][-3:] == [0, 1, 0]
    assert health.runs["other"][-3:] == [0, 0, 1]
    assert health.records["read"][-3:] == [14, 7, 0]
    assert health.records["written"][-3:] == [5, 5, 0]
    assert health.records["failed"][-3:] == [4, 2, 0]
    assert (health.total_runs, health.failed_runs) == (4, 1)
    # The lag at the end of each day; today's is now: last success 11-18 09:01.
    assert health.lag_hours[-3:] == [14.98, 15.98, 27.98]  # a partial run synced: the lag starts again
    long_ago_finished = NOW - dt.timedelta(days=40) + dt.timedelta(minutes=1)
    first_day_end = dt.datetime(2026, 11, 8, tzinfo=UTC)
    assert health.lag_hours[0] == round((first_day_end - long_ago_finished).total_seconds() / 3600, 2)
    assert health.last_success == dt.datetime(2026, 11, 19, 8, 1, tzinfo=UTC)  # the partial run
    # Every environment: the sandbox run is a success today.
    everywhere = {h.flow_id: h for h in flow_health(store, days=14, now=NOW)}[FLOW]
    assert everywhere.runs["succeeded"][-1] == 1 and everywhere.lag_hours[-1] == 2.98
    # A flow that never succeeded has no lag at all.
    assert found["erp_stock_to_crm_products"].lag_hours == [None] * 14
    assert found["erp_stock_to_crm_products"].last_success is None


async def test_the_page_draws_the_charts_of_each_flow(user: User, store: Store, monkeypatch) -> None:
    now = dt.datetime.now(UTC).replace(hour=12)  # today, whatever the hour: the runs below fall on today
    monkeypatch.setattr(clock, "utc_now", lambda: now)
    _run(store, "ok", now - dt.timedelta(hours=3), "succeeded", {"read": 10, "inserted": 4})
    _run(store, "bad", now - dt.timedelta(hours=1), "failed", {"read": 2, "failed": 2})
    await user.open("/health")
    await user.should_see("Lag since the last success, now")
    await user.should_see("last success")
    await user.should_see("1 failed")
    runs = _chart(user, f"runs-{FLOW}")
    assert len(runs["xAxis"]["data"]) == 14
    assert {s["name"]: s["data"][-1] for s in runs["series"]} == {"succeeded": 1, "partial": 0, "failed": 1, "other": 0}
    records = _chart(user, f"records-{FLOW}")
    assert {s["name"]: s["data"][-1] for s in records["series"]} == {"read": 12, "written": 4, "failed": 2}
    lag = _chart(user, f"lag-{FLOW}")["series"][0]["data"]
    assert lag[-1] is not None and 2.9 < lag[-1] < 3.1 and lag[0] is None
    overview = _chart(user, "lag-overview")
    assert overview["yAxis"]["data"][0] == "CRM accounts → ERP customers"  # the only flow with a lag
    # A shorter window and one environment come from the link.
    await user.open("/health?days=7&env=sandbox")
    await user.should_see("The last 7 days (UTC)")
    await user.should_see("No runs in these 7 days in sandbox")  # the production runs are left out
    await user.should_not_see(marker=f"runs-{FLOW}")
    await user.open("/health?days=banana")
    await user.should_see("The last 14 days (UTC)")
