"""Signing in and roles in the web app: once a user exists every page needs a signed-in browser,
and what a role may not do is refused by the server when the button is pressed, with the reason."""

from __future__ import annotations

import pytest
from nicegui.testing.user import User

from app.services import access
from app.store import flows as flow_store
from app.store import runs as run_store
from app.store.database import Store
from app.ui import context, session

FLOW = "crm_accounts_to_erp_customers"


def _users(store: Store) -> dict[str, str]:
    tokens = {
        name: access.add_user(store, name, role)
        for name, role in (("ada", "admin"), ("tess", "tester"), ("vic", "viewer"))
    }
    session.forget_open_state()
    return tokens


async def _sign_in(user: User, name: str, token: str) -> None:
    user.find(marker="sign-in-name").type(name)
    user.find(marker="sign-in-token").type(token)
    user.find(marker="sign-in-submit").click()


async def _on_flows_page_as(user: User, store: Store, name: str) -> None:
    """Users exist; this browser opens the Flows page and signs in as `name` on the way."""
    tokens = _users(store)
    await user.open("/")
    await _sign_in(user, name, tokens[name])
    role = {"ada": "admin", "tess": "tester", "vic": "viewer"}[name]
    await user.should_see(f"{name} · {role}", retries=30)


async def test_an_open_server_says_so_and_needs_no_sign_in(user: User) -> None:
    await user.open("/")
    await user.should_see("Open demo: everyone is admin")
    await user.should_see("CRM accounts → ERP customers")


async def test_pages_need_a_sign_in_once_users_exist_and_a_wrong_token_is_refused(user: User, store: Store) -> None:
    tokens = _users(store)
    await user.open("/runs?status=failed")
    await user.should_see("Sign in to Flowbridge")
    await user.should_not_see("CRM accounts → ERP customers")
    await _sign_in(user, "tess", tokens["ada"])  # someone else's token
    await user.should_see("That name and token do not match a user of this server")
    await _sign_in(user, "tess", "not-a-token")
    await user.should_see("That name and token do not match a user of this server")
    user.find(marker="sign-in-name").clear()
    user.find(marker="sign-in-token").clear()
    await _sign_in(user, "tess", tokens["tess"])
    await user.should_see("tess · tester", retries=30)  # and it went where the browser wanted to go
    await user.should_see("Every run, newest first")


async def test_a_tester_cannot_switch_a_flow_but_may_run_it_in_the_sandbox(user: User, store: Store) -> None:
    await _on_flows_page_as(user, store, "tess")
    [switch] = user.find(marker=f"switch-{FLOW}").elements
    assert not switch.enabled  # offered disabled, saying who may
    await user.should_see("tess (tester) may not switch; that needs admin", retries=30)
    from app.services import switches

    with pytest.raises(access.Forbidden, match="tess \\(tester\\) may not switch"):  # and the server refuses
        switches.switch(store, FLOW, True, who=access.Principal("tess", "tester"))
    assert not flow_store.get_flow(store, FLOW).enabled
    user.find(marker=f"run-{FLOW}").click()
    await user.should_see("started in the sandbox", retries=30)
    context.root().queues.drain()
    [started] = run_store.list_runs(store, flow_id=FLOW)
    assert (started.env, started.started_by) == ("sandbox", "tess")


async def test_a_viewer_may_look_but_not_run(user: User, store: Store) -> None:
    await _on_flows_page_as(user, store, "vic")
    [run_now] = user.find(marker=f"run-{FLOW}").elements
    assert not run_now.enabled
    await user.should_see("vic (viewer) may not run in sandbox", retries=30)
    from app.services import operations

    with pytest.raises(access.Forbidden, match="vic \\(viewer\\) may not run in sandbox"):
        operations.queue_flow_run(
            store, FLOW, None, queues=context.root().queues, env="sandbox", who=access.Principal("vic", "viewer")
        )
    context.root().queues.drain()
    assert run_store.list_runs(store, flow_id=FLOW) == []


async def test_an_admin_switches_and_is_recorded_by_their_signed_in_name(user: User, store: Store) -> None:
    await _on_flows_page_as(user, store, "ada")
    user.find(marker=f"switch-{FLOW}").click()
    await user.should_see(marker="switch-confirm")
    user.find(marker="switch-confirm").click()
    await user.should_see("is switched on", retries=50)
    flow = flow_store.get_flow(store, FLOW)
    assert flow.enabled
    from app.services import switches

    assert [(s.enabled, s.who) for s in switches.history(store, FLOW)] == [(True, "ada")]
    user.find(marker="sign-out").click()
    await user.should_see("Sign in to Flowbridge", retries=30)


async def test_a_viewer_cannot_replace_a_flow_by_importing_json_and_no_version_is_stored(
    user: User, store: Store
) -> None:
    import json
    from pathlib import Path

    from nicegui import ui
    from nicegui.elements.upload_files import SmallFileUpload

    await _on_flows_page_as(user, store, "vic")
    before = [v.version for v in flow_store.list_versions(store, FLOW)]
    document = json.loads(Path(f"flows/{FLOW}.json").read_text())
    document["description"] = "changed by a viewer"
    upload = next(iter(user.find(ui.upload).elements))
    await upload.handle_uploads([SmallFileUpload("mine.json", "application/json", json.dumps(document).encode())])
    await user.should_see("vic (viewer) may not edit", retries=30)
    assert [v.version for v in flow_store.list_versions(store, FLOW)] == before
    assert flow_store.get_document(store, FLOW)[0]["description"] != "changed by a viewer"


async def test_an_analysts_saved_version_is_theirs_whatever_name_the_dialog_held(user: User, store: Store) -> None:
    tokens = _users(store)
    tokens["ana"] = access.add_user(store, "ana", "analyst")
    await user.open(f"/flows/{FLOW}")
    await _sign_in(user, "ana", tokens["ana"])
    await user.should_see("ana · analyst", retries=30)
    user.find(marker="save").click()
    author = next(iter(user.find(marker="author").elements))
    assert author.value == "ana" and "readonly" in author.props  # shown, not asked
    user.find(marker="comment").type("tidy")
    user.find(marker="save-confirm").click()
    await user.should_see("Saved version", retries=30)
    assert flow_store.list_versions(store, FLOW)[0].author == "ana"


async def test_a_viewer_cannot_acknowledge_an_alert(user: User, store: Store) -> None:
    from app.services import alerts

    alerts.raise_alert(store, FLOW, "run_failed", "run x of the flow failed: boom", None)
    [alert] = alerts.open_alerts(store)
    await _on_flows_page_as(user, store, "vic")
    user.find(marker=f"ack-{alert.id}").click()
    await user.should_see("vic (viewer) may not acknowledge alerts", retries=30)
    assert [a.id for a in alerts.open_alerts(store)] == [alert.id]


OFF_SITE = [
    "/\\127.0.0.1:8261/x",
    "/\\\\127.0.0.1:8261/x",
    "/\t/127.0.0.1:8261/x",
    "/\n/127.0.0.1/x",
    "//127.0.0.1:8261/x",
    "https://127.0.0.1:8261/x",
    "javascript:alert(1)",
    "/ok\\..\\\\evil",
]


def test_only_a_path_on_this_server_is_a_place_to_go_after_signing_in() -> None:
    from app.ui.session import safe_next

    assert [safe_next(target) for target in OFF_SITE] == ["/"] * len(OFF_SITE)
    assert safe_next("/runs?status=failed&flow=x") == "/runs?status=failed&flow=x"


async def test_a_sign_in_link_to_another_site_lands_on_the_flows_page(user: User, store: Store) -> None:
    from urllib.parse import quote

    tokens = _users(store)
    await user.open(f"/sign-in?next={quote(OFF_SITE[0], safe='')}")
    await _sign_in(user, "ada", tokens["ada"])
    await user.should_see("ada · admin", retries=30)
    await user.should_see("CRM accounts → ERP customers")  # the Flows page, on this server


async def test_signing_in_makes_a_new_session_and_what_the_browser_held_before_stays_signed_out(
    user: User, store: Store
) -> None:
    import httpx
    from nicegui import app as nicegui_app

    from app.services import sign_ins

    tokens = _users(store)
    await user.open("/sign-in")
    planted = dict(user.http_client.cookies)  # the session cookie an attacker could have given this browser
    await _sign_in(user, "ada", tokens["ada"])
    await user.should_see("ada · admin", retries=30)
    after = dict(user.http_client.cookies)
    assert sign_ins.COOKIE in after and after.get("session") != planted.get("session")

    async def lands_on(cookies: dict) -> str:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=nicegui_app), base_url="http://test", cookies=cookies
        ) as browser:
            reply = await browser.get("/runs", follow_redirects=False)
        return reply.headers.get("location", "") if reply.is_redirect else str(reply.status_code)

    assert lands_on_sign_in(await lands_on(planted))  # what it held before is not signed in
    assert await lands_on(after) == "200"  # the new sign-in is
    user.find(marker="sign-out").click()
    await user.should_see("Sign in to Flowbridge", retries=30)
    assert lands_on_sign_in(await lands_on(after))  # signed out: a copy of the cookie opens nothing
    forged = {**after, sign_ins.COOKIE: "made-up"}
    assert lands_on_sign_in(await lands_on(forged))


def lands_on_sign_in(location: str) -> bool:
    return location.startswith("/sign-in")


def test_the_cookie_key_is_random_and_kept_beside_the_store_for_its_owner_only(user: User, store: Store) -> None:
    import stat
    from pathlib import Path

    from app.store.secrets import COOKIE_KEY_FILE

    key = Path(store.url.removeprefix("sqlite:///")).parent / COOKIE_KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_text().strip()) == 64 and key.read_text().strip() != "flowbridge-ui"


def test_a_new_store_file_is_readable_by_its_owner_only(tmp_path) -> None:
    import stat

    opened = Store(f"sqlite:///{tmp_path / 'fresh' / 'flowbridge.db'}")
    opened.close()
    assert stat.S_IMODE((tmp_path / "fresh" / "flowbridge.db").stat().st_mode) == 0o600


async def test_no_other_site_may_frame_the_pages(user: User) -> None:
    reply = await user.http_client.get("/")
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"]
