"""Retrying transient faults (connection refused or reset, timeouts, a locked database) with backoff.

tenacity does the waiting: exponential backoff with jitter, a bounded number of attempts, and a
record of each attempt for the run's log.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from app.errors import TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")

ATTEMPTS = 4
MAX_EVENTS = 200  # a run that retried more than this keeps the first ones

# The run being executed sets a list here; every retry appends what failed and how long it waited.
retry_events: contextvars.ContextVar[list[dict[str, Any]] | None] = contextvars.ContextVar("retry_events", default=None)


def _log_attempt(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0
    log.warning("attempt %d failed (%s); retrying in %.2fs", state.attempt_number, exc, wait)
    events = retry_events.get()
    if events is not None and len(events) < MAX_EVENTS:
        events.append(
            {
                "at": dt.datetime.now(dt.UTC).isoformat(),
                "attempt": state.attempt_number,
                "error": str(exc),
                "wait_seconds": round(wait, 3),
            }
        )


# Set while a with_retries is running: one inside it runs its action once, and the outer one retries
# the whole. Nested policies would multiply (a write's 3 attempts around reads of 4 made 12 reads).
_retrying: contextvars.ContextVar[bool] = contextvars.ContextVar("retrying", default=False)


def with_retries(
    action: Callable[[], T], *, attempts: int = ATTEMPTS, initial_wait: float = 0.2, max_wait: float = 5.0
) -> T:
    """Run `action`, retrying it on TransientError; the last error is raised when attempts run out.
    Inside another with_retries, `action` runs once: the outermost policy is the one that retries."""
    if _retrying.get():
        return action()
    retrying = Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(attempts),
        # tenacity's default jitter is a whole second, which would swamp a 0.2 s first wait
        wait=wait_exponential_jitter(initial=initial_wait, max=max_wait, jitter=initial_wait),
        before_sleep=_log_attempt,
        reraise=True,
    )
    token = _retrying.set(True)
    try:
        return retrying(action)
    finally:
        _retrying.reset(token)
