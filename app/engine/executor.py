"""The executor: a short walk over a plan, streaming batches from each read node to the writes.

A read node's batch is pushed through every node downstream of it before the next batch is read,
so memory holds about one batch per node whatever the size of the source. Each batch's cursor
position is committed only once the writes downstream of it are committed (or, when a node
downstream holds records back until the end, once the run has finished).

The executor knows no node type and no store: the services it is given resolve connections, keep
cursors and dead letters, and listen to the run (for the run store, a live canvas or a preview).
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from app.connectors import ConnectionSpec
from app.engine.expressions import Evaluation, ExpressionProgram, SandboxEnvironment
from app.engine.ledger import Ledger
from app.engine.plan import Plan, PlannedNode
from app.errors import FlowbridgeError
from nodes.base import Failure, LinkState, LinkUpdate, Outcome, Processor, Record, Source, SourceBatch, id_text

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 1000
MAX_CHANGES_KEPT = 10_000  # per write node: a dry run of a million records reports the first ones


@dataclass(frozen=True)
class RunRequest:
    """What to run and how; one per run."""

    run_id: str
    env: str = "sandbox"
    trigger: str = "manual"
    payload: list[Record] | None = None
    dry_run: bool = False
    full_resync: bool = False
    batch_size: int | None = None
    record_limit: int | None = None  # previews: stop reading after this many source records
    start_at: str | None = None  # retries: the payload goes straight into this node (the one that failed it)
    # replays: read nodes yield these stored records instead of reading their systems (and move no cursor)
    replay_inputs: dict[str, list[Record]] | None = None
    keep_changes: int = 0  # per write node, how many per-record outcomes to report (dry runs: all)


class RunServices(Protocol):
    """What the executor needs from outside; the store implements it, tests may too."""

    def connection(self, name: str, env: str) -> ConnectionSpec: ...

    def cursor(self, flow_id: str, node_id: str, env: str) -> Any: ...

    def commit_cursor(self, flow_id: str, node_id: str, env: str, position: Any) -> None: ...

    def dead_letters(self, node_id: str, failures: list[Failure]) -> None: ...

    def on_batch(self, node_id: str, records: list[Record], outcome: Outcome) -> None: ...

    def on_read(self, node_id: str, records: list[Record]) -> None: ...

    def on_progress(self, ledger: dict[str, dict[str, Any]], totals: dict[str, int]) -> None:
        """After each batch from a read, once its writes are committed: what the run did so far."""

    def on_activity(self, node_id: str, ledger: dict[str, dict[str, Any]], totals: dict[str, int]) -> None:
        """As a node starts on a batch: which node is at work, and the run's counts so far (a live
        view; unlike on_progress, nothing is known committed)."""

    def stop_requested(self) -> bool:
        """Asked at each batch boundary (a read's batch written and its cursor committed): True ends
        the run there, as cancelled, with nothing lost: the next run goes on from that cursor."""

    def links(
        self, env: str, entity: str, system: str, ids: list[str], other: str, snapshots: str = "both"
    ) -> dict[str, LinkState]: ...

    def all_links(self, env: str, entity: str, system: str, other: str) -> dict[str, str]: ...

    def save_links(self, env: str, entity: str, updates: list[LinkUpdate]) -> None: ...

    def add_conflicts(self, conflicts: list[dict[str, Any]]) -> None: ...

    def write_outcomes(self, env: str, flow_id: str, node_id: str, keys: list[str]) -> dict[str, Any]:
        """The durable outcomes kept for these records of a write node (see store/write_outcomes.py)."""

    def write_sending(self, env: str, flow_id: str, node_id: str, key: str, run_id: str, kept: Any = None) -> str:
        """Mark a record as about to be created in the target (`kept`: its outcome as `write_outcomes`
        gave it); its idempotency key."""

    def write_accepted(
        self,
        env: str,
        flow_id: str,
        node_id: str,
        key: str,
        run_id: str,
        outcome: str,
        target_id: str | None,
        links: list[tuple[str, LinkUpdate]],
    ) -> None:
        """The target took the record: keep its outcome, id and links ((entity, link)) at once."""


class RunStopped(Exception):
    """Raised at a batch boundary when someone asked the run to stop; `execute` ends it as cancelled."""


@dataclass
class RunResult:
    run_id: str
    flow_id: str
    env: str
    status: str  # succeeded, partial (some records failed), failed, cancelled (stopped on request)
    started_at: dt.datetime
    finished_at: dt.datetime
    ledger: Ledger
    totals: dict[str, int]
    error: str | None = None
    changes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


class _NodeContext:
    """The NodeContext a node gets for one run (see nodes/base.py)."""

    def __init__(self, node: PlannedNode, run: _Run) -> None:
        self.node_id = node.id
        self.flow_id = run.plan.flow_id
        self.run_id = run.request.run_id
        self.env = run.request.env
        self.batch_size = run.batch_size
        self.full_resync = run.request.full_resync
        self.dry_run = run.request.dry_run
        self.keep_changes = run.request.keep_changes
        self._run = run

    def program(self, sources: list[Source]) -> _BoundProgram:
        return _BoundProgram(ExpressionProgram(self._run.expressions, sources), self._run.names)

    def connection(self, name: str) -> Any:
        return self._run.connector(name)

    def cursor_position(self) -> Any:
        return self._run.services.cursor(self.flow_id, self.node_id, self.env)

    def temp_path(self, name: str) -> Path:
        folder = self._run.temp_dir / self.node_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder / name

    @property
    def sync(self) -> _SyncAccess:
        return self._run.sync

    @property
    def outcomes(self) -> _OutcomeAccess:
        return _OutcomeAccess(self)


class _OutcomeAccess:
    """A write node's durable per-record outcomes; a dry run reads them and keeps nothing."""

    def __init__(self, context: _NodeContext) -> None:
        self._context = context
        self._services = context._run.services
        self._where = (context.env, context.flow_id, context.node_id)

    def known(self, keys: list[str]) -> dict[str, Any]:
        return self._services.write_outcomes(*self._where, keys) if keys else {}

    def sending(self, key: str, kept: Any = None) -> str | None:
        if self._context.dry_run:
            return None
        return self._services.write_sending(*self._where, key, self._context.run_id, kept)

    def accepted(self, key: str, outcome: str, target_id: str | None, links: list[tuple[str, LinkUpdate]] = ()) -> None:
        if not self._context.dry_run:
            self._services.write_accepted(*self._where, key, self._context.run_id, outcome, target_id, list(links))


class _SyncAccess:
    """Links and conflicts for the nodes of one run; a dry run reads links but keeps nothing."""

    def __init__(self, run: _Run) -> None:
        self._run = run
        self._xref_cache: dict[tuple[str, str, str], dict[str, str]] = {}

    def links(
        self, entity: str, system: str, ids: list[str], other: str, snapshots: str = "both"
    ) -> dict[str, LinkState]:
        return self._run.services.links(self._run.request.env, entity, system, ids, other, snapshots)

    def save_links(self, entity: str, updates: list[LinkUpdate]) -> None:
        if updates and not self._run.request.dry_run:
            self._run.services.save_links(self._run.request.env, entity, updates)
            self._xref_cache = {k: v for k, v in self._xref_cache.items() if k[0] != entity}

    def all_links(self, entity: str, system: str, other: str) -> dict[str, str]:
        return self._run.services.all_links(self._run.request.env, entity, system, other)

    def add_conflicts(self, conflicts: list[dict[str, Any]]) -> None:
        if conflicts and not self._run.request.dry_run:
            self._run.services.add_conflicts(
                [
                    {
                        **c,
                        "env": self._run.request.env,
                        "flow_id": self._run.plan.flow_id,
                        "run_id": self._run.request.run_id,
                    }
                    for c in conflicts
                ]
            )

    def xref(self, system: Any, entity: Any, source_id: Any, target: Any) -> str | None:
        """The expression function xref('crm', 'account', record.account_id, 'erp'): the id the
        target system gave that record, or none when the two are not linked (yet)."""
        if source_id is None:
            return None
        key = (str(entity), str(system), str(target))
        if key not in self._xref_cache:  # one query per run and entity, not one per record
            self._xref_cache[key] = self._run.services.all_links(self._run.request.env, *key)
        return self._xref_cache[key].get(id_text(source_id))


class _BoundProgram:
    def __init__(self, program: ExpressionProgram, names: dict[str, Any]) -> None:
        self.program, self.names = program, names

    def evaluate(self, records: list[Record]) -> list[Evaluation]:
        return self.program.evaluate(records, self.names)


class _Run:
    """The state of one run of a plan; `execute` below is its only user."""

    def __init__(self, plan: Plan, request: RunRequest, services: RunServices) -> None:
        self.plan, self.request, self.services = plan, request, services
        self.batch_size = request.batch_size or plan.batch_size or DEFAULT_BATCH_SIZE
        self.ledger = Ledger([n.id for n in plan.order])
        self.started_at = dt.datetime.now(dt.UTC)
        self.names = {
            "ctx": {
                "run_id": request.run_id,
                "flow_id": plan.flow_id,
                "env": request.env,
                "now": self.started_at.isoformat(),
                "trigger": request.trigger,
            }
        }
        self.sync = _SyncAccess(self)
        self.expressions = SandboxEnvironment(plan.value_maps(), functions={"xref": self.sync.xref})
        self.temp_dir = Path(tempfile.mkdtemp(prefix=f"flowbridge-{request.run_id}-"))
        self.connectors: dict[str, Any] = {}
        self.processors: dict[str, Processor] = {}
        self.pending: dict[str, list[Record]] = {n.id: [] for n in plan.order}
        self.deferred_positions: dict[str, Any] = {}
        self.changes: dict[str, list[dict[str, Any]]] = {}
        self.read_so_far = 0
        # A read's cursor waits for the end of the run when a node downstream holds records back.
        self.defer_cursor = {
            n.id: any(plan.node(d).type.holds_records(plan.node(d).config) for d in plan.downstream(n.id))
            for n in plan.order
            if n.type.is_source
        }

    def connector(self, name: str) -> Any:
        if name not in self.connectors:
            self.connectors[name] = self.services.connection(name, self.request.env).open()
        return self.connectors[name]

    def build(self) -> None:
        for node in self.plan.order:
            try:
                self.processors[node.id] = node.type.build(node.config, _NodeContext(node, self))
            except FlowbridgeError as error:
                raise FlowbridgeError(f"node '{node.id}': {error}") from None

    # --- the walk ---------------------------------------------------------------------------------

    def run(self) -> None:
        if self.request.start_at:
            self.inject(self.request.start_at, self.request.payload or [])
        else:
            trigger = self.plan.trigger
            records = self.processors[trigger.id].trigger(self.request.payload)
            self.route(trigger, Outcome(ports={trigger.type.outputs[0]: records}))
            self.drain(after=0)
        for index, node in enumerate(self.plan.order):
            outcomes = iter(self.processors[node.id].finish())
            while (outcome := self.timed(node, lambda left=outcomes: next(left, None))) is not None:
                self.account(node, outcome)
                self.route(node, outcome)
                self.drain(after=index + 1)
        if not self.request.dry_run and self.request.replay_inputs is None:
            for node_id, position in self.deferred_positions.items():
                self.services.commit_cursor(self.plan.flow_id, node_id, self.request.env, position)

    def inject(self, node_id: str, records: list[Record]) -> None:
        """A retry: records enter the node that failed them, as if sent along an edge named `retry`."""
        if node_id not in self.plan.by_id:
            raise FlowbridgeError(f"the flow has no node '{node_id}' any more; the record cannot go back to it")
        self.pending[node_id].extend(records)
        self.ledger.nodes[node_id].received += len(records)
        self.ledger.add_edge("retry", "in", node_id, len(records))
        self.drain(after=self.plan.index(node_id))

    def drain(self, after: int) -> None:
        """Process, in plan order, every node from `after` on that has records waiting."""
        for index in range(after, len(self.plan.order)):
            node = self.plan.order[index]
            if not self.pending[node.id]:
                continue
            if node.type.is_source:
                self.read_source(node, index)
                continue
            while self.pending[node.id]:
                batch = self.pending[node.id][: self.batch_size]
                del self.pending[node.id][: self.batch_size]
                outcome = self.timed(node, lambda b=batch, n=node.id: self.processors[n].process(b))
                self.account(node, outcome, batch)
                self.route(node, outcome)

    def read_source(self, node: PlannedNode, index: int) -> None:
        inputs, self.pending[node.id] = self.pending[node.id], []
        replay = self.request.replay_inputs
        if replay is not None:  # a replay reads what the original run read, from the store
            stored = replay.get(node.id, []) if inputs else []
            batches = iter(
                [SourceBatch(stored[i : i + self.batch_size]) for i in range(0, len(stored), self.batch_size)]
            )
        else:
            batches = iter(self.processors[node.id].read(inputs))
        while True:
            batch = self.timed(node, lambda: next(batches, None))
            if batch is None:
                return
            records = self.limit(batch.records)
            read = Outcome(ports={node.type.outputs[0]: records})
            self.services.on_read(node.id, records)
            self.services.on_batch(node.id, [], read)  # listeners see what each read node read
            self.route(node, read)
            self.drain(after=index + 1)
            if batch.position is not None and not self.request.dry_run and self.request.replay_inputs is None:
                if self.defer_cursor[node.id]:
                    self.deferred_positions[node.id] = batch.position
                else:
                    self.services.commit_cursor(self.plan.flow_id, node.id, self.request.env, batch.position)
            self.services.on_progress(self.ledger.summary(), self.ledger.totals(self.plan))
            if self.services.stop_requested():
                raise RunStopped
            if self.request.record_limit is not None and self.read_so_far >= self.request.record_limit:
                return

    def limit(self, records: list[Record]) -> list[Record]:
        if self.request.record_limit is None:
            return records
        records = records[: max(self.request.record_limit - self.read_so_far, 0)]
        self.read_so_far += len(records)
        return records

    def timed(self, node: PlannedNode, work: Any) -> Any:
        self.services.on_activity(node.id, self.ledger.summary(), self.ledger.totals(self.plan))
        started = time.perf_counter()
        try:
            return work()
        finally:
            self.ledger.nodes[node.id].seconds += time.perf_counter() - started

    def account(self, node: PlannedNode, outcome: Outcome, batch: list[Record] | None = None) -> None:
        counts = self.ledger.nodes[node.id]
        if outcome.failed:
            counts.failed += len(outcome.failed)
            self.services.dead_letters(node.id, outcome.failed)
        for kind, n in outcome.written.items():
            counts.written[kind] = counts.written.get(kind, 0) + n
        if outcome.changes:
            kept = self.changes.setdefault(node.id, [])
            kept.extend(outcome.changes[: max(MAX_CHANGES_KEPT - len(kept), 0)])
        self.services.on_batch(node.id, batch or [], outcome)

    def route(self, node: PlannedNode, outcome: Outcome) -> None:
        counts = self.ledger.nodes[node.id]
        for port, records in outcome.ports.items():
            if not records and port in counts.out:
                continue
            counts.out[port] = counts.out.get(port, 0) + len(records)
            targets = node.routes.get(port, ())
            if not targets:
                key = (node.id, port)
                self.ledger.dropped[key] = self.ledger.dropped.get(key, 0) + len(records)
            for target in targets:
                self.pending[target].extend(records)
                self.ledger.nodes[target].received += len(records)
                self.ledger.add_edge(node.id, port, target, len(records))

    def close(self) -> None:
        for processor in self.processors.values():
            try:
                processor.close()
            except Exception:  # closing must not hide the run's own outcome
                log.exception("closing a node failed")
        for connector in self.connectors.values():
            try:
                connector.close()
            except Exception:
                log.exception("closing a connection failed")
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def execute(plan: Plan, request: RunRequest, services: RunServices) -> RunResult:
    """Run a plan once; never raises for a problem in the flow, its data or its systems."""
    run = _Run(plan, request, services)
    error: str | None = None
    stopped = False
    try:
        run.build()
        run.run()
    except RunStopped:  # at a batch boundary: what it wrote is committed, and so is its cursor
        stopped = True
    except FlowbridgeError as exc:
        error = str(exc)
    except MemoryError:  # a page, a record or a lookup larger than this process may hold
        error = f"the run ran out of memory{_memory_limit()}; what its committed batches wrote stays"
    except Exception as exc:  # a bug in a node or connector: the run fails and says where
        log.exception("run %s failed unexpectedly", request.run_id)
        error = f"internal error: {type(exc).__name__}: {exc}"
    finally:
        run.close()
    if error is None and not stopped:  # a stopped run may leave records held back by a node, unread
        imbalances = run.ledger.imbalances(plan)
        if imbalances:
            error = "the ledger does not balance: " + "; ".join(imbalances)
    totals = run.ledger.totals(plan)
    status = "failed" if error else "cancelled" if stopped else ("partial" if totals["failed"] else "succeeded")
    return RunResult(
        request.run_id,
        plan.flow_id,
        request.env,
        status,
        run.started_at,
        dt.datetime.now(dt.UTC),
        run.ledger,
        totals,
        error,
        run.changes,
    )


def _memory_limit() -> str:
    """' (a run may use 500 MB)' when this process has an address-space limit (a run the server
    started: see services/isolation.py), else ''."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return ""
    return "" if soft == resource.RLIM_INFINITY else f" (a run may use {soft // (1024 * 1024):,} MB)"


def summary(result: RunResult) -> dict[str, Any]:
    """The run as the CLI's --json prints it."""
    return {
        "run_id": result.run_id,
        "flow_id": result.flow_id,
        "status": result.status,
        "env": result.env,
        "started_at": result.started_at.isoformat(),
        "finished_at": result.finished_at.isoformat(),
        "nodes": result.ledger.summary(),
        "totals": result.totals,
        "error": result.error,
    }
