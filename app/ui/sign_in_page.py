"""Signing in: once users exist, every page needs a signed-in browser (name and API token).

The middleware sends a browser that is not signed in to /sign-in, remembering where it wanted to
go; the REST API and webhooks have their own tokens and are not touched here.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app, ui
from starlette.middleware.base import BaseHTTPMiddleware

from app.services import access, sign_ins
from app.ui import session
from app.ui.feedback import tell_error

SIGN_IN = "/sign-in"
COMPLETE = "/sign-in/complete"
# Paths a browser may load without signing in: NiceGUI's own files, this page, and the parts with their
# own authentication (the REST API's bearer tokens, the webhooks' secrets, /metrics' API token), and
# the supervisor's probes.
PUBLIC_PREFIXES = ("/_nicegui", SIGN_IN, "/api/", "/hooks/", "/favicon", "/metrics", "/healthz", "/readyz")


class SignInRequired(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next):
        path = request.url.path
        if (
            not path.startswith(PUBLIC_PREFIXES)
            and not session.is_open()
            and session.signed_in(session.sign_in_token(request)) is None
        ):
            wanted = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"{SIGN_IN}?next={quote(wanted, safe='')}")
        return await call_next(request)


def install() -> None:
    app.add_middleware(SignInRequired)
    app.add_api_route(COMPLETE, complete_sign_in, methods=["GET"], include_in_schema=False)


def complete_sign_in(request: Request, ticket: str = "", next: str = "/") -> RedirectResponse:
    """The browser's new sign-in cookie, for a ticket the sign-in form just made; then where it wanted to go."""
    token = session.take_ticket(ticket)
    if token is None:
        return RedirectResponse(SIGN_IN, status_code=303)
    request.session.clear()  # the session the browser had before signing in is left behind
    response = RedirectResponse(session.safe_next(next), status_code=303)
    response.set_cookie(
        sign_ins.COOKIE,
        token,
        max_age=int(sign_ins.LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@ui.page(SIGN_IN)
def sign_in_page(next: str = "/") -> None:
    ui.page_title("Sign in · Flowbridge")
    ui.colors(primary="#2563eb")
    with ui.column().classes("w-full items-center pt-24"):
        with ui.card().classes("w-[26rem] gap-3 p-6 fb-sign-in"):
            with ui.row().classes("items-center gap-2"):
                ui.icon("hub").classes("text-3xl text-primary")
                ui.label("Sign in to Flowbridge").classes("text-xl font-semibold")
            if session.is_open():
                ui.label(
                    "This server has no users yet, so it is open: everyone acts as admin. "
                    "`flowbridge user add NAME --role admin` closes it."
                ).classes("fb-muted text-sm")
                ui.button("Go to the flows", on_click=lambda: ui.navigate.to("/")).props("unelevated no-caps")
                return
            ui.label(
                "Your name and the API token `flowbridge user add` gave you. Your role decides what you "
                "may do: testers run and replay only in the sandbox."
            ).classes("fb-muted text-sm")
            name = (
                ui.input("Name")
                .props("outlined dense autofocus")
                .classes("w-full fb-sign-in-name")
                .mark("sign-in-name")
            )
            token = (
                ui.input("API token", password=True, password_toggle_button=True)
                .props("outlined dense")
                .classes("w-full fb-sign-in-token")
                .mark("sign-in-token")
            )

            def submit() -> None:
                if not (name.value or "").strip() or not (token.value or "").strip():
                    ui.notify("Give your name and your API token", type="warning")
                    return
                try:
                    who, ticket = session.sign_in(name.value, token.value)
                except access.Unauthenticated:
                    ui.notify("That name and token do not match a user of this server", type="negative")
                    return
                except Exception as error:  # the store is unreachable, say
                    tell_error(error, "sign in")
                    return
                ui.notify(f"Signed in as {who.name} ({who.role})", type="positive")
                ui.navigate.to(f"{COMPLETE}?ticket={ticket}&next={quote(session.safe_next(next), safe='')}")

            token.on("keydown.enter", submit)
            ui.button("Sign in", icon="login", on_click=submit).props("unelevated no-caps").classes(
                "w-full fb-sign-in-submit"
            ).mark("sign-in-submit")


def sign_out() -> None:
    session.sign_out()
    ui.navigate.to(SIGN_IN)
