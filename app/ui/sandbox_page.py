"""The Sandbox page: the sandbox CRM and ERP REST APIs of this server, started, reset and stopped,
and their fault switches (slow answers, 500s, 429s, dropped connections, going down), so a tester
can try a flow's error handling from the browser."""

from __future__ import annotations

from typing import Any

from nicegui import run, ui

from app.services import sandboxes
from app.ui import session
from app.ui.feedback import guarded, instant_spinner, spinner_done
from app.ui.frame import frame

REFRESH_SECONDS = 2.0
# (setting, label, kind, help): rates are shown in percent, stored as shares of calls.
FAULTS = (
    ("error_rate", "Answer 500", "percent", "share of calls answered 500 Internal Server Error"),
    ("rate_limit_rate", "Answer 429", "percent", "share of calls answered 429 Too Many Requests"),
    ("drop_rate", "Drop the connection", "percent", "share of calls cut off half-way through the answer"),
    ("latency_ms", "Slow by (ms)", "number", "every call waits this long before answering"),
    ("retry_after", "Retry-After (s)", "number", "what a 429 asks the caller to wait"),
    ("down_after", "Go down after (calls)", "number", "from this many calls on, every call gets 500; 0: never"),
)
COUNTS = (("calls", "calls"), ("errors", "500s"), ("rate_limited", "429s"), ("dropped", "dropped"))
NAMES = {"crm": "Sandbox CRM", "erp": "Sandbox ERP"}


@ui.page("/sandbox")
def sandbox_page() -> None:
    with frame("Sandbox", active="Sandbox"):
        SandboxPanel().render()


class SandboxPanel:
    def __init__(self) -> None:
        self.count_labels: dict[tuple[str, str], ui.label] = {}

    @ui.refreshable_method
    def render(self) -> None:
        ui.label("Sandbox systems").classes("text-2xl font-semibold")
        ui.label(
            "The demo CRM and ERP as REST APIs (the crm_api and erp_api connections of the HTTP flows). "
            "Start them, put their seeded data back, or make them misbehave to see how a flow copes: "
            "every record must end written or in dead letters with a reason."
        ).classes("fb-muted")
        state = sandboxes.state()
        self._status(state)
        if state.running:
            with ui.row().classes("w-full gap-4 items-stretch no-wrap"):
                for system in ("crm", "erp"):
                    self._system(system, state)
            ui.timer(REFRESH_SECONDS, self._refresh_counts)

    def _status(self, state: sandboxes.SandboxState) -> None:
        with ui.row().classes("w-full items-center gap-3 no-wrap fb-card px-5 py-3 fb-sandbox-status"):
            ui.label("running" if state.running else "stopped").classes(
                f"fb-chip {'fb-chip-ok' if state.running else 'fb-chip-neutral'} fb-sandbox-state"
            )
            if state.running:
                with ui.column().classes("gap-0"):
                    with ui.row().classes("gap-4"):
                        for system, url in state.urls.items():
                            ui.link(f"{NAMES[system]} {url}", f"{url}/_docs", new_tab=True).classes(
                                "no-underline text-sm"
                            ).tooltip("Its API documentation")
                    ui.label(f"data in {state.folder} · Authorization: Bearer sandbox-token").classes(
                        "fb-muted text-xs"
                    )
            else:
                ui.label(
                    "Not served by this server. `flowbridge serve --sandboxes DIR` starts them with it, "
                    "or start them here (data in ./sandbox-data, seeded the first time)."
                ).classes("fb-muted text-sm min-w-0")
            ui.space()
            if state.running:
                instant_spinner(ui.button("Reset data", icon="restart_alt", on_click=self.reset), "Resetting…").props(
                    "outline no-caps"
                ).classes("fb-sandbox-reset").tooltip("The seeded data back in both systems, and every fault off")
                ui.button("Stop", icon="stop", on_click=self.stop).props("flat no-caps color=negative").classes(
                    "fb-sandbox-stop"
                )
            else:
                instant_spinner(
                    ui.button("Start", icon="play_arrow", on_click=self.start), "Starting the sandboxes…"
                ).props("unelevated no-caps").classes("fb-sandbox-start shrink-0").mark("sandbox-start")

    def _system(self, system: str, state: sandboxes.SandboxState) -> None:
        faults = state.faults[system]
        inputs: dict[str, Any] = {}
        with ui.column().classes(f"fb-card p-5 gap-2 grow basis-0 fb-sandbox-{system}"):
            ui.label(NAMES[system]).classes("text-lg font-semibold")
            with ui.row().classes("gap-2"):
                for key, label in COUNTS:
                    self.count_labels[(system, key)] = ui.label(f"{faults['counts'].get(key, 0)} {label}").classes(
                        "fb-chip fb-chip-neutral"
                    )
            with ui.grid(columns=2).classes("w-full gap-2"):
                self._fault_fields(system, faults, inputs)
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("All off", on_click=lambda s=system: self.apply(s, {})).props("flat no-caps").classes(
                    f"fb-faults-off-{system}"
                )
                ui.button(
                    "Apply", icon="bolt", on_click=lambda s=system, i=inputs: self.apply(s, self._settings(i))
                ).props("unelevated no-caps").classes(f"fb-faults-apply-{system}").mark(f"faults-apply-{system}")

    @staticmethod
    def _fault_fields(system: str, faults: dict[str, Any], inputs: dict[str, Any]) -> None:
        for setting, label, kind, hint in FAULTS:
            value = faults[setting]
            shown = round(value * 100) if kind == "percent" else value
            field = (
                ui.number(
                    label + (" (%)" if kind == "percent" else ""),
                    value=shown,
                    min=0,
                    max=100 if kind == "percent" else None,
                    step=0.5 if setting == "retry_after" else 1,
                )
                .props("outlined dense")
                .classes(f"w-full fb-fault-{system}-{setting}")
                .tooltip(hint)
            )
            inputs[setting] = (field, kind)

    @staticmethod
    def _settings(inputs: dict[str, Any]) -> dict[str, Any]:
        settings = {}
        for setting, (field, kind) in inputs.items():
            value = float(field.value or 0)
            settings[setting] = value / 100 if kind == "percent" else value
        return settings

    def _refresh_counts(self) -> None:
        state = sandboxes.state()
        if not state.running:
            return
        for (system, key), label in self.count_labels.items():
            text = f"{state.faults[system]['counts'].get(key, 0)} {dict(COUNTS)[key]}"
            if label.text != text:
                label.set_text(text)

    @guarded("start the sandboxes")
    async def start(self) -> None:
        try:
            if not session.permit("run", "sandbox"):
                return
            state = await run.io_bound(sandboxes.start, who=session.principal())
        finally:
            spinner_done()
        ui.notify(f"Sandbox CRM on {state.urls['crm']} and ERP on {state.urls['erp']}", type="positive")
        self.render.refresh()

    @guarded("reset the sandboxes")
    async def reset(self) -> None:
        try:
            if not session.permit("run", "sandbox"):
                return
            await run.io_bound(sandboxes.reset, who=session.principal())
        finally:
            spinner_done()
        ui.notify("Both sandboxes hold their seeded data again, with every fault off", type="positive")
        self.render.refresh()

    @guarded("stop the sandboxes")
    def stop(self) -> None:
        if not session.permit("run", "sandbox"):
            return
        sandboxes.stop(who=session.principal())
        ui.notify("The sandbox APIs stopped; flows calling them will fail until they start again", type="info")
        self.render.refresh()

    @guarded("set the faults")
    def apply(self, system: str, settings: dict[str, Any]) -> None:
        if not session.permit("run", "sandbox"):
            return
        sandboxes.set_faults(system, settings, who=session.principal())
        active = [label for setting, label, _, _ in FAULTS if settings.get(setting) and setting != "retry_after"]
        ui.notify(f"{NAMES[system]}: " + (", ".join(active) if active else "no faults"), type="info")
        self.render.refresh()
