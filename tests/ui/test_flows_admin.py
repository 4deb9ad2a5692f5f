"""The Flows page as the admin's view: switches with their history, triggers, next and last runs,
failures in 24 hours, Run now in the sandbox, and open alerts."""

from __future__ import annotations

import datetime as dt

import pytest
from nicegui import ui
from nicegui.testing.user import User

from app.services import alerts, switches
from app.services.access import admin
from app.services.runs import run_flow
from app.store import flows as flow_store
from app.store import runs as run_store
from app.store.database import Store
from app.store.models import Run
from app.ui import context

FLOW = "crm_accounts_to_erp_customers"
NAME = "CRM accounts → ERP customers"


class FakeScheduler:
    """Stands in for the FlowScheduler of a served process: every flow that is on runs at 04:45."""

    def next_run(self, flow_id: str) -> dt.datetime:
        return dt.datetime(2031, 5, 6, 4, 45, tzinfo=dt.UTC)


async def test_each_flow_shows_its_trigger_next_run_last_run_and_failures(
    user: User, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    document, version = flow_store.get_document(store, FLOW)
    with store.session() as session:  # a failed run an hour ago counts; one from 30 hours ago does not
        now = dt.datetime.now(dt.UTC)
        for run_id, hours in (("failed-30-hours-ago", 30), ("failed-an-hour-ago", 1)):
            moment = now - dt.timedelta(hours=hours)
            session.add(
                Run(id=run_id, flow_id=FLOW, env="production", status="failed", started_at=moment, finished_at=moment)
            )
        session.commit()
    ran = run_flow(store, document, version=version, env="sandbox")  # the last run
    switches.switch(store, FLOW, True, who=admin("Ada"))
    monkeypatch.setattr(context.root(), "scheduler", FakeScheduler())  # the composition root's
    await user.open("/")
    await user.should_see("every 15 minutes")
    await user.should_see("next 2031-05-06 04:45 UTC")
    await user.should_see("1 failed run in 24 h")
    await user.should_see("partial")
    await user.should_see("1 partial (records failed)")  # the last run left records failed
    links = [link.props.get("href") for link in user.find(ui.link).elements]
    assert f"/runs/{ran.run_id}" in links
    assert f"/runs?flow={FLOW}&status=failed" in links
    assert f"/runs?flow={FLOW}&status=partial" in links


async def test_a_flow_whose_runs_left_records_failed_shows_no_all_clear(user: User, store: Store) -> None:
    document, version = flow_store.get_document(store, FLOW)
    ran = run_flow(store, document, version=version, env="sandbox")
    assert ran.status == "partial" and ran.totals["failed"] > 0  # the demo holds records the ERP refuses
    await user.open("/")
    await user.should_see("0 failed runs in 24 h")
    await user.should_see("1 partial (records failed)")
    [card] = [e for e in user.find(ui.link).elements if e.props.get("href") == f"/runs?flow={FLOW}&status=failed"]
    icons = [child.props.get("name") for child in card.descendants() if isinstance(child, ui.icon)]
    assert icons == ["warning_amber"]  # not the all-clear check


async def test_switching_on_and_off_is_recorded_with_who_and_shown_in_the_history(user: User, store: Store) -> None:
    await user.open("/")
    user.find(marker=f"switch-{FLOW}").click()
    await user.should_see(f"Switch '{NAME}' on?", retries=50)  # asked first, naming where and when it will run
    [said] = user.find(marker="switch-where-when").elements
    first = switches.first_run_once_on(store, FLOW)
    assert first is not None and first > dt.datetime.now(dt.UTC)
    assert said.text.startswith("It will run in production, on the production systems: every 15 minutes, first ")
    user.find(marker="switch-cancel").click()
    await user.should_see(marker=f"switch-{FLOW}")
    assert not flow_store.get_flow(store, FLOW).enabled and switches.history(store, FLOW) == []

    user.find(marker=f"switch-{FLOW}").click()
    await user.should_see(marker="switch-confirm")
    user.find(marker="switch-confirm").click()
    await user.should_see(f"'{NAME}' is switched on", retries=50)
    assert flow_store.get_flow(store, FLOW).enabled
    user.find(marker=f"switch-{FLOW}").click()
    await user.should_see(f"Switch '{NAME}' off?", retries=50)
    [confirm] = user.find(marker="switch-confirm").elements
    assert not confirm.enabled  # not without a reason
    user.find(marker="switch-reason").type("ERP maintenance tonight")
    assert confirm.enabled
    await user.should_see(marker="switch-confirm")
    user.find(marker="switch-confirm").click()
    await user.should_see(f"'{NAME}' is switched off", retries=50)
    assert [(s.enabled, s.who, s.reason) for s in switches.history(store, FLOW)] == [
        (False, "web", "ERP maintenance tonight"),
        (True, "web", ""),
    ]
    switches.switch(store, FLOW, True, who=admin("flowbridge"), reason="a test of the reason column")
    user.find(marker=f"switch-history-{FLOW}").click()
    await user.should_see(f"Switch history of '{NAME}'")
    table = next(t for t in user.find(ui.table).elements if "fb-switch-history-table" in t.classes)
    assert [(r["state"], r["who"], r["reason"]) for r in table.rows] == [
        ("on", "flowbridge", "a test of the reason column"),
        ("off", "web", "ERP maintenance tonight"),
        ("on", "web", "—"),
    ]


async def test_run_now_starts_a_sandbox_run_names_it_and_tells_how_it_ended(user: User, store: Store) -> None:
    await user.open("/")
    user.find(marker=f"run-{FLOW}").click()
    await user.should_see("started in the sandbox")
    context.root().queues.drain()
    [started] = run_store.list_runs(store, flow_id=FLOW)
    assert (started.env, started.trigger, started.started_by) == ("sandbox", "manual", "web")
    await user.should_see(f"Run {started.id} of '{NAME}' partial", retries=30)
    await user.should_see(f"Run {started.id} of '{NAME}' started in the sandbox")
    links = [link.props.get("href") for link in user.find(ui.link).elements]
    assert f"/runs/{started.id}" in links  # the last run, linked


async def test_a_draft_is_not_run_and_says_why(user: User, store: Store) -> None:
    document, _ = flow_store.get_document(store, FLOW)
    flow_store.save_flow(store, {**document, "edges": document["edges"][:-1]}, author="Ada", comment="wip")
    await user.open("/")
    user.find(marker=f"run-{FLOW}").click()
    await user.should_see("is a draft with 2 problem(s)")
    assert run_store.list_runs(store, flow_id=FLOW) == []


async def test_open_alerts_are_shown_on_top_and_can_be_acknowledged(user: User, store: Store) -> None:
    first = alerts.raise_alert(store, FLOW, "run_failed", f"run r1 of {FLOW} failed: the ERP refused the login", "r1")
    alerts.raise_alert(store, FLOW, "switched_off", f"{FLOW} was switched off after 3 failed runs in a row")
    await user.open("/")
    await user.should_see("Open alerts (2)")
    await user.should_see("the ERP refused the login")
    user.find(marker=f"ack-{first.id}").click()
    await user.should_see("Acknowledged 1 alert")
    await user.should_see("Open alerts (1)")
    await user.should_not_see("the ERP refused the login")
    from app.store.models import Alert

    with store.session() as session:  # who acknowledged it, and when, is kept
        acknowledged = session.get(Alert, first.id)
        assert (acknowledged.status, acknowledged.acknowledged_by) == ("acknowledged", "web")
        assert acknowledged.acknowledged_at is not None
    user.find(marker="ack-all").click()
    await user.should_not_see("Open alerts")
    assert alerts.open_alerts(store) == []


async def test_a_flows_test_cases_are_one_click_away_from_the_flows_page(user: User) -> None:
    await user.open("/")
    user.find(marker=f"tests-{FLOW}").click()
    await user.should_see(f"Tests · {NAME}")


async def test_a_flow_with_the_longest_name_is_named_cut_short_in_its_toast(user: User, store: Store) -> None:
    document, version = flow_store.get_document(store, FLOW)
    long_name = ("Invoices paid in the ERP reach the CRM account they were billed to, every hour, " * 3)[:200]
    flow_store.save_flow(store, {**document, "name": long_name}, author="test", based_on=version)
    await user.open("/")
    user.find(marker=f"switch-{FLOW}").click()
    await user.should_see(marker="switch-confirm", retries=50)
    user.find(marker="switch-confirm").click()
    await user.should_see("is switched on", retries=50)
    [toast] = [n for n in user.notify.messages if "is switched on" in n]
    assert toast.startswith("'Invoices paid in the ERP reach the CRM account they were bi…' is switched on")


async def test_a_flow_with_runs_waiting_their_turn_says_how_many_are_queued(user: User, store: Store) -> None:
    for n in range(3):  # accepted (a webhook's calls, say) and not started: a worker pool busy elsewhere
        run_store.queue_run(store, Run(id=f"waiting-{n}", flow_id=FLOW, env="production", trigger="webhook"))
    await user.open("/")
    await user.should_see("3 queued")
    links = [link.props.get("href") for link in user.find(ui.link).elements]
    assert f"/runs?flow={FLOW}&status=queued" in links
