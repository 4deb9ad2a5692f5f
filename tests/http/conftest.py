"""The sandbox CRM and ERP served over HTTP on 127.0.0.1 for the whole session, reset before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.sandbox.http_serve import RunningSandbox, start_sandboxes
from app.services.flows import import_flow_file
from app.store.connections import set_connection
from tests.http.support import ACCOUNTS, FLOWS


@pytest.fixture(scope="session")
def running_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with start_sandboxes(tmp_path_factory.mktemp("sandbox"), accounts=ACCOUNTS) as running:
        yield running


@pytest.fixture
def sandbox(running_sandbox: RunningSandbox) -> RunningSandbox:
    """Both systems with their seeded data and no faults."""
    running_sandbox.reset()
    return running_sandbox


@pytest.fixture
def api_store(store, sandbox: RunningSandbox):
    """A store whose crm_api and erp_api connections (sandbox environment) are the served systems,
    retrying quickly, with the HTTP example flows imported."""
    for system in ("crm", "erp"):
        set_connection(
            store,
            f"{system}_api",
            "sandbox",
            "http",
            {
                "base_url": sandbox.url(system),
                "auth": "bearer",
                "token": sandbox.token,
                "retry_wait": 0.002,
                "retry_attempts": 6,
            },
        )
    for path in sorted(FLOWS.glob("*_http.json")):
        import_flow_file(store, path)
    return store


@pytest.fixture
def contacts(store):
    """A HubSpot-style contacts API on 127.0.0.1 (hubspot_api.py), as connection 'hubspot'."""
    from app.sandbox.http_serve import serve_app
    from app.store.connections import set_connection
    from tests.http.hubspot_api import Contacts, hubspot_api

    held = Contacts()
    served = serve_app(hubspot_api(held), name="hubspot api")
    set_connection(store, "hubspot", "sandbox", "http", {"base_url": served.url, "retry_wait": 0.01})
    yield held
    served.stop()
