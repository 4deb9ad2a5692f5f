"""The Sandbox page starts the sandbox CRM and ERP REST APIs, switches their faults and resets them:
checked against the real APIs over HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from nicegui import ui
from nicegui.testing.user import User

from app.services import access, sandboxes
from app.store.database import Store
from app.ui import session
from tests.ui.conftest import sign_in

AUTH = {"Authorization": "Bearer sandbox-token"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sandbox_ports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    ports = {"crm": _free_port(), "erp": _free_port()}
    monkeypatch.setattr(sandboxes, "DEMO_PORTS", ports)
    monkeypatch.setattr(sandboxes, "DEFAULT_FOLDER", tmp_path / "sandbox-data")
    yield ports
    sandboxes.shut_down()


def _number(user: User, css: str) -> ui.number:
    [field] = [n for n in user.find(ui.number).elements if css in n.classes]
    return field


async def test_a_tester_starts_the_sandboxes_makes_the_erp_fail_resets_and_stops_them(
    user: User, sandbox_ports: dict[str, int]
) -> None:
    await user.open("/sandbox")
    await user.should_see("stopped")
    user.find(marker="sandbox-start").click()
    await user.should_see("Sandbox CRM on http://127.0.0.1:", retries=100)
    await user.should_see("Reset data", retries=100)  # the page itself, refreshed after the toast
    erp = f"http://127.0.0.1:{sandbox_ports['erp']}"
    assert httpx.get(f"{erp}/customers", headers=AUTH, timeout=10).status_code == 200

    _number(user, "fb-fault-erp-error_rate").set_value(100)  # every ERP call answered 500
    user.find(marker="faults-apply-erp").click()
    await user.should_see("Sandbox ERP: Answer 500")
    assert httpx.get(f"{erp}/customers", headers=AUTH, timeout=10).status_code == 500
    assert httpx.get(f"http://127.0.0.1:{sandbox_ports['crm']}/accounts", headers=AUTH, timeout=10).status_code == 200
    await user.should_see("1 500s", retries=50)  # the page follows what the ERP did

    user.find("Reset data").click()
    await user.should_see("seeded data again", retries=50)
    assert httpx.get(f"{erp}/customers", headers=AUTH, timeout=10).status_code == 200

    user.find("Stop").click()
    await user.should_see("The sandbox APIs stopped")
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{erp}/customers", headers=AUTH, timeout=5)


async def test_a_bad_fault_setting_is_refused_with_its_name(user: User, sandbox_ports: dict[str, int]) -> None:
    sandboxes.start(who=access.admin("test"))
    await user.open("/sandbox")
    _number(user, "fb-fault-crm-error_rate").set_value(30)  # a good value beside the bad one
    _number(user, "fb-fault-crm-drop_rate").set_value(150)  # 150% of calls
    user.find(marker="faults-apply-crm").click()
    await user.should_see("'drop_rate' is a share of calls, from 0 to 1")
    held = sandboxes.state().faults["crm"]
    assert (held["drop_rate"], held["error_rate"]) == (0, 0)  # all or none: not half applied


async def test_a_viewer_may_not_start_the_sandboxes(user: User, store: Store, sandbox_ports: dict[str, int]) -> None:
    token = access.add_user(store, "vic", "viewer")
    session.forget_open_state()
    await user.open("/sandbox")
    await sign_in(user, "vic", token, "viewer")
    user.find(marker="sandbox-start").click()
    await user.should_see("vic (viewer) may not run in sandbox", retries=30)
    assert not sandboxes.state().running
