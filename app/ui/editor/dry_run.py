"""The editor's dry run on screen: the toolbar's menu, the refusal, and the result dialog (the run
itself is services/dry_runs.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.environments import IN_WORDS
from app.problems import one_line
from app.services.dry_runs import DryRun
from app.ui.changes_view import changes_view
from app.ui.feedback import instant_spinner
from app.ui.numbers import counted


def refusal(report: DryRun) -> str:
    problems = report.checked.problems
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return (
        f"No dry run: {report.ran} has {len(problems)} problem{'s' if len(problems) != 1 else ''} — "
        f"{one_line(str(problems[0]))}{more}. Fix them first; the problems chip lists them."
    )


def dry_run_menu(start: Callable[[str], Any]) -> ui.button:
    """The toolbar's "Dry run" button: pick the environment to read from."""
    # No tooltip: it would cover the menu it opens; the menu says what a dry run is instead.
    with ui.button("Dry run", icon="visibility").props("flat no-caps").classes("fb-dry-run") as button:
        with ui.menu():
            ui.label("Runs the whole flow as drawn and writes nothing").classes("fb-muted text-xs px-4 pt-2 pb-1")
            instant_spinner(
                ui.menu_item("Dry run in the sandbox", on_click=lambda: start("sandbox")), "Dry run in the sandbox…"
            ).classes("fb-dry-run-sandbox").mark("dry-run-sandbox")
            instant_spinner(
                ui.menu_item("Dry run against production (reads only)", on_click=lambda: start("production")),
                "Dry run against production…",
            ).classes("fb-dry-run-production").mark("dry-run-production")
    return button


def show_dry_run(report: DryRun) -> None:
    """The dry run's result in a dialog (opened in the current container)."""
    result = report.result
    assert result is not None
    with (
        ui.dialog() as dialog,
        ui.card()
        .classes("gap-3 fb-dry-run-result")
        .style("width: min(1120px, 94vw); max-width: 94vw; max-height: 90vh"),
    ):
        # Told before the dialog goes: a notification from a deleted element reaches no page.
        dialog.on(
            "hide",
            lambda: (
                ui.notify(
                    f"The counts on the canvas are the dry run's in {IN_WORDS.get(report.env, report.env)}: "
                    "nothing was written",
                    type="info",
                ),
                dialog.delete(),
            ),
        )
        with ui.row().classes("w-full items-start no-wrap gap-3"):
            ok = result.status == "succeeded"
            ui.icon("visibility" if ok else "warning").classes(
                "text-2xl mt-1 " + ("text-primary" if ok else "text-warning")
            )
            with ui.column().classes("gap-0 min-w-0"):
                ui.label(f"Dry run in {IN_WORDS.get(report.env, report.env)} — nothing was written").classes(
                    "text-lg font-semibold fb-dry-run-title"
                )
                read = f"{', '.join(report.connections)} ({report.env})" if report.connections else report.env
                ui.label(f"Ran {report.ran}. Read {read}; wrote nothing, moved no cursor.").classes(
                    "fb-muted text-sm fb-dry-run-what"
                )
            ui.space()
            ui.button(icon="close", on_click=dialog.close).props("flat round dense").classes("fb-dry-run-close")
        with ui.row().classes("w-full items-center gap-2 fb-dry-run-totals"):
            _chip(report.env, "fb-chip-draft" if report.env == "production" else "fb-chip-neutral")
            for name, label, css in (
                ("read", "read", "fb-chip-neutral"),
                ("inserted", "would insert", "fb-chip-ok"),
                ("updated", "would update", "fb-chip-ok"),
                ("unchanged", "unchanged", "fb-chip-neutral"),
                ("filtered", "filtered out", "fb-chip-neutral"),
                ("failed", "would fail", "fb-chip-draft"),
            ):
                if result.totals.get(name):
                    _chip(f"{counted(result.totals[name])} {label}", css)
            ui.space()
            ui.label(f"{report.seconds:.1f} s · stored as run").classes("fb-muted text-xs")
            ui.link(result.run_id, f"/runs/{result.run_id}").classes("text-xs fb-dry-run-link")
        summary = result.ledger.summary()
        early = result.totals.get("unchanged", 0) - sum(c.get("unchanged", 0) for c in summary.values())
        if early > 0:  # the totals count them as unchanged; the node tabs below list only what reached a write
            ui.label(
                f"{early} record{'s' if early != 1 else ''} unchanged since the last sync stopped before "
                "any write node, so the tabs below do not list them."
            ).classes("fb-muted text-xs fb-dry-run-early")
        if result.error:
            ui.label(f"The dry run stopped: {one_line(result.error)}").classes("fb-problem-box w-full fb-dry-run-error")
        # Scrolls down only: a wide table scrolls sideways by itself, keeping the search in sight.
        with (
            ui.element("div").classes("w-full min-w-0 fb-dry-run-changes").style("height: 62vh; overflow: hidden auto")
        ):
            changes_view(report.changes, summary)
    dialog.open()


def _chip(text: str, css: str) -> None:
    ui.label(text).classes(f"fb-chip {css}")
