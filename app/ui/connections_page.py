"""The Connections page (admin): every connection per environment, added, edited and tried from the
browser, with the same checks and encryption as `flowbridge connection set`.

The form is drawn from the type's settings schema (app/connectors/settings_schemas.py), so a new
setting gets a field without UI code. Secrets are write-only: the page never receives them (a
secret's field is empty, saying whether one is set; left empty, the stored one is kept), and a SQL
address comes with its password as ***. Other roles see the list with the controls disabled,
saying who may; the services refuse them all the same.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from nicegui import run, ui

from app.environments import ENVIRONMENTS
from app.errors import FlowbridgeError
from app.services import authorize
from app.services import connections as connection_service
from app.ui import context, session
from app.ui.feedback import guarded
from app.ui.frame import frame

ONLY_ADMINS = "Only an admin may add, edit or try connections: they hold the secrets"
# Two names for the address: the form shows the one the command line writes.
ADDRESS_SHOWN = {"http": "base_url", "odata": "base_url", "jsonrpc": "url"}


AUTHORIZATION_CODE = "oauth2_authorization_code"
CALLBACK = "/connections/authorized"  # register <this server>/connections/authorized with the provider


@ui.page("/connections")
def connections_page(request: Request) -> None:
    with frame("Connections", active="Connections"):
        ConnectionsPanel(str(request.base_url).rstrip("/") + CALLBACK).render()


@ui.page(CALLBACK)
def consent_answered(request: Request) -> None:
    """Where the provider sends the admin's browser back with the consent's code."""
    with frame("Connections", active="Connections"):
        try:
            said = authorize.finish_consent(context.store(), dict(request.query_params))
        except FlowbridgeError as error:
            ui.label("Not authorized").classes("text-2xl font-semibold")
            ui.label(str(error)).classes("text-negative").mark("consent-result")
        else:
            ui.label("Authorized").classes("text-2xl font-semibold")
            ui.label(said).classes("text-positive").mark("consent-result")
        ui.link("Back to the connections", "/connections").classes("no-underline")


def _shown_fields(type_: str) -> dict[str, dict[str, Any]]:
    properties = connection_service.settings_schema(type_)["properties"]
    hidden = {"url", "base_url"} - {ADDRESS_SHOWN[type_]} if type_ in ADDRESS_SHOWN else set()
    return {name: schema for name, schema in properties.items() if name not in hidden}


class ConnectionsPanel:
    def __init__(self, callback_url: str) -> None:
        self.may_manage = session.allowed("connections")
        self.callback_url = callback_url

    @ui.refreshable_method
    def render(self) -> None:
        with ui.row().classes("w-full items-center no-wrap"):
            with ui.column().classes("gap-0"):
                ui.label("Connections").classes("text-2xl font-semibold")
                ui.label(
                    "The systems the flows read and write, per environment. Settings are encrypted in the store; "
                    "secrets are never shown again."
                ).classes("fb-muted")
            ui.space()
            add = ui.button("New connection", icon="add", on_click=lambda: self._edit(None, None)).props("no-caps")
            add.mark("connection-new")
            self._gate(add)
        listed = connection_service.connections(context.store())
        if not listed:
            ui.label("No connection yet.").classes("fb-muted")
        for env in ENVIRONMENTS:
            mine = [c for c in listed if c["env"] == env]
            if not mine:
                continue
            ui.label(env.capitalize()).classes("text-lg font-semibold")
            with ui.column().classes("w-full gap-2"):
                for connection in mine:
                    self._row(connection)

    def _gate(self, button: ui.button) -> None:
        if not self.may_manage:
            button.disable()
            button.classes("fb-gated")  # the tooltip shows on the disabled button (theme.css)
            button.tooltip(ONLY_ADMINS)

    def _row(self, connection: dict[str, Any]) -> None:
        name, env = connection["name"], connection["env"]
        with ui.row().classes("w-full items-center no-wrap fb-card px-5 py-3 gap-3").mark(f"connection-{name}-{env}"):
            ui.label(name).classes("font-semibold")
            ui.label(connection["type"]).classes("fb-chip fb-chip-neutral")
            ui.label(connection["target"]).classes("fb-muted text-sm")
            ui.space()
            tried = ui.label("").classes("text-sm").mark(f"connection-tried-{name}-{env}")
            test = ui.button("Test", icon="network_check", on_click=lambda: self._try(name, env, tried))
            test.props("outline no-caps").mark(f"connection-test-{name}-{env}")
            edit = ui.button("Edit", icon="edit", on_click=lambda: self._edit(name, env))
            edit.props("outline no-caps").mark(f"connection-edit-{name}-{env}")
            buttons = [test, edit]
            if connection.get("auth") == AUTHORIZATION_CODE:
                consent = ui.button("Authorize", icon="key", on_click=lambda: self._authorize(name, env))
                consent.props("outline no-caps").mark(f"connection-authorize-{name}-{env}")
                buttons.append(consent)
            for button in buttons:
                button.classes("shrink-0")
                self._gate(button)

    @guarded("try the connection")
    async def _try(self, name: str, env: str, shown: ui.label) -> None:
        if not session.permit("connections"):
            return
        shown.set_text("trying…")
        who = session.principal()
        try:
            said = await run.io_bound(connection_service.try_connection, context.store(), name, env, who=who)
        except FlowbridgeError as error:
            shown.set_text("not connected")
            shown.classes(replace="text-sm text-negative")
            ui.notify(f"{name} ({env}): {error}", type="negative", multi_line=True)
            return
        shown.set_text(str(said))
        shown.classes(replace="text-sm text-positive")

    @guarded("ask for consent")
    def _authorize(self, name: str, env: str) -> None:
        if not session.permit("connections"):
            return
        address = authorize.begin_consent(
            context.store(), name, env, who=session.principal(), redirect_uri=self.callback_url
        )
        with ui.dialog() as dialog, ui.card().classes("w-[40rem] gap-3"):
            dialog.on("hide", dialog.delete)
            ui.label(f"Authorize {name} ({env})").classes("text-lg font-semibold")
            ui.label(
                "Sign in at the provider and allow access; it sends you back here and the refresh token is "
                f"kept sealed. The provider must know {self.callback_url} as a redirect address."
            ).classes("fb-muted text-sm")
            ui.link("Give consent at the provider", address, new_tab=True).mark("authorize-link")
        dialog.open()

    @guarded("open the connection")
    def _edit(self, name: str | None, env: str | None) -> None:
        if not session.permit("connections"):
            return
        held: dict[str, Any] = {"type": "sql", "settings": {}, "secrets_set": []}
        if name is not None and env is not None:
            held = connection_service.connection_form(context.store(), name, env, who=session.principal())
        ConnectionDialog(name, env, held, on_saved=self.render.refresh).open()


class ConnectionDialog:
    """One connection's form: name, environment, type, and the type's settings."""

    def __init__(self, name: str | None, env: str | None, held: dict[str, Any], *, on_saved: Any) -> None:
        self.editing = name is not None
        self.name, self.env, self.type = name or "", env or ENVIRONMENTS[0], str(held["type"])
        self.values: dict[str, Any] = dict(held["settings"])
        self.secrets_set = set(held["secrets_set"])
        self.on_saved = on_saved
        self.dialog = ui.dialog()

    def open(self) -> None:
        with self.dialog, ui.card().classes("w-full gap-3").style("min-width: 560px").mark("connection-dialog"):
            title = f"Connection {self.name} ({self.env})" if self.editing else "New connection"
            ui.label(title).classes("text-lg font-semibold")
            with ui.row().classes("w-full no-wrap gap-3"):
                name = ui.input("Name *", value=self.name).props("dense outlined").classes("w-full")
                name.mark("connection-name").on_value_change(lambda e: setattr(self, "name", e.value.strip()))
                env = ui.select(list(ENVIRONMENTS), label="Environment", value=self.env).props("dense outlined")
                env.mark("connection-env").on_value_change(lambda e: setattr(self, "env", e.value))
                kind = ui.select(list(connection_service.connection_types()), label="Type", value=self.type).props(
                    "dense outlined"
                )
                kind.mark("connection-type").on_value_change(self._type_changed)
                if self.editing:
                    for fixed in (name, env):
                        fixed.disable()
            self.fields()
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=self.dialog.close).props("flat no-caps")
                ui.button("Save", icon="save", on_click=self._save).props("no-caps").mark("connection-save")
        self.dialog.open()

    def _type_changed(self, event: Any) -> None:
        self.type, self.values, self.secrets_set = event.value, {}, set()
        self.fields.refresh()

    @ui.refreshable_method
    def fields(self) -> None:
        schema = connection_service.settings_schema(self.type)
        required = set(schema.get("required", []))
        with ui.column().classes("w-full gap-2"):
            ui.label(schema.get("title", self.type)).classes("fb-muted text-sm")
            for name, field in self._visible().items():
                self._field(name, field, name in required)

    def _visible(self) -> dict[str, dict[str, Any]]:
        """The type's fields, those of an auth kind other than the chosen one left out."""
        fields = _shown_fields(self.type)
        if "auth" not in fields:
            return fields
        used, auth_only = connection_service.auth_fields(self.values.get("auth"))
        return {name: f for name, f in fields.items() if name not in auth_only or name in used}

    def _field(self, name: str, schema: dict[str, Any], required: bool) -> None:
        label = (schema.get("title") or name) + (" *" if required else "")
        hint = schema.get("description") or ""
        value = self.values.get(name)

        def keep(new: Any) -> None:
            self.values[name] = new
            if name == "auth":
                self.fields.refresh()  # the settings of the auth chosen

        if "enum" in schema:
            element: Any = ui.select([*schema["enum"]], label=label, value=value, clearable=True)
        elif schema.get("type") == "boolean":
            element = ui.switch(label, value=bool(value))
        elif schema.get("type") in ("number", "integer"):
            element = ui.number(label, value=value)
        elif schema.get("type") == "object" or "oneOf" in schema:
            text = value if isinstance(value, str) else json.dumps(value, indent=1) if value is not None else ""
            element = ui.textarea(f"{label} (JSON)", value=text)
            hint = hint or ("a preset name, or the JSON of the call" if "oneOf" in schema else "JSON")
            if schema.get("x-secret") and name in self.secrets_set:
                hint = "set: type to replace it, leave empty to keep it"
        elif schema.get("x-secret"):
            element = ui.input(label, password=True, password_toggle_button=True, value="")
            hint = (
                "set: type to replace it, leave empty to keep it"
                if name in self.secrets_set
                else (hint or "write-only: never shown again")
            )
        else:
            element = ui.input(label, value="" if value is None else str(value))
        element.on_value_change(lambda e: keep(e.value))
        if not isinstance(element, ui.switch):
            element.props("dense outlined stack-label").classes("w-full")
            if hint:
                element.props(f"hint={json.dumps(hint)}")
        element.mark(f"setting-{name}")

    def _entered(self) -> dict[str, Any]:
        entered: dict[str, Any] = {}
        fields = _shown_fields(self.type)
        visible = self._visible()
        for name, value in self.values.items():
            schema = fields.get(name, {})
            if name in fields and name not in visible:
                continue  # another auth kind's setting, from before the auth was changed
            if value in (None, "") or (schema.get("type") == "boolean" and value is False):
                continue
            if (schema.get("type") == "object" or "oneOf" in schema) and isinstance(value, str):
                text = value.strip()
                if text.startswith(("{", "[")):
                    try:
                        value = json.loads(text)
                    except ValueError as error:
                        raise FlowbridgeError(f"{schema.get('title') or name}: not JSON ({error})") from None
                else:
                    value = text
            if schema.get("type") == "integer" and isinstance(value, float) and value.is_integer():
                value = int(value)
            entered[name] = value
        return entered

    @guarded("save the connection")
    def _save(self) -> None:
        if not self.name:
            ui.notify("The connection needs a name", type="warning")
            return
        connection_service.save_connection_form(
            context.store(), self.name, self.env, self.type, self._entered(), who=session.principal()
        )
        ui.notify(f"connection '{self.name}' ({self.env}) saved", type="positive")
        self.dialog.close()
        self.on_saved()
