"""The Connections page: an admin lists, tries, adds and edits connections with a form drawn from
the type's settings schema; secrets are write-only (never sent to the browser, kept when left
empty); a bad setting is refused naming it; other roles see the controls disabled and the services
refuse them all the same."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing.user import User

from app.errors import FlowbridgeError
from app.services import access
from app.services import connections as connection_service
from app.store.connections import connection_spec
from app.store.database import Store
from app.ui import session
from tests.ui.conftest import sign_in


def _element(user: User, marker: str):
    [found] = user.find(marker=marker).elements
    return found


def _secret_values(user: User) -> list[str]:
    """Every value the page holds in its inputs: a secret must be none of them."""
    return [str(e.value) for e in user.find(ui.input).elements]


async def test_an_admin_tries_adds_and_edits_a_connection_and_its_secret_never_reaches_the_page(
    user: User, store: Store
) -> None:
    await user.open("/connections")
    await user.should_see("Sandbox")
    await user.should_see("Production")
    user.find(marker="connection-test-crm-sandbox").click()
    await user.should_see("connected: ", retries=50)
    assert "accounts" in _element(user, "connection-tried-crm-sandbox").text

    user.find(marker="connection-new").click()
    await user.should_see("New connection")
    user.find(marker="connection-name").type("hubspot")
    _element(user, "connection-type").set_value("http")
    await user.should_see("HTTP API")
    user.find(marker="setting-base_url").type("api.hubapi.com")  # no scheme: refused, naming it
    await user.should_not_see(marker="setting-token")  # an auth kind's settings come with it
    _element(user, "setting-auth").set_value("bearer")
    await user.should_see(marker="setting-token")
    await user.should_not_see(marker="setting-client_secret")
    user.find(marker="setting-token").type("pat-na1-s3cret")
    user.find(marker="connection-save").click()
    await user.should_see("must start with http:// or https://")
    with pytest.raises(FlowbridgeError):
        connection_spec(store, "hubspot", "sandbox")  # nothing kept

    _element(user, "setting-base_url").set_value("https://api.hubapi.com")
    user.find(marker="connection-save").click()
    await user.should_see("connection 'hubspot' (sandbox) saved")
    saved = connection_spec(store, "hubspot", "sandbox")
    assert saved.settings == {"base_url": "https://api.hubapi.com", "auth": "bearer", "token": "pat-na1-s3cret"}

    await user.should_see(marker="connection-edit-hubspot-sandbox")  # the list is drawn again with it
    user.find(marker="connection-edit-hubspot-sandbox").click()
    await user.should_see("Connection hubspot (sandbox)")
    assert "pat-na1-s3cret" not in _secret_values(user)  # write-only: the page never had it
    token = _element(user, "setting-token")
    assert token.value == "" and token.props["hint"] == "set: type to replace it, leave empty to keep it"
    _element(user, "setting-timeout").set_value(20)
    user.find(marker="connection-save").click()
    await user.should_see("connection 'hubspot' (sandbox) saved")
    kept = connection_spec(store, "hubspot", "sandbox").settings
    assert kept["token"] == "pat-na1-s3cret" and kept["timeout"] == 20


async def test_a_sql_address_is_shown_with_its_password_hidden_and_saved_with_it_kept(user: User, store: Store):
    admin = access.Principal("adam", "admin")
    url = "postgresql+psycopg2://flowbridge:pg-s3cret@db.example.com:5432/erp"
    connection_service.save_connection(store, "warehouse", "production", "sql", {"url": url}, who=admin)
    await user.open("/connections")
    user.find(marker="connection-edit-warehouse-production").click()
    await user.should_see("Connection warehouse (production)")
    shown = _element(user, "setting-url").value
    assert "pg-s3cret" not in shown and "***" in shown
    assert all("pg-s3cret" not in value for value in _secret_values(user))
    _element(user, "setting-url").set_value(shown.replace("db.example.com", "db2.example.com"))
    user.find(marker="connection-save").click()
    await user.should_see("connection 'warehouse' (production) saved")
    assert connection_spec(store, "warehouse", "production").settings["url"] == url.replace("db.", "db2.")


async def test_a_viewer_sees_the_connections_with_the_controls_disabled_and_is_refused_on_the_server(
    user: User, store: Store
) -> None:
    token = access.add_user(store, "vic", "viewer")
    access.add_user(store, "ada", "admin")
    session.forget_open_state()
    await user.open("/connections")
    await sign_in(user, "vic", token, "viewer")
    await user.open("/connections")
    await user.should_see("crm")
    for marker in ("connection-new", "connection-edit-crm-sandbox", "connection-test-crm-sandbox"):
        assert not _element(user, marker).enabled, marker
    await user.should_see("Only an admin may add, edit or try connections")
    viewer = access.Principal("vic", "viewer")
    with pytest.raises(access.Forbidden, match=r"vic \(viewer\) may not manage connections; that needs admin"):
        connection_service.connection_form(store, "crm", "sandbox", who=viewer)
    with pytest.raises(access.Forbidden):
        connection_service.try_connection(store, "crm", "sandbox", who=viewer)
    with pytest.raises(access.Forbidden):
        connection_service.save_connection_form(store, "crm", "sandbox", "sql", {"url": "sqlite://"}, who=viewer)


async def test_an_admin_authorizes_an_oauth2_connection_from_the_page(user: User, store: Store) -> None:
    import urllib.parse

    import httpx

    from app.sandbox.http_serve import serve_app
    from tests.http.oauth2_api import CLIENT_ID, CLIENT_SECRET, TokenServer, oauth2_api

    server = TokenServer()
    served = serve_app(oauth2_api(server), name="oauth2 api")
    try:
        settings = {
            "base_url": served.url,
            "auth": "oauth2_authorization_code",
            "token_url": f"{served.url}/oauth/token",
            "authorize_url": f"{served.url}/oauth/authorize",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        admin = access.Principal("adam", "admin")
        connection_service.save_connection(store, "erp_oauth", "sandbox", "http", settings, who=admin)
        await user.open("/connections")
        user.find(marker="connection-authorize-erp_oauth-sandbox").click()
        await user.should_see("Give consent at the provider")
        [link] = user.find(marker="authorize-link").elements
        consent = httpx.get(link.props["href"], timeout=10)  # the admin allows at the provider
        assert consent.status_code == 302
        back = urllib.parse.urlsplit(consent.headers["location"])
        assert back.path == "/connections/authorized"
        await user.open(f"{back.path}?{back.query}")
        await user.should_see("connection 'erp_oauth' (sandbox) is authorized; its refresh token is kept sealed")
        kept = connection_spec(store, "erp_oauth", "sandbox").settings["refresh_token"]
        assert kept in server.refresh_tokens
        await user.open(f"{back.path}?{back.query}")  # the same answer again: matches nothing now
        await user.should_see("this answer matches no consent asked by this server")
    finally:
        served.stop()


async def test_an_apis_own_headers_are_write_only_too(user: User, store: Store) -> None:
    admin = access.Principal("adam", "admin")
    settings = {"base_url": "https://api.example.com", "headers": {"X-API-Key": "k-s3cret"}}
    connection_service.save_connection(store, "keyed", "sandbox", "http", settings, who=admin)
    form = connection_service.connection_form(store, "keyed", "sandbox", who=admin)
    assert "headers" not in form["settings"] and form["secrets_set"] == ["headers"]
    await user.open("/connections")
    user.find(marker="connection-edit-keyed-sandbox").click()
    await user.should_see("Connection keyed (sandbox)")
    assert all("k-s3cret" not in str(e.value) for e in user.find(ui.textarea).elements)
    user.find(marker="connection-save").click()  # saved untouched: the headers are kept
    await user.should_see("connection 'keyed' (sandbox) saved")
    assert connection_spec(store, "keyed", "sandbox").settings["headers"] == {"X-API-Key": "k-s3cret"}
