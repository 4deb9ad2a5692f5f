"""A run that goes for a while, followed in a real browser: the Flows page shows its flow running, the
run's page shows its batch, rate and counts moving every second, and Stop ends it at a batch
boundary as cancelled, saying who stopped it and where its cursor is."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.sandbox.http_serve import start_sandboxes
from app.store.connections import set_connection
from tests.browser.conftest import serving
from tests.browser.support import Page
from tests.http.test_live_runs import READ, SHAPE, WRITE
from tests.ops.helpers import flow, store_flow, target


def test_a_live_run_moves_on_its_page_and_stop_ends_it_at_a_batch_boundary(
    driver: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("live-run")
    with start_sandboxes(folder / "sandbox", accounts=200) as sandbox, serving(folder) as server:
        store = server["store"]
        settings = {"base_url": sandbox.url("crm"), "auth": "bearer", "token": sandbox.token, "retry_wait": 0.002}
        set_connection(store, "crm_api", "sandbox", "http", settings)
        target(store, folder, env="sandbox")
        store_flow(store, flow("slow_accounts", {"type": "trigger.manual"}, [READ, SHAPE, WRITE]))
        sandbox.set_faults("crm", latency_ms=700)  # ten pages of 20: about seven seconds
        page = Page(driver, server["url"], "live-run")
        started = httpx.post(f"{server['url']}/api/flows/slow_accounts/run", params={"env": "sandbox"}, timeout=10)
        run_id = started.json()["run_id"]

        page.open("/")
        page.wait(
            lambda: any("running" in card.text for card in page.all(".fb-last-run")), "the flow shown running", 20
        )
        page.shot("flows-page-running")

        page.open(f"/runs/{run_id}")
        page.wait(lambda: "records/s" in page.text(".fb-run-progress"), "the live progress", 20)
        first = page.text(".fb-run-progress")
        page.wait(lambda: page.text(".fb-run-progress") != first, "the progress moving on", 10)
        assert "running" in page.text(".fb-run-status")
        page.shot("going")

        page.click(".fb-run-stop")
        page.wait(lambda: "Stopping at the end of this batch" in page.text(".fb-run-live"), "the stop heard", 5)
        page.wait(lambda: "cancelled" in page.text(".fb-run-status"), "the run ended cancelled", 30)
        assert "Stopped by" in page.text(".fb-run-stopped")
        page.shot("cancelled")
        run = httpx.get(f"{server['url']}/api/runs/{run_id}", timeout=10).json()
        assert run["status"] == "cancelled" and 0 < run["totals"]["read"] < 200
        assert run["totals"]["inserted"] == run["totals"]["read"]


def test_a_run_started_in_the_editor_shows_its_counts_on_the_canvas_as_it_goes(
    driver: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("live-canvas")
    with start_sandboxes(folder / "sandbox", accounts=200) as sandbox, serving(folder) as server:
        store = server["store"]
        settings = {"base_url": sandbox.url("crm"), "auth": "bearer", "token": sandbox.token, "retry_wait": 0.002}
        set_connection(store, "crm_api", "sandbox", "http", settings)
        target(store, folder, env="sandbox")
        store_flow(store, flow("slow_accounts", {"type": "trigger.manual"}, [READ, SHAPE, WRITE]))
        sandbox.set_faults("crm", latency_ms=500)  # ten pages of 20: about five seconds
        page = Page(driver, server["url"], "live-canvas")
        page.open("/flows/slow_accounts")
        page.wait(lambda: page.node_count() > 0, "the editor")
        page.click(".fb-run")
        page.click(".fb-run-sandbox")

        def counts() -> str:
            shown = page.all('.vue-flow__node[data-id="write"] .fb-node-counts')
            return shown[0].text if shown else ""

        page.wait(lambda: counts(), "the write node's counts while the run goes", 20)
        first = counts()
        assert not [n for n in page.notifications() if "Run succeeded" in n], "the counts came only at the end"
        page.shot("counting")
        page.wait(lambda: counts() != first, "the counts moving on", 15)
        page.wait_notification("Run succeeded", timeout=30)
        page.wait(lambda: "200 inserted" in counts(), "every record written, on the canvas", 5)
        page.shot("done")
