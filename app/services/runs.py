"""Starting runs: load the flow, compile it, execute it with the store as its services, record it."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nodes
from app.connectors import ConnectionSpec
from app.connectors.retry import retry_events
from app.engine.document import read_document_file
from app.engine.executor import RunRequest, RunResult, execute
from app.engine.plan import compile_plan
from app.errors import FlowbridgeError, InvalidFlow, NotFound
from app.services import isolation
from app.services.live_progress import LiveProgress
from app.store import connections, flows, runs, sync, write_outcomes
from app.store.database import Store
from app.store.models import Conflict, Run
from nodes.base import Failure, LinkState, LinkUpdate, NodeType, Outcome, Record, without_meta


def new_run_id() -> str:
    """Sortable and readable: 20261129-014502-3fa9c1."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def load_flow(store: Store, ref: str) -> tuple[dict[str, Any], int | None]:
    """A flow document from a file path or a stored flow id, with its stored version (or None)."""
    path = Path(ref)
    if path.suffix == ".json" or path.exists():
        document, problems = read_document_file(path)
        if problems:
            raise InvalidFlow(problems)
        return document, None
    try:
        return flows.get_document(store, ref)
    except NotFound:
        raise NotFound(f"'{ref}' is neither a flow file nor a stored flow id") from None


class StoreRunServices:
    """The executor's services backed by the store (see app/engine/executor.py RunServices)."""

    def __init__(self, store: Store, run: Run) -> None:
        self.store, self.run = store, run
        self.samples: dict[str, dict[str, Any]] = {}
        # What a replay needs (records read) and compares (records written, and their outcomes).
        self.kept: dict[tuple[str, str], list[Any]] = {}
        self.kept_count = 0
        self.outcomes = write_outcomes.OutcomeWriter(store)
        self.live: LiveProgress | None = None

    def follow(self, events: list[dict[str, Any]]) -> None:
        """Keep the run's live view in the store while it goes (see services/live_progress.py)."""
        self.live = LiveProgress(self.store, self.run.id, events)
        self.live.start()

    def close(self) -> None:
        if self.live is not None:
            self.live.close()
        self.outcomes.close()

    def _keep(self, kind: str, node_id: str, records: list[Any]) -> None:
        room = MAX_KEPT_RECORDS - self.kept_count
        if room > 0 and records:
            taken = json.loads(json.dumps(records[:room], default=str))
            self.kept.setdefault((kind, node_id), []).extend(taken)
            self.kept_count += len(taken)

    def on_read(self, node_id: str, records: list[Record]) -> None:
        if not self.run.dry_run:  # nothing replays a dry run's input (see DRY_RUN_KEEPS)
            self._keep("input", node_id, records)

    def connection(self, name: str, env: str) -> ConnectionSpec:
        return connections.connection_spec(self.store, name, env)

    def on_progress(self, ledger: dict[str, dict[str, Any]], totals: dict[str, int]) -> None:
        if self.live is not None:
            self.live.boundary(ledger, totals)
        else:
            runs.record_progress(self.store, self.run.id, totals=totals, ledger=ledger)

    def on_activity(self, node_id: str, ledger: dict[str, dict[str, Any]], totals: dict[str, int]) -> None:
        if self.live is not None:
            self.live.post(node_id, ledger, totals)

    def stop_requested(self) -> bool:
        return runs.stop_requested(self.store, self.run.id)

    def cursor(self, flow_id: str, node_id: str, env: str) -> Any:
        return runs.get_cursor(self.store, flow_id, node_id, env)

    def commit_cursor(self, flow_id: str, node_id: str, env: str, position: Any) -> None:
        runs.commit_cursor(self.store, flow_id, node_id, env, position)

    def dead_letters(self, node_id: str, failures: list[Failure]) -> None:
        if not self.run.dry_run:
            runs.add_dead_letters(self.store, self.run, node_id, failures)
        else:  # not dead letters (nothing to retry), but what the dry run reports as "would fail"
            self._keep("failed", node_id, [{"reason": f.reason, "record": without_meta(f.record)} for f in failures])

    def on_batch(self, node_id: str, records: list[Record], outcome: Outcome) -> None:
        """Keep the first few records in and out of each node for the run's detail page."""
        if not outcome.ports and records:  # a node without outputs is a write: keep what reached it
            self._keep("written", node_id, [without_meta(r) for r in records])
            self._keep("change", node_id, outcome.changes)
        kept = self.samples.setdefault(node_id, {"in": [], "out": {}})
        if len(kept["in"]) < SAMPLES_PER_NODE:
            kept["in"] += _sample(records, SAMPLES_PER_NODE - len(kept["in"]))
        for port, sent in outcome.ports.items():
            out = kept["out"].setdefault(port, [])
            if len(out) < SAMPLES_PER_NODE:
                out += _sample(sent, SAMPLES_PER_NODE - len(out))

    def links(
        self, env: str, entity: str, system: str, ids: list[str], other: str, snapshots: str = "both"
    ) -> dict[str, LinkState]:
        return sync.links_for(self.store, env, entity, system, ids, other, snapshots)

    def all_links(self, env: str, entity: str, system: str, other: str) -> dict[str, str]:
        return sync.all_links(self.store, env, entity, system, other)

    def save_links(self, env: str, entity: str, updates: list[LinkUpdate]) -> None:
        sync.save_links(self.store, env, entity, updates)

    def add_conflicts(self, conflicts: list[dict[str, Any]]) -> None:
        sync.add_conflicts(self.store, [Conflict(**c) for c in conflicts])

    def write_outcomes(self, env: str, flow_id: str, node_id: str, keys: list[str]) -> dict[str, Any]:
        return write_outcomes.known(self.store, write_outcomes.Where(env, flow_id, node_id), keys)

    def write_sending(self, env: str, flow_id: str, node_id: str, key: str, run_id: str, kept: Any = None) -> str:
        return self.outcomes.sending(write_outcomes.Where(env, flow_id, node_id), key, run_id, kept)

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
        self.outcomes.accepted(write_outcomes.Where(env, flow_id, node_id), key, run_id, outcome, target_id, links)


def run_flow(
    store: Store,
    document: dict[str, Any],
    *,
    version: int | None = None,
    env: str = "sandbox",
    trigger: str = "manual",
    payload: list[Record] | None = None,
    dry_run: bool = False,
    full_resync: bool = False,
    batch_size: int | None = None,
    start_at: str | None = None,
    started_by: str = "",
    run_id: str | None = None,
    replay_inputs: dict[str, list[Record]] | None = None,
    keep_into: dict[tuple[str, str], list[Any]] | None = None,
    replay_of: str | None = None,
    types: Mapping[str, NodeType] | None = None,
) -> RunResult:
    """Run a flow once, synchronously, and store the run, its ledger, its dead letters and the
    retries it needed. `start_at` sends the payload straight into one node (a dead-letter retry);
    `replay_inputs` gives read nodes stored records instead of their systems' (a replay); `types`
    the node types it may use (default: the registry of nodes/)."""
    if env not in connections.ENVIRONMENTS:
        raise FlowbridgeError(f"unknown environment '{env}'; use one of {', '.join(connections.ENVIRONMENTS)}")
    plan = compile_plan(document, types=types)  # a flow that cannot run says so here, before any process starts
    run = Run(
        id=run_id or new_run_id(),
        flow_id=plan.flow_id,
        flow_version=version,
        env=env,
        trigger=trigger,
        dry_run=dry_run,
        payload=_capped_payload(payload),
        started_by=started_by,
        replay_of=replay_of,
        document=document if version is None else None,
    )
    runs.start_run(store, run)  # a queued run (webhook) already has its row: it becomes running
    limits = isolation.limits_here()
    if limits is not None:  # the web server: the run goes on in a child process, with limits
        result, kept = isolation.run_in_child(
            store,
            run.id,
            limits.for_document(document),
            dict(
                document=document,
                version=version,
                env=env,
                trigger=trigger,
                payload=payload,
                dry_run=dry_run,
                full_resync=full_resync,
                batch_size=batch_size,
                start_at=start_at,
                started_by=started_by,
                run_id=run.id,
                replay_inputs=replay_inputs,
                replay_of=replay_of,
                # The registry goes as None: the child has its own, warm (and a type's lambdas would
                # not pickle); only a root's own set travels.
                types=None if types is nodes.registry() else types,
                keep=keep_into is not None,
            ),
        )
        if keep_into is not None:
            keep_into.update(kept)
        return result
    request = RunRequest(
        run_id=run.id,
        env=env,
        trigger=trigger,
        payload=payload,
        dry_run=dry_run,
        full_resync=full_resync,
        batch_size=batch_size,
        start_at=start_at,
        replay_inputs=replay_inputs,
        keep_changes=KEPT_CHANGES_PER_NODE,
    )
    events: list[dict[str, Any]] = []
    token = retry_events.set(events)
    services = StoreRunServices(store, run)
    services.follow(events)
    try:
        result = execute(plan, request, services)
    finally:
        retry_events.reset(token)
        services.close()
    runs.finish_run(
        store,
        run.id,
        status=result.status,
        totals=result.totals,
        error=result.error,
        ledger=result.ledger.summary(),
        finished_at=result.finished_at,
        events=events or None,
        samples=services.samples,
    )
    if result.status == "failed" and not dry_run:  # a batch cut short: its records the API took still count
        result.totals = write_outcomes.settle_run(store, run.id) or result.totals
    runs.keep_records(
        store,
        run.id,
        services.kept
        if not dry_run
        else {kept: records for kept, records in services.kept.items() if kept[0] in DRY_RUN_KEEPS},
    )
    if keep_into is not None:  # test cases look at what a dry run would have written
        keep_into.update(services.kept)
    return result


def dry_run_changes(store: Store, run_id: str) -> dict[str, list[dict[str, Any]]]:
    """Per node, what a stored dry run would have done: its write outcomes (inserted, updated,
    unchanged: key, before, after) and its would-be failures (outcome "failed", reason, record)."""
    changes = runs.kept_records(store, run_id, "change")
    for node_id, failures in runs.kept_records(store, run_id, "failed").items():
        changes.setdefault(node_id, []).extend({"outcome": "failed", **failure} for failure in failures)
    return changes


# A dry run keeps what it would change and why records would fail, not its input nor its would-be
# writes: replays and test cases compare with what a run really wrote, and a dry run wrote nothing.
DRY_RUN_KEEPS = ("change", "failed")
SAMPLES_PER_NODE = 5
MAX_KEPT_RECORDS = 20_000  # records a run keeps for replays and comparisons, all nodes together
KEPT_CHANGES_PER_NODE = 5_000
MAX_SAMPLE_CHARS = 2000  # per record: a sample is for looking at, not a copy of the data


def _sample(records: list[Record], n: int) -> list[Record]:
    import json

    kept = []
    for record in records[:n]:
        text = json.dumps(record, default=str)
        kept.append(json.loads(text) if len(text) <= MAX_SAMPLE_CHARS else {"_truncated": text[:MAX_SAMPLE_CHARS]})
    return kept


MAX_STORED_PAYLOAD = 1000  # records of a trigger payload kept with the run (for replays)


def _capped_payload(payload: list[Record] | None) -> list[Record] | None:
    return None if payload is None else payload[:MAX_STORED_PAYLOAD]
