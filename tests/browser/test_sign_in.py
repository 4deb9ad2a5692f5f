"""A server with users: a tester signs in, sees who they are, is offered the switch disabled (its
tooltip says who may) and refused switching a flow on by the server, with the reason, runs it in
the sandbox, and signs out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.store import flows as flow_store
from app.store import runs as run_store
from tests.browser.conftest import serving
from tests.browser.support import Page

SHOTS = "sign-in"
FLOW = "crm_accounts_to_erp_customers"
ROW = f'.fb-flow-row[data-flow-id="{FLOW}"]'


@pytest.fixture(scope="module")
def closed_server(
    served: dict[str, Any], driver: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    # `served` first: it skips, saying why, when there is no browser.
    with serving(tmp_path_factory.mktemp("closed"), users=(("tess", "tester"), ("ada", "admin"))) as server:
        yield server
        # Leave this server's pages before it stops: an open page would keep trying to reconnect,
        # and its failures would land in the next test's browser console.
        driver.get("about:blank")


def test_a_tester_signs_in_is_refused_a_switch_runs_in_the_sandbox_and_signs_out(
    page: Page, closed_server: dict[str, Any]
) -> None:
    page.base = closed_server["url"]
    page.open("/runs")
    page.wait(lambda: "/sign-in" in page.d.current_url, "the sign-in page")
    page.wait(lambda: page.all(".fb-sign-in-name input"), "the sign-in form")
    page.shot("asked-to-sign-in")

    page.type_into(".fb-sign-in-name input", "tess")
    page.type_into(".fb-sign-in-token input", "a guess", enter=True)
    page.wait_notification("do not match a user")
    page.type_into(".fb-sign-in-token input", closed_server["tokens"]["tess"])
    page.click(".fb-sign-in-submit", retry=False)
    page.wait(lambda: page.d.current_url.endswith("/runs"), "the page it wanted first")
    page.wait(lambda: "tess · tester" in page.text(".fb-env-badge"), "who is signed in, in the header")

    page.open("/")
    page.wait(lambda: page.all(ROW), "the flows")
    # The switch is offered disabled, its tooltip saying who may; the server refuses all the same.
    switch = page.find(f"{ROW} .fb-switch")
    assert switch.get_attribute("aria-disabled") == "true"
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(page.d).move_to_element(switch).perform()
    page.wait(lambda: "tess (tester) may not switch; that needs admin" in page.text("body"), "the switch's tooltip")
    page.shot("switch-refused")
    refused = httpx.post(
        f"{closed_server['url']}/api/flows/{FLOW}/on",
        headers={"Authorization": f"Bearer {closed_server['tokens']['tess']}"},
        timeout=10,
    )
    assert refused.status_code == 403 and "tess (tester) may not switch" in refused.text
    assert not flow_store.get_flow(closed_server["store"], FLOW).enabled

    page.click(f"{ROW} .fb-run-now")
    page.wait_notification("started in the sandbox")
    [started] = run_store.list_runs(closed_server["store"], flow_id=FLOW)
    assert (started.env, started.started_by) == ("sandbox", "tess")

    page.click(".fb-sign-out", retry=False)
    page.wait(lambda: "/sign-in" in page.d.current_url, "the sign-in page after signing out")
    page.open("/")
    page.wait(lambda: "/sign-in" in page.d.current_url, "the sign-in page again: signed out for good")


def test_a_signed_in_admin_saves_a_version_that_is_hers_whatever_the_dialog(
    page: Page, closed_server: dict[str, Any]
) -> None:
    page.base = closed_server["url"]
    page.open(f"/flows/{FLOW}")
    page.wait(lambda: page.all(".fb-sign-in-name input"), "the sign-in form")
    page.type_into(".fb-sign-in-name input", "ada")
    page.type_into(".fb-sign-in-token input", closed_server["tokens"]["ada"], enter=True)
    page.wait(lambda: "ada · admin" in page.text(".fb-env-badge"), "who is signed in, in the header")
    page.wait(lambda: page.all(".fb-save"), "the editor")
    page.click(".fb-save")
    page.wait(lambda: page.all(".fb-save-dialog"), "the save dialog")
    name = page.find(".fb-author input")
    assert name.get_attribute("value") == "ada" and name.get_attribute("readonly") is not None
    page.type_into(".fb-comment input", "checked by ada")
    page.shot("save-named-by-sign-in")
    page.click(".fb-save-confirm")
    page.wait_notification("Saved version")
    [latest, *_] = flow_store.list_versions(closed_server["store"], FLOW)
    assert (latest.author, latest.comment) == ("ada", "checked by ada")
    page.click(".fb-sign-out", retry=False)
    page.wait(lambda: "/sign-in" in page.d.current_url, "the sign-in page after signing out")
