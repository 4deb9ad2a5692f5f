"""A flow's test cases: the page listing them with "Run all tests" and each case's result, the dialog
that saves a run as a case, and the table of what differs per target record (the comparison page
uses it too)."""

from __future__ import annotations

import json
from typing import Any

from nicegui import run as worker
from nicegui import ui

from app.errors import NotFound
from app.services import flow_reads, replay
from app.ui import context, session
from app.ui.feedback import guarded, instant_spinner, spinner_done, tell_error
from app.ui.frame import frame
from app.ui.moments import ago, when
from app.ui.run_chips import env_chip, runs_link

MAX_DIFFERENCE_ROWS = 2000  # a table to read, not an export: the CLI's --json has them all


def tests_link(flow_id: str) -> str:
    return f"/flows/{flow_id}/tests"


def outcome_sentence(results: list[dict[str, Any]]) -> str:
    """'3 of 3 tests passed', '1 of 3 tests failed'."""
    failed = sum(1 for r in results if not r["passed"])
    tests = "test" if len(results) == 1 else "tests"
    return (
        f"{failed} of {len(results)} {tests} failed" if failed else f"{len(results)} of {len(results)} {tests} passed"
    )


def _records(kept: dict[str, Any] | None) -> int:
    return sum(len(records) for records in (kept or {}).values())


def _shown(value: Any) -> str:
    if value is None:
        return "(empty)"
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def _key_text(key: Any) -> str:
    return ", ".join(str(part) for part in key) if isinstance(key, list) else str(key)


def difference_rows(differences: list[dict[str, Any]], added: str, missing: str) -> list[dict[str, Any]]:
    """One row per differing field of a record both sides wrote, one per record only one side wrote."""
    rows: list[dict[str, Any]] = []
    for diff in differences:
        base = {"node": diff["node"], "key": _key_text(diff["key"])}
        was, now = diff.get("before"), diff.get("after")
        if was is None or now is None:
            record = now if was is None else was
            whole = json.dumps(record, default=str, ensure_ascii=False)[:400]
            rows.append(
                {
                    **base,
                    "kind": added if was is None else missing,
                    "change": "added" if was is None else "missing",
                    "field": "(whole record)",
                    "before": "—" if was is None else whole,
                    "after": whole if was is None else "—",
                }
            )
            continue
        for field in diff.get("fields") or []:
            before, after = was.get(field), now.get(field)
            same_text = _shown(before) == _shown(after)  # 1 and "1": show them as JSON to tell them apart
            rows.append(
                {
                    **base,
                    "kind": "changed",
                    "change": "changed",
                    "field": field,
                    "before": json.dumps(before) if same_text else _shown(before),
                    "after": json.dumps(after) if same_text else _shown(after),
                }
            )
    for number, row in enumerate(rows):
        row["n"] = number
    return rows


def difference_table(
    differences: list[dict[str, Any]], *, before: str, after: str, added: str, missing: str, css: str = ""
) -> ui.table:
    rows = difference_rows(differences, added, missing)
    if len(rows) > MAX_DIFFERENCE_ROWS:
        ui.label(f"Showing the first {MAX_DIFFERENCE_ROWS} of {len(rows)} differing fields.").classes(
            "fb-muted text-sm"
        )
    columns = [
        {"name": "node", "label": "Write node", "field": "node", "align": "left", "sortable": True},
        {"name": "key", "label": "Key", "field": "key", "align": "left", "sortable": True},
        {"name": "kind", "label": "", "field": "kind", "align": "left", "style": "width: 1%"},
        {"name": "field", "label": "Field", "field": "field", "align": "left", "sortable": True},
        {"name": "before", "label": before, "field": "before", "align": "left"},
        {"name": "after", "label": after, "field": "after", "align": "left"},
    ]
    table = (
        ui.table(columns=columns, rows=rows[:MAX_DIFFERENCE_ROWS], row_key="n", pagination=25)
        .props("flat bordered dense wrap-cells")
        .classes(f"w-full fb-differences {css}")
    )
    table.add_slot(
        "body-cell-kind",
        """
        <q-td :props="props"><span :class="'fb-chip fb-diff-' + props.row.change">{{ props.value }}</span></q-td>""",
    )
    table.add_slot(
        "body-cell-before",
        """
        <q-td :props="props"><span class="fb-diff-before">{{ props.value }}</span></q-td>""",
    )
    table.add_slot(
        "body-cell-after",
        """
        <q-td :props="props"><span class="fb-diff-after">{{ props.value }}</span></q-td>""",
    )
    return table


# --- saving a run as a test case -----------------------------------------------------------------------


def open_save_case_dialog(flow_id: str, sources: list[tuple[str, str]]) -> None:
    """Ask a name (and, after a replay, whose writes to expect) and save the run as a test case."""
    if not session.permit("replay"):
        return
    store = context.store()
    replayable = [(run_id, label) for run_id, label in sources if replay.has_input(store, run_id)]
    if not replayable:
        tell_error(replay.NothingToReplay(sources[0][0], "make a test case of"))
        return
    with ui.dialog() as dialog, ui.card().classes("w-[32rem] gap-3 fb-case-dialog"):
        ui.label("Save as test case").classes("text-lg font-semibold")
        ui.label(
            "The run's input records become a case of this flow with the records it wrote as the expected "
            "result. Run all tests on the flow's Tests page after every change: a case fails when the "
            "current version would write anything else."
        ).classes("fb-muted text-sm")
        name = (
            ui.input("Name of the case", placeholder="e.g. inactive products are not sent")
            .props("outlined dense autofocus")
            .classes("w-full fb-case-name")
            .mark("case-name")
        )
        if len(replayable) > 1:  # after a replay: the original's writes, or the replay's
            ui.label("Expect the writes of").classes("text-sm font-semibold")
        source = ui.radio(dict(replayable), value=replayable[0][0]).classes("fb-case-source").mark("case-source")
        source.set_visibility(len(replayable) > 1)
        ui.label(f"Saved by {session.actor_name()}").classes("fb-muted text-xs")

        @guarded("save the test case")
        def save() -> None:
            if not session.permit("replay"):
                return
            case = replay.save_case(store, source.value, name.value or "", who=session.principal())
            dialog.close()
            ui.notify(
                f"Saved test case '{case.name}' on {case.flow_id}: {_records(case.inputs)} input records, "
                f"{_records(case.expected)} expected writes. Its Tests page runs it.",
                type="positive",
                multi_line=True,
            )

        name.on("keydown.enter", save)
        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            ui.button("Save", icon="save", on_click=save).props("unelevated no-caps").classes("fb-case-save").mark(
                "case-save"
            )
    dialog.on("hide", dialog.delete)
    dialog.open()


# --- the Tests page ------------------------------------------------------------------------------------


@ui.page("/flows/{flow_id}/tests")
def tests_page(flow_id: str) -> None:
    with frame(f"Tests of {flow_id}", active="Flows", wide=True):
        try:
            flow = flow_reads.flow(context.store(), flow_id)
        except NotFound:
            ui.label(f"There is no flow '{flow_id}'.").classes("text-lg")
            ui.link("Back to the flows", "/")
            return
        except Exception as error:
            tell_error(error, "show the flow's tests")
            return
        FlowTests(flow).build()


class FlowTests:
    def __init__(self, flow: Any) -> None:
        self.flow = flow
        self.results: dict[int, dict[str, Any]] = {}  # case id -> its last result on this page
        self.ran_version: int | None = None

    def build(self) -> None:
        flow = self.flow
        with ui.row().classes("w-full items-center gap-3"):
            ui.link("← Flows", "/").classes("no-underline")
            ui.label(f"Tests · {flow.name}").classes("text-2xl font-semibold")
            ui.label(f"current version v{flow.current_version}").classes("fb-chip fb-chip-neutral fb-tests-version")
            ui.space()
            ui.button("Runs", icon="receipt_long", on_click=lambda: ui.navigate.to(runs_link(flow=flow.id))).props(
                "flat no-caps"
            )
            ui.button("Open flow", icon="edit", on_click=lambda: ui.navigate.to(f"/flows/{flow.id}")).props(
                "outline no-caps"
            )
            self.run_button = (
                instant_spinner(
                    ui.button("Run all tests", icon="play_arrow", on_click=self.run_all),
                    f"Running the tests of {flow.id} in the sandbox…",
                )
                .props("unelevated no-caps")
                .classes("fb-run-tests")
                .mark("run-tests")
            )
        with ui.row().classes("items-center gap-2"):
            ui.label(
                "Each case sends the input records a run kept through the current version of the flow, as a dry run in"
            ).classes("fb-muted text-sm")
            env_chip(replay.SANDBOX)
            ui.label("(nothing is written), and compares what it would write with what the run wrote.").classes(
                "fb-muted text-sm"
            )
        self.cases()

    def read_cases(self) -> list[Any]:
        try:
            return replay.list_cases(context.store(), self.flow.id)
        except Exception as error:
            tell_error(error, "list the test cases")
            return []

    @ui.refreshable_method
    def cases(self) -> None:
        cases = self.read_cases()
        self.run_button.set_enabled(bool(cases) and session.allowed("replay"))
        if not cases:
            with ui.column().classes("w-full items-center py-14 gap-2 fb-card fb-no-cases"):
                ui.icon("fact_check").classes("text-5xl text-slate-300")
                ui.label("No test cases yet.").classes("text-lg")
                ui.label(
                    "Open a run of this flow and press “Save as test case”: the records it read become a case, "
                    "and what it wrote becomes what the flow must keep writing."
                ).classes("fb-muted text-center")
                ui.link("See this flow's runs", runs_link(flow=self.flow.id)).classes("no-underline")
            return
        if self.results:
            self.summary()
        for case in cases:
            self.case_card(case, self.results.get(case.id))

    def summary(self) -> None:
        failed = sum(1 for r in self.results.values() if not r["passed"])
        with ui.row().classes(
            f"w-full items-center gap-2 fb-verdict {'fb-verdict-bad' if failed else 'fb-verdict-same'} fb-tests-summary"
        ):
            ui.icon("error" if failed else "check_circle").classes("text-xl")
            ui.label(f"{outcome_sentence(list(self.results.values()))} on version v{self.ran_version}.")

    def case_card(self, case: Any, result: dict[str, Any] | None) -> None:
        with ui.column().classes("w-full fb-card p-4 gap-2 fb-case").props(f'data-case-id="{case.id}"'):
            with ui.row().classes("w-full items-center gap-3 no-wrap"):
                if result is None:
                    ui.label("not run").classes("fb-chip fb-chip-neutral fb-case-result")
                else:
                    ui.label("passed" if result["passed"] else "failed").classes(
                        f"fb-chip {'fb-chip-ok' if result['passed'] else 'fb-chip-draft'} fb-case-result"
                    )
                with ui.column().classes("gap-0 grow min-w-0"):
                    ui.label(case.name).classes("font-semibold fb-case-title")
                    with ui.row().classes("items-center gap-1 fb-muted text-sm"):
                        ui.label("from run")
                        if case.from_run:
                            ui.link(case.from_run, f"/runs/{case.from_run}").classes("no-underline fb-case-run")
                        else:
                            ui.label("(not recorded)")
                        ui.label(
                            f"· saved by {case.created_by or '(not recorded)'} {when(case.created_at)} "
                            f"({ago(case.created_at)}) · {_records(case.inputs)} input records · "
                            f"{_records(case.expected)} expected writes"
                        ).classes("fb-case-facts")
                delete = (
                    ui.button(icon="delete", on_click=lambda c=case: self.confirm_delete(c))
                    .props("flat round dense color=grey-7")
                    .classes("fb-case-delete")
                    .mark("case-delete")
                    .tooltip("Delete this test case")
                )
                if not session.allowed("replay"):
                    delete.disable()
            if result is not None and not result["passed"]:
                self.failure(result)

    def failure(self, result: dict[str, Any]) -> None:
        if result.get("error"):
            ui.label(f"The run stopped: {result['error']}").classes("fb-problem-box w-full fb-case-error")
        differences = result["differences"]
        if differences:
            ui.label(
                f"{len(differences)} target record{'s' if len(differences) != 1 else ''} would be written "
                "differently from what the case expects:"
            ).classes("text-sm")
            difference_table(
                differences,
                before="Expected",
                after="Now",
                added="written now, not expected",
                missing="expected, not written now",
                css="fb-case-differences",
            )

    @guarded("run the tests")
    async def run_all(self) -> None:
        self.run_button.disable()  # one run of the tests at a time from this page
        try:
            if not session.permit("replay"):
                return
            store, flow_id = context.store(), self.flow.id
            results = await worker.io_bound(
                replay.run_cases, store, flow_id, who=session.principal(), types=context.node_types()
            )
            self.ran_version = flow_reads.current_version(store, flow_id)
            self.results = {r["id"]: r for r in results}
            self.cases.refresh()
            failed = any(not r["passed"] for r in results)
            ui.notify(outcome_sentence(results), type="negative" if failed else "positive")
        finally:
            self.run_button.set_enabled(session.allowed("replay"))
            spinner_done()

    def confirm_delete(self, case: Any) -> None:
        if not session.permit("replay"):
            return
        with ui.dialog() as dialog, ui.card().classes("w-[28rem] gap-3 fb-delete-case-dialog"):
            ui.label(f"Delete the test case '{case.name}'?").classes("text-lg font-semibold")
            ui.label("Its input records and expected writes go with it; the run it came from stays.").classes(
                "fb-muted text-sm"
            )

            @guarded("delete the test case")
            def delete() -> None:
                if not session.permit("replay"):
                    return
                gone = replay.delete_case(context.store(), case.id, who=session.principal())
                dialog.close()
                self.results.pop(gone.id, None)
                self.cases.refresh()
                ui.notify(f"Deleted the test case '{gone.name}'", type="positive")

            with ui.row().classes("w-full justify-end"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button("Delete", icon="delete", on_click=delete).props("unelevated no-caps color=negative").classes(
                    "fb-delete-case-confirm"
                ).mark("delete-case-confirm")
        dialog.on("hide", dialog.delete)
        dialog.open()
