"""The Health dashboard: per flow over the last days, runs by outcome, records per day, failures, and
the lag since the last success, as ECharts charts (figures from app/services/health_view.py)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from app.environments import ENVIRONMENTS
from app.services.health_view import FlowHealth, flow_health
from app.ui import context
from app.ui.feedback import tell_error
from app.ui.frame import frame
from app.ui.moments import ago, span, when
from app.ui.numbers import counted

DAY_CHOICES = (7, 14, 30)
COLOURS = {
    "succeeded": "#059669",
    "partial": "#d97706",
    "failed": "#dc2626",
    "other": "#94a3b8",
    "read": "#2563eb",
    "written": "#059669",
    "lag": "#7c3aed",
}
AXIS_LABEL = {"fontSize": 10, "color": "#64748b"}


def health_link(days: int, env: str) -> str:
    wanted = {k: v for k, v in {"days": days if days != 14 else "", "env": env}.items() if v}
    return "/health" + ("?" + urlencode(wanted) if wanted else "")


def _frame_options(health: FlowHealth, title: str) -> dict[str, Any]:
    return {
        "animation": False,  # a dashboard shows the figures as they are, at once
        "title": {
            "text": title,
            "left": 0,
            "top": 0,
            "textStyle": {"fontSize": 12, "fontWeight": 600, "color": "#334155"},
        },
        "tooltip": {"trigger": "axis", "confine": True},
        "legend": {"top": 0, "right": 0, "itemWidth": 10, "itemHeight": 8, "textStyle": {"fontSize": 10}},
        "grid": {"left": 40, "right": 8, "top": 34, "bottom": 22},
        "xAxis": {"type": "category", "data": [f"{d:%m-%d}" for d in health.days], "axisLabel": AXIS_LABEL},
        "yAxis": {
            "type": "value",
            "minInterval": 1,
            "axisLabel": AXIS_LABEL,
            "splitLine": {"lineStyle": {"color": "#eef2f7"}},
        },
    }


def runs_chart(health: FlowHealth) -> dict[str, Any]:
    options = _frame_options(health, "Runs per day")
    options["series"] = [
        {
            "name": outcome,
            "type": "bar",
            "stack": "runs",
            "data": health.runs[outcome],
            "itemStyle": {"color": COLOURS[outcome]},
            "barMaxWidth": 18,
        }
        for outcome in ("succeeded", "partial", "failed", "other")
    ]
    return options


def records_chart(health: FlowHealth) -> dict[str, Any]:
    options = _frame_options(health, "Records per day")
    options["series"] = [
        {
            "name": kind,
            "type": "bar",
            "data": health.records[kind],
            "itemStyle": {"color": COLOURS[kind]},
            "barMaxWidth": 10,
        }
        for kind in ("read", "written", "failed")
    ]
    return options


def lag_chart(health: FlowHealth) -> dict[str, Any]:
    options = _frame_options(health, "Hours since the last success")
    options["yAxis"]["minInterval"] = 0
    series: dict[str, Any] = {
        "name": "lag",
        "type": "line",
        "data": health.lag_hours,
        "connectNulls": False,
        "symbolSize": 5,
        "itemStyle": {"color": COLOURS["lag"]},
        "areaStyle": {"opacity": 0.08},
    }
    if health.alert_after_minutes:
        threshold = round(float(health.alert_after_minutes) / 60, 2)
        series["markLine"] = {
            "symbol": "none",
            "data": [{"yAxis": threshold, "name": "alert after"}],
            "lineStyle": {"color": COLOURS["failed"], "type": "dashed"},
            "label": {"formatter": f"alert after {threshold:g} h", "fontSize": 10, "position": "insideEndTop"},
        }
    options["series"] = [series]
    options["legend"] = {"show": False}
    if all(hours is None for hours in health.lag_hours):
        options["graphic"] = {
            "type": "text",
            "left": "center",
            "top": "middle",
            "style": {"text": "no success in these days", "fill": "#94a3b8", "fontSize": 12},
        }
    return options


def lag_overview(found: list[FlowHealth]) -> dict[str, Any]:
    """Every flow's lag now, in hours (a flow that never succeeded has no bar and says so)."""
    ordered = sorted((h for h in found if h.lag_now_seconds is not None), key=lambda h: -(h.lag_now_seconds or 0))
    return {
        "animation": False,
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        "grid": {"left": 8, "right": 40, "top": 8, "bottom": 8, "containLabel": True},
        "xAxis": {"type": "value", "name": "hours", "nameTextStyle": {"fontSize": 10}, "axisLabel": AXIS_LABEL},
        "yAxis": {
            "type": "category",
            "inverse": True,
            "data": [h.name for h in ordered],
            "axisLabel": {"fontSize": 11, "color": "#334155"},
        },
        "series": [
            {
                "name": "hours since the last success",
                "type": "bar",
                "barMaxWidth": 14,
                "data": [round((h.lag_now_seconds or 0) / 3600, 2) for h in ordered],
                "itemStyle": {"color": COLOURS["lag"]},
                "label": {"show": True, "position": "right", "fontSize": 10, "formatter": "{c} h"},
            }
        ],
    }


@ui.page("/health")
def health_page(days: str = "14", env: str = "") -> None:  # text: a mistyped link still opens the page
    days = int(days) if days.isdigit() and int(days) in DAY_CHOICES else 14
    with frame("Health", active="Health", wide=True):
        ui.label("Health").classes("text-2xl font-semibold")
        ui.label(
            f"The last {days} days (UTC), per flow: runs by outcome, records read, written and failed, and how "
            "long since the last successful run. Dry runs are left out."
        ).classes("fb-muted")
        with ui.row().classes("w-full items-center gap-3 fb-filters"):
            ui.toggle(
                {d: f"{d} days" for d in DAY_CHOICES},
                value=days,
                on_change=lambda e: ui.navigate.to(health_link(e.value, env)),
            ).props("no-caps unelevated toggle-color=primary").mark("health-days")
            ui.select(
                {"": "Every environment", **{e: e for e in ENVIRONMENTS}},
                value=env,
                label="Environment",
                on_change=lambda e: ui.navigate.to(health_link(days, e.value or "")),
            ).props("outlined dense options-dense").classes("w-56").mark("health-env")
        try:
            found = flow_health(context.store(), days=days, env=env or None)
        except Exception as error:
            tell_error(error, "read the runs")
            return
        if not found:
            with ui.column().classes("w-full items-center py-16 fb-card"):
                ui.icon("monitor_heart").classes("text-5xl text-slate-300")
                ui.label("No flows yet.").classes("fb-muted")
            return
        with ui.column().classes("w-full fb-card p-4 gap-1"):
            ui.label("Lag since the last success, now").classes("font-semibold")
            succeeded = [h for h in found if h.last_success is not None]
            never = [h.name for h in found if h.last_success is None]
            if never:
                ui.label(f"No success yet{' in ' + env if env else ''}: {', '.join(never)}").classes(
                    "fb-muted text-xs fb-never-succeeded"
                )
            if succeeded:
                ui.echart(lag_overview(found)).classes("w-full fb-lag-overview").style(
                    f"height: {max(90, 30 * len(succeeded) + 30)}px"
                ).mark("lag-overview")
        idle = [h for h in found if not h.total_runs]
        for health in found:
            if health.total_runs:
                _flow_card(health, env)
        if idle:
            with ui.column().classes("w-full fb-card p-4 gap-1 fb-health-idle"):
                ui.label(f"No runs in these {days} days{' in ' + env if env else ''}").classes("font-semibold")
                with ui.row().classes("gap-x-4 gap-y-1"):
                    for health in idle:
                        ui.link(health.name, f"/flows/{health.flow_id}").classes("text-sm no-underline")


def _flow_card(health: FlowHealth, env: str) -> None:
    with ui.column().classes("w-full fb-card p-4 gap-2 fb-health-flow").props(f'data-flow-id="{health.flow_id}"'):
        with ui.row().classes("w-full items-center gap-2"):
            ui.link(health.name, f"/flows/{health.flow_id}").classes("font-semibold no-underline")
            ui.label("on" if health.enabled else "off").classes(
                "fb-chip " + ("fb-chip-ok" if health.enabled else "fb-chip-neutral")
            )
            ui.space()
            failed = health.failed_runs
            ui.link(
                f"{counted(health.total_runs)} run{'s' if health.total_runs != 1 else ''}",
                f"/runs?{urlencode({'flow': health.flow_id, **({'env': env} if env else {})})}",
            ).classes("fb-stat no-underline")
            ui.label(f"{failed} failed").classes("fb-stat" + (" text-negative font-semibold" if failed else ""))
            failed_records = sum(health.records["failed"])
            ui.label(f"{failed_records} record{'s' if failed_records != 1 else ''} failed").classes("fb-stat")
            if health.last_success:
                ui.label(f"last success {when(health.last_success)} ({ago(health.last_success)})").classes(
                    "fb-stat fb-last-success"
                )
            else:
                ui.label("no success yet").classes("fb-stat fb-last-success text-negative")
            if (
                health.alert_after_minutes
                and health.lag_now_seconds is not None
                and health.lag_now_seconds > float(health.alert_after_minutes) * 60
            ):
                ui.label(f"stale: over {span(float(health.alert_after_minutes) * 60)}").classes("fb-chip fb-chip-draft")
        with ui.grid(columns=3).classes("w-full gap-4"):
            ui.echart(runs_chart(health)).classes("fb-health-chart").mark(f"runs-{health.flow_id}")
            ui.echart(records_chart(health)).classes("fb-health-chart").mark(f"records-{health.flow_id}")
            ui.echart(lag_chart(health)).classes("fb-health-chart").mark(f"lag-{health.flow_id}")
