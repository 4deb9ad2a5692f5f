"""Replays side by side: the dialog that replays a run in the sandbox, and the page comparing a run with
its replay (both runs, counts per node, and per target record what each wrote). The page reads only
the store (replay.compare_runs), so it can be reloaded or linked to."""

from __future__ import annotations

from typing import Any

from nicegui import run as worker
from nicegui import ui

from app.errors import NotFound
from app.services import flow_reads, replay
from app.ui import context, session
from app.ui.feedback import guarded, instant_spinner, spinner_done, tell_error
from app.ui.frame import frame
from app.ui.moments import ago, when
from app.ui.run_chips import STATUS_CHIP, env_chip
from app.ui.tests_page import difference_table, open_save_case_dialog, tests_link

METRICS = ("in", "out", "failed", "inserted", "updated", "unchanged")


def compare_link(original_id: str, replay_id: str) -> str:
    return f"/runs/{original_id}/compare/{replay_id}"


# --- the dialog on a run's page ----------------------------------------------------------------------


def version_choices(flow_id: str, ran: int | None) -> tuple[dict[Any, str], dict[int, str]]:
    """The two usual choices (the version the run used, the current one), and every other stored version."""
    store = context.store()
    current = flow_reads.current_version(store, flow_id)
    main: dict[Any, str] = {}
    if ran and ran == current:
        main[ran] = f"The version it ran (v{ran}), which is the current version"
    else:
        if ran:
            main[ran] = f"The version it ran (v{ran})"
        main["current"] = f"The current version (v{current})"
    others = {
        v.version: f"v{v.version} · {when(v.created_at)}"
        + (f" · {v.author}" if v.author else "")
        + (f" · {v.comment}" if v.comment else "")
        for v in flow_reads.versions(store, flow_id)
        if v.version not in (ran, current)
    }
    return main, others


def open_replay_dialog(run: Any) -> None:
    """Ask which flow version to replay the run with; replay it in a worker; open the comparison."""
    if not session.permit("replay"):
        return
    store = context.store()
    if not replay.has_input(store, run.id):
        tell_error(replay.NothingToReplay(run.id, "replay"))
        return
    try:
        main, others = version_choices(run.flow_id, run.flow_version)
    except NotFound as error:
        tell_error(error, "replay the run")
        return
    choices = {**main, **({"other": "Another stored version"} if others else {})}
    with ui.dialog() as dialog, ui.card().classes("w-[34rem] gap-3 fb-replay-dialog"):
        ui.label(f"Replay run {run.id}").classes("text-lg font-semibold")
        ui.label(
            "The records this run read go through the flow again, in the sandbox (never production), "
            "and the result is laid beside this run."
        ).classes("fb-muted text-sm")
        with ui.row().classes("items-center gap-2"):
            ui.label("Replays into").classes("text-sm")
            env_chip(replay.SANDBOX)
        ui.label("With which version of the flow?").classes("text-sm font-semibold")
        choice = (
            ui.radio(choices, value=next(iter(choices)))
            .props("dense")
            .classes("fb-replay-version")
            .mark("replay-version")
        )
        other = (
            ui.select(others, value=next(iter(others), None), label="Version")
            .props("outlined dense options-dense")
            .classes("w-full fb-replay-other")
            .mark("replay-other")
        )
        other.bind_visibility_from(choice, "value", backward=lambda v: v == "other")

        @guarded("replay the run")
        async def start() -> None:
            start_button.disable()  # one replay per press, however impatient the clicks
            try:
                if not session.permit("replay"):
                    return
                version = other.value if choice.value == "other" else choice.value
                report = await worker.io_bound(
                    replay.replay,
                    store,
                    run.id,
                    flow_version=version,
                    who=session.principal(),
                    types=context.node_types(),
                )
                dialog.close()
                ui.navigate.to(compare_link(run.id, report["replay"]["run_id"]))
            finally:
                start_button.enable()
                spinner_done()

        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
            start_button = (
                instant_spinner(
                    ui.button("Replay", icon="replay", on_click=start), f"Replaying run {run.id} in the sandbox…"
                )
                .props("unelevated no-caps")
                .classes("fb-replay-start")
                .mark("replay-start")
            )
    dialog.on("hide", dialog.delete)
    dialog.open()


# --- the comparison page -----------------------------------------------------------------------------


@ui.page("/runs/{original_id}/compare/{replay_id}")
def compare_page(original_id: str, replay_id: str) -> None:
    with frame(f"Replay of run {original_id}", active="Runs", wide=True):
        try:
            comparison = replay.compare_runs(context.store(), original_id, replay_id, context.node_types())
        except NotFound as error:
            ui.label(f"Nothing to compare: {error}.").classes("text-lg fb-compare-missing")
            ui.link("Back to the runs", "/runs")
            return
        except Exception as error:
            tell_error(error, "compare the runs")
            return
        Comparison(comparison).build()


def _count(counts: dict[str, Any] | None, metric: str) -> int | None:
    if counts is None:
        return None
    if metric == "out":
        return sum((counts.get("out") or {}).values())
    return int(counts.get(metric) or 0)


class Comparison:
    def __init__(self, comparison: dict[str, Any]) -> None:
        self.original, self.replay = comparison["original"], comparison["replay"]
        self.nodes, self.records = comparison["nodes"], comparison["records"]
        self.inputs = comparison["inputs_replayed"]
        self.flow_id = self.original["flow_id"]
        try:
            self.current_version = flow_reads.flow(context.store(), self.flow_id).current_version
        except NotFound:
            self.current_version = None

    def build(self) -> None:
        with ui.row().classes("w-full items-center gap-3"):
            ui.link(f"← Run {self.original['run_id']}", f"/runs/{self.original['run_id']}").classes("no-underline")
            ui.label(f"Replay of {self.flow_id}").classes("text-2xl font-semibold")
            ui.space()
            save = (
                ui.button(
                    "Save as test case",
                    icon="fact_check",
                    on_click=lambda: open_save_case_dialog(self.flow_id, self.case_sources()),
                )
                .props("outline no-caps")
                .classes("fb-save-case")
            )
            if not session.allowed("replay"):
                save.disable()
            ui.button("Tests", icon="checklist", on_click=lambda: ui.navigate.to(tests_link(self.flow_id))).props(
                "flat no-caps"
            ).classes("fb-tests-link")
        self.verdict()
        with ui.row().classes("w-full no-wrap gap-4 items-stretch fb-compare-runs"):
            self.run_card("Original", self.original, "fb-compare-original")
            ui.icon("arrow_forward").classes("text-3xl text-slate-400 self-center")
            self.run_card("Replay", self.replay, "fb-compare-replay")
        self.counts_table()
        self.record_differences()

    def case_sources(self) -> list[tuple[str, str]]:
        original, again = self.original, self.replay
        return [
            (original["run_id"], f"The original run's (v{original['flow_version'] or '?'}, {original['env']})"),
            (again["run_id"], f"The replay's (v{again['flow_version']}, {again['env']})"),
        ]

    def counts_differ(self) -> bool:
        return any(_count(c["original"], m) != _count(c["replay"], m) for c in self.nodes.values() for m in METRICS)

    def verdict(self) -> None:
        read = sum(self.inputs.values())
        if self.replay.get("error"):
            text, css = f"The replay stopped: {self.replay['error']}", "fb-verdict-bad"
        elif not self.records and not self.counts_differ():
            text, css = (
                (
                    f"Same result: the {read} input records gave the same counts at every node and the same "
                    "written records as the original."
                ),
                "fb-verdict-same",
            )
        elif not self.records:  # e.g. records the sandbox already had count as unchanged, not inserted
            text, css = (
                (
                    "Same written records as the original; only the counts differ (highlighted below): the "
                    "target systems held different data when each ran."
                ),
                "fb-verdict-differs",
            )
        else:
            changed = sum(1 for r in self.records if r["before"] is not None and r["after"] is not None)
            added = sum(1 for r in self.records if r["before"] is None)
            missing = sum(1 for r in self.records if r["after"] is None)
            parts = [
                f"{n} {what}"
                for n, what in (
                    (changed, "written differently"),
                    (added, "only in the replay"),
                    (missing, "only in the original"),
                )
                if n
            ]
            text = (
                f"{len(self.records)} target record{'s' if len(self.records) != 1 else ''} differ"
                + (f": {', '.join(parts)}." if parts else ".")
                + (" The counts differ too (highlighted below)." if self.counts_differ() else "")
            )
            css = "fb-verdict-differs"
        with ui.row().classes(f"w-full items-center gap-2 fb-verdict {css}"):
            ui.icon("check_circle" if css == "fb-verdict-same" else "difference").classes("text-xl")
            ui.label(text).classes("fb-verdict-text")

    def run_card(self, title: str, facts: dict[str, Any], css: str) -> None:
        version = facts.get("flow_version")
        with ui.column().classes(f"fb-card p-4 gap-1 grow basis-0 {css}"):
            with ui.row().classes("items-center gap-2"):
                ui.label(title).classes("text-xs font-bold uppercase tracking-wider fb-muted")
                ui.label(facts["status"]).classes(
                    f"fb-chip {STATUS_CHIP.get(facts['status'], 'fb-chip-neutral')} fb-compare-status"
                )
                env_chip(facts["env"]).classes("fb-compare-env")
            ui.link(facts["run_id"], f"/runs/{facts['run_id']}").classes(
                "text-lg font-semibold no-underline fb-compare-id"
            )
            ui.label(
                ("from a file" if not version else f"flow version v{version}")
                + (" (the current version)" if version and version == self.current_version else "")
            ).classes("text-sm fb-compare-version")
            ui.label(
                f"{facts.get('trigger')} · started by {facts.get('started_by') or '(not recorded)'} · "
                f"{when(facts.get('started_at'), seconds=True)} ({ago(facts.get('started_at'))})"
            ).classes("fb-muted text-sm")
            ui.label(
                " · ".join(f"{v} {k}" for k, v in (facts.get("totals") or {}).items() if v) or "nothing to do"
            ).classes("text-sm fb-compare-totals")
            if facts.get("error"):
                ui.label(facts["error"]).classes("fb-problem-box w-full text-sm")

    def counts_table(self) -> None:
        ui.label("Counts per node").classes("text-lg font-semibold mt-2")
        ui.label("Original | replay for every node; a highlighted pair differs.").classes("fb-muted text-sm")
        with ui.element("table").classes("fb-card fb-compare-counts"):
            with ui.element("tr"):
                with ui.element("th").props('rowspan="2"').classes("fb-cmp-node"):
                    ui.label("Node")
                for metric in METRICS:
                    with ui.element("th").props('colspan="2"'):
                        ui.label(metric.capitalize())
            with ui.element("tr").classes("fb-cmp-sides"):
                for _ in METRICS:
                    for side in ("original", "replay"):
                        with ui.element("th"):
                            ui.label(side)
            for node_id, counts in self.nodes.items():
                with ui.element("tr").props(f'data-node-id="{node_id}"'):
                    with ui.element("td").classes("fb-cmp-node"):
                        ui.label(node_id)
                    for metric in METRICS:
                        was, now = _count(counts["original"], metric), _count(counts["replay"], metric)
                        differs = " fb-cmp-differs" if was != now else ""
                        for side, value in (("original", was), ("replay", now)):
                            with ui.element("td").classes(f"fb-cmp-{side} fb-cmp-{metric}{differs}"):
                                ui.label("—" if value is None else str(value))

    def record_differences(self) -> None:
        ui.label(f"Written records that differ ({len(self.records)})").classes("text-lg font-semibold mt-2")
        if not self.records:
            ui.label("None: every target record got the same values in the replay as in the original.").classes(
                "fb-muted fb-no-differences"
            )
            return
        ui.label(
            "Per target record, by the write node's key: the fields the original and the replay wrote "
            "differently, and the records only one of them wrote."
        ).classes("fb-muted text-sm")
        difference_table(
            self.records,
            before="Original",
            after="Replay",
            added="only in the replay",
            missing="only in the original",
            css="fb-compare-records",
        )
