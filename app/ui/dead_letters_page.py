"""The Dead letters page: open failed records by flow and reason; inspect one, edit it and retry it,
retry all of one reason, or discard; and the resolved ones with who and when.

A retry sends the record into the node that failed it, in a new run of the flow's current version
(app/services/dead_letters.py); the notification names those runs and links to them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from nicegui import run, ui

from app.services import dead_letters, run_reads
from app.services.run_reads import DeadLetter
from app.ui import context, session
from app.ui.feedback import guarded, instant_spinner, spinner_done, tell_error
from app.ui.frame import frame
from app.ui.moments import ago, as_utc, when
from app.ui.numbers import counted
from app.ui.run_chips import env_chip
from app.ui.runs_page import known_flow_names
from app.ui.who import ask_who

SHOWN_PER_REASON = 50  # records listed under one reason; "retry all" still takes every one
OPEN_LIMIT = 5000
RESOLVED_LIMIT = 200
PREVIEW_CHARS = 160


def page_link(flow: str = "", show: str = "open") -> str:
    wanted = {k: v for k, v in {"flow": flow, "show": show if show != "open" else ""}.items() if v}
    return "/dead-letters" + ("?" + urlencode(wanted) if wanted else "")


def json_problem(text: str) -> str | None:
    """Why the edited text is not a record (a JSON object), or None when it is one."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return f"Line {error.lineno}, column {error.colno}: {error.msg}"
    if not isinstance(value, dict):
        return f"A record is a JSON object ({{...}}), not {type(value).__name__ if value is not None else 'null'}"
    return None


def _age(letters: list[DeadLetter]) -> str:
    if not letters:
        return ""
    if len(letters) == 1:
        return f" · failed {ago(letters[0].created_at)}"
    return (
        f" · first failed {ago(min(le.created_at for le in letters))}, last {ago(max(le.created_at for le in letters))}"
    )


@ui.page("/dead-letters")
def dead_letters_page(flow: str = "", show: str = "open") -> None:
    with frame("Dead letters", active="Dead letters", wide=True):
        ui.label("Dead letters").classes("text-2xl font-semibold")
        ui.label(
            "Records that failed, kept with the reason. Retry one (edited if need be), retry every record of "
            "one reason, or discard; a retried record goes on from the node that failed it."
        ).classes("fb-muted")
        flow_names = known_flow_names()
        with ui.row().classes("w-full items-center gap-3 fb-filters"):
            options = {"": "All flows", **flow_names, **({flow: flow} if flow and flow not in flow_names else {})}
            ui.select(
                options, value=flow, label="Flow", on_change=lambda e: ui.navigate.to(page_link(e.value or "", show))
            ).props("outlined dense options-dense").classes("w-72").mark("letters-flow")
            ui.toggle(
                {"open": "Open", "resolved": "Resolved"},
                value="resolved" if show == "resolved" else "open",
                on_change=lambda e: ui.navigate.to(page_link(flow, e.value)),
            ).props("no-caps unelevated toggle-color=primary").classes("fb-letters-show").mark("letters-show")
        board = DeadLetterBoard(flow, flow_names)
        if show == "resolved":
            board.resolved()
        else:
            board.render()


class DeadLetterBoard:
    def __init__(self, flow: str, flow_names: dict[str, str]) -> None:
        self.flow = flow
        self.flow_names = flow_names
        self.dialogs = ui.element("div")  # dialogs live here, so one can outlive the one that opened it

    # --- open letters, by flow and reason -----------------------------------------------------------

    @ui.refreshable_method
    def render(self) -> None:
        try:
            groups = dead_letters.reasons(context.store(), self.flow or None)
            letters = run_reads.dead_letters(
                context.store(), flow_id=self.flow or None, status="open", limit=OPEN_LIMIT
            )
        except Exception as error:
            tell_error(error, "list the dead letters")
            return
        if not groups:
            with ui.column().classes("w-full items-center py-16 fb-card fb-no-letters"):
                ui.icon("mark_email_read").classes("text-5xl text-slate-300")
                ui.label(
                    "No open dead letters" + (f" of {self.flow}" if self.flow else "") + ": every failed record "
                    "was retried or discarded."
                ).classes("fb-muted")
                ui.link("See the resolved ones", page_link(self.flow, "resolved")).classes("text-sm no-underline")
            return
        by_group: dict[tuple[str, str, str], list[DeadLetter]] = {}
        for letter in letters:  # grouped as the service groups them: by the kind of reason
            by_group.setdefault((letter.flow_id, letter.node_id, dead_letters.reason_kind(letter.reason)), []).append(
                letter
            )
        flows: dict[str, list[dict[str, Any]]] = {}
        for group in groups:
            flows.setdefault(group["flow_id"], []).append(group)
        total = sum(g["count"] for g in groups)
        ui.label(
            f"{counted(total)} open record{'s' if total != 1 else ''} in {len(groups)} reason{'s' if len(groups) != 1 else ''}"
        ).classes("fb-muted text-sm fb-letters-total")
        for flow_id, flow_groups in flows.items():
            with ui.column().classes("w-full gap-0 fb-card fb-letter-flow").props(f'data-flow-id="{flow_id}"'):
                with ui.row().classes("w-full items-center gap-2 px-4 py-3"):
                    ui.icon("account_tree").classes("text-lg fb-muted")
                    ui.label(self.flow_names.get(flow_id, flow_id)).classes("font-semibold")
                    ui.label(flow_id).classes("fb-muted text-xs")
                    ui.space()
                    count = sum(g["count"] for g in flow_groups)
                    ui.label(f"{counted(count)} open").classes("fb-count-badge")
                for index, group in enumerate(flow_groups):
                    self._group(
                        group,
                        by_group.get((flow_id, group["node_id"], dead_letters.reason_kind(group["reason"])), []),
                        index,
                    )

    def _group(self, group: dict[str, Any], letters: list[DeadLetter], index: int) -> None:
        key = f"{group['flow_id']}.{group['node_id']}.{index}"
        with (
            ui.column()
            .classes("w-full gap-1 px-4 py-3 fb-letter-group")
            .style("border-top: 1px solid var(--fb-border)")
            .props(f'data-group="{key}"')
        ):
            with ui.row().classes("w-full items-start no-wrap gap-3"):
                ui.label(str(group["count"])).classes("fb-count-badge mt-1")
                with ui.column().classes("gap-0 grow min-w-0"):
                    ui.label(group["reason"]).classes("fb-reason")
                    envs = sorted({letter.env for letter in letters})
                    ui.label(
                        f"at node {group['node_id']}" + (f" · {', '.join(envs)}" if envs else "") + _age(letters)
                    ).classes("fb-muted text-xs")
                ui.button(
                    f"Retry all {counted(group['count'])}",
                    icon="replay",
                    on_click=lambda g=group: self.ask_retry_reason(g),
                ).props("outline dense no-caps").classes("fb-retry-reason").mark(f"retry-all-{key}")
                ui.button(
                    "Discard all",
                    icon="delete_outline",
                    on_click=lambda g=group, ls=letters: self.ask_discard([le.id for le in ls], g["reason"]),
                ).props("flat dense no-caps color=negative").classes("fb-discard-reason").mark(f"discard-all-{key}")
            with (
                ui.expansion(f"Show the record{'s' if group['count'] != 1 else ''}")
                .props("dense")
                .classes("w-full fb-letter-records")
                .mark(f"records-{key}")
            ):
                for letter in letters[:SHOWN_PER_REASON]:
                    self._letter_row(letter, own_reason=group["count"] > 1)
                if len(letters) > SHOWN_PER_REASON:
                    ui.label(
                        f"Showing the first {SHOWN_PER_REASON} of {len(letters)}; Retry all takes every one."
                    ).classes("fb-muted text-xs")

    def _letter_row(self, letter: DeadLetter, own_reason: bool = False) -> None:
        if own_reason:  # the group shows the kind of reason; each record keeps its particulars
            ui.label(letter.reason).classes("fb-muted text-xs pt-1")
        with (
            ui.row().classes("w-full items-center no-wrap gap-3 py-1 fb-letter").props(f'data-letter-id="{letter.id}"')
        ):
            ui.label(f"#{letter.id}").classes("fb-muted text-xs w-12")
            preview = json.dumps(letter.record, default=str, ensure_ascii=False)
            ui.label(preview[:PREVIEW_CHARS] + ("…" if len(preview) > PREVIEW_CHARS else "")).classes(
                "grow min-w-0 truncate text-xs font-mono"
            )
            ui.link(f"run {letter.run_id}", f"/runs/{letter.run_id}").classes("text-xs no-underline")
            ui.label(ago(letter.created_at)).classes("fb-muted text-xs whitespace-nowrap")
            instant_spinner(
                ui.button("Inspect", icon="search", on_click=lambda le=letter: self.inspect(le)),
                f"Opening dead letter #{letter.id}…",
            ).props("flat dense no-caps no-wrap").classes("fb-inspect shrink-0").mark(f"inspect-{letter.id}")

    # --- one letter: inspect, edit, retry, discard ---------------------------------------------------

    @guarded("open the dead letter")
    def inspect(self, letter: DeadLetter) -> None:
        spinner_done()  # sent with the dialog: one replaces the other
        letter = dead_letters.get_letter(context.store(), letter.id)  # as it is now, not as listed
        original = json.dumps(letter.record, indent=2, ensure_ascii=False, default=str)
        with self.dialogs, ui.dialog() as dialog, ui.card().classes("w-[52rem] max-w-[95vw] gap-3 fb-letter-dialog"):
            dialog.on("hide", dialog.delete)
            with ui.row().classes("w-full items-center gap-2"):
                ui.label(f"Dead letter #{letter.id}").classes("text-lg font-semibold")
                ui.label(letter.status).classes(
                    "fb-chip " + ("fb-chip-draft" if letter.status == "open" else "fb-chip-neutral")
                )
                env_chip(letter.env)
                ui.space()
                ui.button(icon="close", on_click=dialog.close).props("flat round dense")
            with ui.grid(columns="auto 1fr").classes("gap-x-4 gap-y-1 text-sm w-full"):
                ui.label("Flow").classes("fb-muted")
                ui.link(self.flow_names.get(letter.flow_id, letter.flow_id), f"/flows/{letter.flow_id}").classes(
                    "no-underline"
                )
                ui.label("Node").classes("fb-muted")
                ui.label(letter.node_id).classes("fb-letter-node")
                ui.label("Run").classes("fb-muted")
                ui.link(letter.run_id, f"/runs/{letter.run_id}").classes("no-underline fb-letter-run")
                ui.label("Failed").classes("fb-muted")
                ui.label(f"{when(letter.created_at, seconds=True)} ({ago(letter.created_at)})")
            ui.label(letter.reason).classes("fb-problem-box w-full fb-letter-reason")
            ui.label(
                f"The record as it entered '{letter.node_id}'. Edit it, then retry: it goes on from that node in a "
                f"new run of the flow's current version, in {letter.env}."
            ).classes("fb-muted text-sm")
            editor = (
                ui.codemirror(original, language="JSON", line_wrapping=True)
                .classes("w-full fb-json-editor")
                .mark("letter-json")
            )
            status = ui.label("Valid JSON, as it failed").classes("fb-json-ok fb-json-status")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button(
                    "Discard",
                    icon="delete_outline",
                    on_click=lambda: self.ask_discard([letter.id], letter.reason, dialog),
                ).props("flat no-caps color=negative").classes("fb-discard").mark("letter-discard")
                retry_button = (
                    ui.button(
                        "Retry", icon="replay", on_click=lambda: self.ask_retry(letter, editor.value, original, dialog)
                    )
                    .props("unelevated no-caps")
                    .classes("fb-retry")
                    .mark("letter-retry")
                )
            if letter.status != "open":
                retry_button.disable()
                status.set_text(
                    f"{letter.status} by {letter.resolved_by} {when(letter.resolved_at)}"
                    + (f" in run {letter.retried_in}" if letter.retried_in else "")
                )

            def check(text: str) -> None:
                problem = json_problem(text or "")
                if problem:
                    status.set_text(problem)
                    status.classes(replace="fb-json-error fb-json-status")
                    retry_button.disable()
                    return
                edited = json.loads(text) != letter.record
                status.set_text("Valid JSON, edited" if edited else "Valid JSON, as it failed")
                status.classes(replace="fb-json-ok fb-json-status")
                retry_button.set_text("Retry edited record" if edited else "Retry")
                if letter.status == "open":
                    retry_button.enable()

            editor.on_value_change(lambda e: check(e.value))
        # CodeMirror, laid out while the dialog was still hidden, shows the end of the record: start at its top
        dialog.on(
            "show",
            js_handler="() => document.querySelectorAll('.fb-letter-dialog .cm-scroller')"
            ".forEach(s => s.scrollTop = 0)",
        )
        dialog.open()

    def ask_retry(self, letter: DeadLetter, text: str, original: str, inspect_dialog: ui.dialog) -> None:
        problem = json_problem(text or "")
        if problem:
            ui.notify(f"The record is not valid JSON: {problem}", type="warning")
            return
        record = json.loads(text)
        edited = record if record != letter.record else None

        async def retry(who: str) -> None:
            if not session.permit("run", letter.env):  # a retry is a run in the letter's environment
                return
            run_ids = await run.io_bound(
                dead_letters.retry,
                context.store(),
                [letter.id],
                who=session.principal(),
                edited=edited,
                types=context.node_types(),
            )
            inspect_dialog.close()
            self.tell_retried(run_ids, 1, edited is not None)
            self.render.refresh()

        with self.dialogs:
            ask_who(
                f"Retry dead letter #{letter.id}{' as edited' if edited else ''}?",
                f"The record goes into '{letter.node_id}' of the flow's current version, in a new run in "
                f"{letter.env}; if it fails again it becomes a new dead letter of that run.",
                "Retry",
                guarded("retry the record")(retry),
                busy="Retrying the record…",
                css="fb-ask-retry",
                action="dead_letters",
            )

    def ask_retry_reason(self, group: dict[str, Any]) -> None:
        async def retry(who: str) -> None:
            if not all(session.permit("run", env) for env in group.get("envs", [])):
                return
            run_ids = await run.io_bound(
                dead_letters.retry_reason,
                context.store(),
                group["flow_id"],
                group["node_id"],
                group["reason"],
                who=session.principal(),
                types=context.node_types(),
            )
            self.tell_retried(run_ids, group["count"], False)
            self.render.refresh()

        with self.dialogs:
            ask_who(
                f"Retry all {group['count']} record{'s' if group['count'] != 1 else ''} of this reason?",
                f"“{group['reason']}” — they go into '{group['node_id']}' of {group['flow_id']}'s current "
                "version, in new runs (one per environment).",
                f"Retry {group['count']}",
                guarded("retry the records")(retry),
                busy="Retrying the records…",
                css="fb-ask-retry-reason",
                action="dead_letters",
            )

    def ask_discard(self, letter_ids: list[int], reason: str, inspect_dialog: ui.dialog | None = None) -> None:
        def discard(who: str) -> None:
            dead_letters.discard(context.store(), letter_ids, who=session.principal())
            if inspect_dialog is not None:
                inspect_dialog.close()
            ui.notify(
                f"Discarded {len(letter_ids)} record{'s' if len(letter_ids) != 1 else ''} as {who}; "
                "they stay listed under Resolved",
                type="positive",
            )
            self.render.refresh()

        many = len(letter_ids) != 1
        with self.dialogs:
            ask_who(
                f"Discard {len(letter_ids) if many else 'this'} record{'s' if many else ''}?",
                f"“{reason}” — {'they' if many else 'it'} will not be retried; the discard is recorded with "
                "your name and the time.",
                "Discard",
                guarded("discard")(discard),
                danger=True,
                css="fb-ask-discard",
                action="dead_letters",
            )

    def tell_retried(self, run_ids: list[str], count: int, edited: bool) -> None:
        """Say which runs retried the records and how they went, with a link to each run."""
        store = context.store()
        parts, failed_again = [], 0
        for run_id in run_ids:
            found = run_reads.run(store, run_id)
            again = run_reads.count_dead_letters(store, run_id)
            failed_again += again
            written = " · ".join(
                f"{v} {k}" for k, v in (found.totals or {}).items() if v and k in ("inserted", "updated", "unchanged")
            )
            parts.append(f"run {run_id} {found.status}" + (f" ({written})" if written else ""))
        what = f"{'the edited record' if edited else f'{count} record' + ('s' if count != 1 else '')}"
        message = f"Retried {what}: " + "; ".join(parts)
        if failed_again:
            message += (
                f". {failed_again} failed again and {'is' if failed_again == 1 else 'are'} listed as new dead letters"
            )
        ui.notify(
            message,
            type="warning" if failed_again else "positive",
            multi_line=True,
            timeout=12000,
            actions=[
                {
                    "label": f"Open {run_id}" if len(run_ids) > 1 else "Open run",
                    "color": "white",
                    ":handler": f"() => window.location.href = '/runs/{run_id}'",
                }
                for run_id in run_ids[:3]
            ],
        )

    # --- resolved letters -------------------------------------------------------------------------

    def resolved(self) -> None:
        try:
            found = [
                letter
                for status in ("retried", "discarded")
                for letter in run_reads.dead_letters(
                    context.store(), flow_id=self.flow or None, status=status, limit=OPEN_LIMIT
                )
            ]
        except Exception as error:
            tell_error(error, "list the resolved dead letters")
            return
        found.sort(key=lambda le: (as_utc(le.resolved_at) or as_utc("1970-01-01T00:00:00"), le.id), reverse=True)
        if not found:
            with ui.column().classes("w-full items-center py-16 fb-card"):
                ui.icon("inbox").classes("text-5xl text-slate-300")
                ui.label("Nothing retried or discarded yet.").classes("fb-muted")
            return
        shown = found[:RESOLVED_LIMIT]
        ui.label(
            f"{len(found)} resolved" + (f"; the newest {RESOLVED_LIMIT} shown" if len(found) > RESOLVED_LIMIT else "")
        ).classes("fb-muted text-sm")
        columns = [
            {"name": "resolved", "label": "Resolved (UTC)", "field": "resolved", "align": "left"},
            {"name": "status", "label": "How", "field": "status", "align": "left"},
            {"name": "who", "label": "By", "field": "who", "align": "left"},
            {"name": "flow", "label": "Flow", "field": "flow", "align": "left"},
            {"name": "node", "label": "Node", "field": "node", "align": "left"},
            {"name": "reason", "label": "Reason", "field": "reason", "align": "left"},
            {"name": "run", "label": "Failed in run", "field": "run", "align": "left"},
            {"name": "retried_in", "label": "Retried in run", "field": "retried_in", "align": "left"},
        ]
        rows = [
            {
                "id": le.id,
                "resolved": when(le.resolved_at, seconds=True, zone=False),
                "status": le.status,
                "who": le.resolved_by or "—",
                "flow": le.flow_id,
                "node": le.node_id,
                "reason": le.reason,
                "run": le.run_id,
                "retried_in": le.retried_in or "",
            }
            for le in shown
        ]
        table = (
            ui.table(columns=columns, rows=rows, row_key="id", pagination=25)
            .props("flat bordered dense wrap-cells")
            .classes("w-full fb-resolved-table")
        )
        table.add_slot(
            "body-cell-run",
            """
            <q-td :props="props"><a :href="'/runs/' + props.value" class="no-underline text-primary">{{ props.value }}</a></q-td>""",
        )
        table.add_slot(
            "body-cell-retried_in",
            """
            <q-td :props="props"><a v-if="props.value" :href="'/runs/' + props.value" class="no-underline text-primary">
              {{ props.value }}</a><span v-else>—</span></q-td>""",
        )
        table.add_slot(
            "body-cell-status",
            """
            <q-td :props="props"><span :class="'fb-chip ' + (props.value === 'retried' ? 'fb-chip-ok' : 'fb-chip-neutral')">
              {{ props.value }}</span></q-td>""",
        )
