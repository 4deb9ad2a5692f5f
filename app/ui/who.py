"""Who is doing something: the name this browser remembers (the editor's save dialog sets it too),
and a dialog that confirms an action and asks for that name first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import app, ui

from app.ui import session
from app.ui.feedback import instant_spinner, spinner_done

KEY = "author"  # the key the editor's save dialog uses


def remembered_name() -> str:
    try:
        return str(app.storage.user.get(KEY, "") or "")
    except RuntimeError:  # no browser session (a background task): nobody to remember
        return ""


def remember_name(name: str) -> None:
    app.storage.user[KEY] = name.strip()


def ask_who(
    title: str,
    sentence: str,
    button: str,
    on_confirm: Callable[[str], Awaitable[Any] | Any],
    *,
    danger: bool = False,
    css: str = "",
    busy: str = "",
    action: str | None = None,
    env: str | None = None,
) -> ui.dialog | None:
    """Open a dialog saying what will happen, with 'Your name' filled in; `on_confirm(name)` runs
    once it is confirmed. With `busy`, a spinner saying it shows the moment the button is pressed
    (in the browser) until `on_confirm` is done. With `action`, the user's role must allow it (checked
    when the dialog would open and again when it is confirmed); a signed-in user's name is theirs."""
    if action and not session.permit(action, env):
        spinner_done()
        return None
    signed_in = not session.is_open()
    # The action runs where the dialog was opened from: the dialog itself is gone (and with it what the
    # action would show) by the time a long action ends.
    home = ui.context.slot.parent
    with ui.dialog() as dialog, ui.card().classes(f"w-[30rem] gap-3 fb-ask-who {css}"):
        dialog.on("hide", dialog.delete)
        ui.label(title).classes("text-lg font-semibold")
        ui.label(sentence).classes("fb-muted text-sm")
        name = (
            ui.input("Your name", value=session.actor_name() if signed_in else remembered_name())
            .props("outlined dense autofocus" + (" readonly" if signed_in else ""))
            .classes("w-full fb-who-name")
            .mark("who-name")
        )
        ui.label("Recorded with what you do, with the time.").classes("fb-muted text-xs")

        async def confirm() -> None:
            who = (name.value or "").strip()
            if not who:
                spinner_done()
                ui.notify("Say who you are: it is recorded with what you do", type="warning")
                return
            if action and not session.permit(action, env):
                spinner_done()
                return
            if not signed_in:
                remember_name(who)
            dialog.close()
            try:
                with home:
                    outcome = on_confirm(who)
                    if isinstance(outcome, Awaitable):
                        await outcome
            finally:
                spinner_done()

        name.on("keydown.enter", confirm)
        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            confirm_button = (
                ui.button(button, on_click=confirm)
                .props(f"unelevated no-caps color={'negative' if danger else 'primary'}")
                .classes("fb-who-confirm")
                .mark("who-confirm")
            )
            if busy:
                instant_spinner(confirm_button, busy)
    dialog.open()
    return dialog
