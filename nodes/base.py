"""The node contract: what every node type module declares, and what it gets from the engine.

A node type is one module in nodes/ exposing `NODE_TYPE`. The engine never names a node type: it
reads the family, ports and schema from here and calls the processor the type builds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.records import Failure, LinkState, LinkUpdate, Record  # noqa: F401  (the nodes' vocabulary too)

# A record may carry `_meta`: facts about where it came from (filter.changed puts the source row
# there for a two-way sync). Map and transform carry it along; writes never store it.
META = "_meta"


def without_meta(record: Record) -> Record:
    return {k: v for k, v in record.items() if k != META} if META in record else record


FAMILIES = ("trigger", "read", "filter", "map", "transform", "write")


@dataclass
class Outcome:
    """What a node did with one batch: records per output port, failures, and writes by kind."""

    ports: dict[str, list[Record]] = field(default_factory=dict)
    failed: list[Failure] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)  # inserted / updated / unchanged
    changes: list[dict[str, Any]] = field(default_factory=list)  # per-record write details, for previews

    def emit(self, port: str, record: Record) -> None:
        self.ports.setdefault(port, []).append(record)

    def fail(self, record: Record, reason: str, details: str | None = None) -> None:
        self.failed.append(Failure(record, reason, details))

    def count(self, kind: str, n: int = 1) -> None:
        self.written[kind] = self.written.get(kind, 0) + n


@dataclass
class SourceBatch:
    """A batch a read node produced, and the cursor position reached once it is written."""

    records: list[Record]
    position: Any = None


@dataclass(frozen=True)
class Source:
    """One named piece of analyst code a node asks the engine to compile, e.g. map field `name`."""

    name: str
    text: str
    kind: str  # "expression" (a value or condition) or "template" (text with {{ }})


def id_text(value: Any) -> str:
    """An id as the link store keeps it: 42, 42.0 and '42' are the same id."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


class SyncStore(Protocol):
    """Links between systems and the conflict queue, as a node sees them in one run."""

    def links(
        self, entity: str, system: str, ids: list[str], other: str, snapshots: str = "both"
    ) -> dict[str, LinkState]: ...

    def save_links(self, entity: str, updates: list[LinkUpdate]) -> None: ...

    def all_links(self, entity: str, system: str, other: str) -> dict[str, str]: ...

    def add_conflicts(self, conflicts: list[dict[str, Any]]) -> None: ...


class OutcomeStore(Protocol):
    """A write node's durable per-record outcomes in a target that cannot roll back (an API):
    see app/store/write_outcomes.py. A dry run reads them and keeps nothing."""

    def known(self, keys: list[str]) -> dict[str, Any]: ...

    def sending(self, key: str, kept: Any = None) -> str | None: ...

    def accepted(
        self, key: str, outcome: str, target_id: str | None, links: list[tuple[str, LinkUpdate]] = ()
    ) -> None: ...


class Program(Protocol):
    """A node's compiled expressions (built by the engine; see app/engine/expressions.py)."""

    def evaluate(self, records: list[Record]) -> list[Any]: ...


class NodeContext(Protocol):
    """What the engine hands a node when it builds the node's processor for one run."""

    node_id: str
    flow_id: str
    run_id: str
    env: str
    batch_size: int
    full_resync: bool
    dry_run: bool
    keep_changes: int  # how many per-record write outcomes to report (besides dry runs, which report all)

    def program(self, sources: list[Any]) -> Program: ...

    def connection(self, name: str) -> Any: ...

    def cursor_position(self) -> Any: ...

    def temp_path(self, name: str) -> Any: ...

    @property
    def sync(self) -> SyncStore: ...

    @property
    def outcomes(self) -> OutcomeStore: ...


class Processor:
    """One node's work during one run. Override what the node's family needs."""

    def trigger(self, payload: list[Record] | None) -> list[Record]:
        """Triggers: the records a run starts with (a tick for manual and schedule runs)."""
        raise NotImplementedError(f"{type(self).__name__} is not a trigger")

    def read(self, inputs: list[Record]) -> Iterator[SourceBatch]:
        """Read nodes: batches from the source system, given the records that reached the node."""
        raise NotImplementedError(f"{type(self).__name__} is not a read node")

    def process(self, records: list[Record]) -> Outcome:
        """Every other node: one batch in, an outcome out."""
        raise NotImplementedError(f"{type(self).__name__} does not process batches")

    def finish(self) -> Iterator[Outcome]:
        """Called once every upstream is exhausted: the batches the node held back (dedupe, files)."""
        return iter(())

    def close(self) -> None:
        """Release connections and temporary files, whether the run succeeded or not."""


# A node type's defaults are named functions, not lambdas, so a set of types pickles (a root's own
# set travels to a run's child process that way).
def holds_nothing(config: dict[str, Any]) -> bool:
    return False


def no_checks(config: dict[str, Any]) -> list[tuple[tuple, str]]:
    return []


@dataclass(frozen=True)
class NodeType:
    """A node type's declaration: the editor, validator and executor all read it."""

    type: str
    family: str
    title: str
    description: str
    config_schema: dict[str, Any]
    build: Callable[[dict[str, Any], NodeContext], Processor]
    inputs: tuple[str, ...] = ("in",)
    outputs: tuple[str, ...] = ("out",)
    # Ports whose records may deliberately go nowhere (a filter's rejects); counted as filtered,
    # or under the total `port_totals` names (records found unchanged count as unchanged).
    discard_ports: tuple[str, ...] = ()
    port_totals: dict[str, str] = field(default_factory=dict)
    # A node that holds records back until finish(): read cursors wait for the end of the run.
    holds_records: Callable[[dict[str, Any]], bool] = holds_nothing
    # Checks a schema cannot express (a cron expression, a time zone): (config path, sentence).
    check: Callable[[dict[str, Any]], list[tuple[tuple, str]]] = no_checks
    # What a node type contributes beyond its runs, so no other package names node types:
    # a trigger's summary in words (the Flows page), whether it runs on a schedule (the scheduler
    # reads its config) or takes webhook calls (its config holds their auth), and a write's fields
    # that identify a target record (replays and test cases compare writes by them).
    summary: Callable[[dict[str, Any]], str] | None = None
    scheduled: bool = False
    takes_webhooks: bool = False
    write_key: Callable[[dict[str, Any]], list[str]] | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"node type {self.type}: unknown family {self.family!r}")

    @property
    def is_trigger(self) -> bool:
        return self.family == "trigger"

    @property
    def is_source(self) -> bool:
        return self.family == "read"

    @property
    def is_sink(self) -> bool:
        return not self.outputs


# The node types a flow may use, by name: the registry of nodes/ or a composition root's own set.
NodeTypes = Mapping[str, NodeType]


@dataclass(frozen=True)
class ExpressionField:
    """One piece of analyst code found in a node config: where it is, its text, its kind."""

    path: tuple[str | int, ...]
    text: str
    kind: str  # "expression" or "template"

    @property
    def name(self) -> str:
        return ".".join(str(p) for p in self.path)


def find_expressions(
    schema: dict[str, Any], value: Any, path: tuple = (), root: dict[str, Any] | None = None
) -> list[ExpressionField]:
    """Walk a config alongside its schema; every string under an `x-expression` keyword is code."""
    root = root or schema
    schema = _resolve(root, schema)
    kind = schema.get("x-expression")
    if kind and isinstance(value, str):
        return [ExpressionField(path, value, kind)]
    found: list[ExpressionField] = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            sub = properties.get(key, extra if isinstance(extra, dict) else None)
            if sub:
                found += find_expressions(sub, item, (*path, key), root)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += find_expressions(schema["items"], item, (*path, index), root)
    for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
        branch = _resolve(root, branch)
        if _branch_fits(branch, value):
            found += find_expressions(branch, value, path, root)
            break
    return found


def _resolve(root: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return root.get("$defs", {}).get(ref.rsplit("/", 1)[-1], schema)
    return schema


def _branch_fits(schema: dict[str, Any], value: Any) -> bool:
    """Pick the oneOf branch a value belongs to: by an `op` constant for objects, else by type."""
    op = schema.get("properties", {}).get("op", {})
    if "const" in op:
        return isinstance(value, dict) and value.get("op") == op["const"]
    kinds = {"object": dict, "array": list, "string": str}
    return schema.get("type") in kinds and isinstance(value, kinds[schema["type"]])
