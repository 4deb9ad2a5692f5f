"""Errors become a notification with a sentence, never a traceback; details go to the log."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import Any

from nicegui import ui

from app.errors import FlowbridgeError, InvalidFlow
from app.problems import one_line

log = logging.getLogger("flowbridge.ui")
NAME_IN_A_TOAST = 60  # characters: a flow's name may be 200, a toast says which flow, not all of it


def short(name: str, limit: int = NAME_IN_A_TOAST) -> str:
    """A name cut to fit a toast or a spinner line, with an ellipsis when cut."""
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


def tell_error(error: BaseException, doing: str = "") -> None:
    """Show an error to the user as one sentence."""
    prefix = f"Could not {doing}: " if doing else ""
    if isinstance(error, InvalidFlow):
        first = error.problems[0] if error.problems else None
        more = f" (and {len(error.problems) - 1} more)" if len(error.problems) > 1 else ""
        ui.notify(
            f"{prefix}{one_line(str(first)) if first else 'the flow is not valid'}{more}",
            type="negative",
            multi_line=True,
        )
    elif isinstance(error, FlowbridgeError):
        ui.notify(f"{prefix}{one_line(str(error))}", type="negative", multi_line=True)
    else:
        log.exception("unexpected error in the UI", exc_info=error)
        ui.notify(
            f"{prefix}something went wrong inside Flowbridge ({type(error).__name__}: {one_line(str(error))[:200]}); "
            "the details are in the server log",
            type="negative",
            multi_line=True,
        )


def guarded(doing: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a UI handler so any error it raises becomes a notification."""

    def wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(handler):

            @functools.wraps(handler)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await handler(*args, **kwargs)
                except Exception as error:  # shown as a sentence; see tell_error
                    tell_error(error, doing)

            return run_async

        @functools.wraps(handler)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            except Exception as error:  # shown as a sentence; see tell_error
                tell_error(error, doing)

        return run

    return wrap


def instant_spinner(element: Any, message: str) -> Any:
    """Show a spinner notification the moment `element` is clicked, in the browser, without waiting
    for the server; the handler calls `spinner_done()` when its work is over."""
    import json

    element.on(
        "click",
        js_handler=(
            "() => { if (window.fbBusy) window.fbBusy(); window.fbBusy = Quasar.Notify.create({message: "
            f"{json.dumps(message)}, spinner: true, timeout: 0, group: false, classes: 'fb-busy'}}); }}"
        ),
    )
    return element


def spinner_done() -> None:
    ui.run_javascript("if (window.fbBusy) { window.fbBusy(); window.fbBusy = null; }")
