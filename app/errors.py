"""The project's own exception types: every error a user can see is one of these, with a message."""

from __future__ import annotations


class FlowbridgeError(Exception):
    """An error whose message is written for the user (CLI, UI and API show it as is)."""


class NotFound(FlowbridgeError):
    """A flow, run, connection or file the user named does not exist."""


class InvalidFlow(FlowbridgeError):
    """A flow document has problems; `problems` lists each with its place."""

    def __init__(self, problems: list) -> None:
        self.problems = problems
        first = problems[0] if problems else None
        summary = f"{len(problems)} problem(s); first: {first}" if first else "invalid flow"
        super().__init__(f"the flow is not valid: {summary}")


class ConnectorError(FlowbridgeError):
    """A connector could not reach or use its system (the whole batch is affected, not one record)."""


class TransientError(ConnectorError):
    """A fault worth retrying: connection refused or reset, timeout, database locked."""


class RecordError(FlowbridgeError):
    """One record cannot go on; its reason goes to the dead-letter store with the record."""


class ExpressionLimit(RecordError):
    """An expression broke a cap (loop steps, value size): the record fails, the run goes on."""


class StoreUnreachable(FlowbridgeError):
    """The store's database server does not answer (down, or not there): a worker tries again."""
