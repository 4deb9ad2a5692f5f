"""Replays and saved test cases: a stored run's input run again in the sandbox, compared with the run.

A run keeps what its read nodes read and what reached its write nodes (size-capped, see
StoreRunServices). A replay feeds the same input, with the flow version the run used or another,
to the sandbox and lays the two side by side: counts per node, and per target record (by the write's
key) what the flow wrote then and now. A test case is such an input saved on a flow with the writes
it must give; `flowbridge test` dry-runs every case of a flow and fails on any difference.
Replays and tests only ever run in the sandbox: the service refuses anything else, whoever asks.
"""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import select

import nodes
from app.errors import FlowbridgeError, NotFound
from app.services import access, door
from app.store import flows, runs
from app.store.database import Store
from app.store.models import RunRecords, TestCase
from nodes.base import NodeTypes

SANDBOX = "sandbox"


class SandboxOnly(FlowbridgeError):
    """Replays and test cases may touch only the sandbox."""


def _check_sandbox(env: str) -> None:
    if env != SANDBOX:
        raise SandboxOnly(f"replays and test cases run only in the sandbox environment, not in '{env}'")


def _document(store: Store, flow_id: str, version: int | str | None) -> tuple[dict[str, Any], int]:
    if version in (None, "current"):
        return flows.get_document(store, flow_id)
    if isinstance(version, str) and not (version.isascii() and version.isdigit()):
        raise FlowbridgeError(f"flow_version '{version[:40]}' is neither 'current' nor a version number")
    return flows.get_document(store, flow_id, int(version))


def write_keys(document: dict[str, Any], types: NodeTypes | None = None) -> dict[str, list[str]]:
    """Per write node, the fields that identify a target record (its key, or the synced source id)."""
    keys = {}
    for node in document.get("nodes", []):
        node_type = nodes.get(str(node.get("type")), types)
        if node_type is not None and node_type.write_key is not None:
            keys[node["id"]] = node_type.write_key(node.get("config") or {})
    return keys


def _by_key(records: list[dict[str, Any]], key: list[str]) -> dict[str, dict[str, Any]]:
    indexed = {}
    for position, record in enumerate(records):
        name = json.dumps([record.get(k) for k in key], default=str) if key else f"#{position + 1}"
        indexed[name] = record
    return indexed


def compare_writes(
    before: dict[str, list[Any]], after: dict[str, list[Any]], keys: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """Per write node and target record, what differs between two sets of written records."""
    differences = []
    for node_id in sorted(set(before) | set(after)):
        old = _by_key(before.get(node_id, []), keys.get(node_id, []))
        new = _by_key(after.get(node_id, []), keys.get(node_id, []))
        for name in sorted(set(old) | set(new)):
            was, now = old.get(name), new.get(name)
            if json.dumps(was, sort_keys=True, default=str) == json.dumps(now, sort_keys=True, default=str):
                continue
            fields = (
                sorted({k for k in (was or {}) | (now or {}) if (was or {}).get(k) != (now or {}).get(k)})
                if was and now
                else []
            )
            differences.append(
                {
                    "node": node_id,
                    "key": json.loads(name) if not name.startswith("#") else name,
                    "before": was,
                    "after": now,
                    "fields": fields,
                }
            )
    return differences


MAX_CASE_FAILURES = 1000


def _failures(failed: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Failed records as comparable entries: the record's fields and why it failed (its particulars
    left out, so "… matches 2 rows" and "… matches 3 rows" are alike)."""
    from app.services.dead_letters import reason_kind

    return {
        node: [
            {**(entry.get("record") or {}), "failed": reason_kind(str(entry.get("reason", "")))} for entry in entries
        ]
        for node, entries in failed.items()
    }


def has_input(store: Store, run_id: str) -> bool:
    """Whether a run kept records to replay: what its read nodes read, or the payload it was given."""
    with store.session() as session:
        kept = session.exec(
            select(RunRecords.id).where(RunRecords.run_id == run_id, RunRecords.kind == "input").limit(1)
        ).first()
    return kept is not None or runs.get_run(store, run_id).payload is not None


class NothingToReplay(FlowbridgeError):
    """The run kept no input records (a dry run, or one that read nothing)."""

    def __init__(self, run_id: str, doing: str = "replay") -> None:
        super().__init__(
            f"run {run_id} kept no input records, so there is nothing to {doing}: dry runs and runs "
            "that read nothing keep none. Run the flow for real and use that run"
        )


def _facts(run: Any) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "flow_id": run.flow_id,
        "env": run.env,
        "flow_version": run.flow_version,
        "status": run.status,
        "totals": run.totals,
        "error": run.error,
        "trigger": run.trigger,
        "started_by": run.started_by,
        "started_at": run.started_at,
        "dry_run": run.dry_run,
    }


def _keys_of(store: Store, run: Any, types: NodeTypes | None) -> dict[str, list[str]]:
    # A target record is named by the key of the write node in the version the run used.
    if not run.flow_version:
        return write_keys(run.document, types) if run.document else {}
    try:
        return write_keys(flows.get_document(store, run.flow_id, run.flow_version)[0], types)
    except NotFound:
        return {}


def compare_runs(store: Store, original_id: str, replay_id: str, types: NodeTypes | None = None) -> dict[str, Any]:
    """Two stored runs of a flow side by side: both runs, counts per node, and per target record (by
    the write's key) what each wrote. Read from the store only, so a comparison can be shown again."""
    original, again = runs.get_run(store, original_id), runs.get_run(store, replay_id)
    if original.flow_id != again.flow_id:
        raise FlowbridgeError(
            f"runs {original_id} and {replay_id} are runs of different flows "
            f"({original.flow_id}, {again.flow_id}); only runs of one flow can be compared"
        )
    before_counts, after_counts = runs.run_ledger(store, original_id), runs.run_ledger(store, replay_id)
    keys = _keys_of(store, again, types) or _keys_of(store, original, types)
    return {
        "original": _facts(original),
        "replay": _facts(again),
        "nodes": {
            node: {"original": before_counts.get(node), "replay": after_counts.get(node)}
            for node in dict.fromkeys([*before_counts, *after_counts])
        },
        "records": compare_writes(
            runs.kept_records(store, original_id, "written"), runs.kept_records(store, replay_id, "written"), keys
        ),
        "inputs_replayed": {
            node: len(records) for node, records in runs.kept_records(store, original_id, "input").items()
        },
    }


def replay(
    store: Store,
    run_id: str,
    *,
    env: str = SANDBOX,
    flow_version: int | str | None = None,
    who: access.Principal | None,
    types: NodeTypes | None = None,
) -> dict[str, Any]:
    """Run a stored run's input again in the sandbox and compare the result with the run (see
    compare_runs); `who` must be allowed to replay."""
    who = access.require(who, "replay")
    _check_sandbox(env)
    original = runs.get_run(store, run_id)
    version = flow_version if flow_version is not None else original.flow_version
    if version is None and original.document is not None:  # it ran from a file: the document it kept
        document, used = original.document, None
    else:
        try:
            document, used = _document(store, original.flow_id, version)
        except NotFound as error:
            raise FlowbridgeError(f"cannot replay run {run_id}: {error}") from None
    inputs = runs.kept_records(store, run_id, "input")
    if not inputs and original.payload is None:
        raise NothingToReplay(run_id, "replay")
    result = door.start(
        store,
        who,
        door.RunStart(
            env=SANDBOX,
            trigger="replay",
            document=document,
            version=used,
            payload=original.payload,
            replay_inputs=inputs,
            replay_of=run_id,
            types=types,
        ),
    )
    return compare_runs(store, run_id, result.run_id, types)


def save_case(store: Store, run_id: str, name: str, *, who: access.Principal | None) -> TestCase:
    """Save a run's input, and what it wrote, as a test case of its flow (by someone who may replay)."""
    who = access.require(who, "replay")
    run = runs.get_run(store, run_id)
    inputs = runs.kept_records(store, run_id, "input")
    if not inputs and run.payload is None:
        raise NothingToReplay(run_id, "make a test case of")
    failed: dict[str, list[dict[str, Any]]] = {}
    for letter in runs.dead_letters(store, run_id=run_id, status=None, limit=MAX_CASE_FAILURES):
        failed.setdefault(letter.node_id, []).append({"record": letter.record, "reason": letter.reason})
    case = TestCase(
        flow_id=run.flow_id,
        name=name.strip() or run_id,
        payload=run.payload,
        inputs=inputs,
        expected=runs.kept_records(store, run_id, "written"),
        expected_failed=failed,
        created_by=who.name,
        from_run=run_id,
    )
    with store.session() as session:
        session.add(case)
        session.commit()
        session.refresh(case)
    return case


def delete_case(store: Store, case_id: int, *, who: access.Principal | None) -> TestCase:
    """Remove a test case; returns it (for saying which one went)."""
    access.require(who, "replay")
    return store.delete(TestCase, case_id, f"there is no test case #{case_id}")


def list_cases(store: Store, flow_id: str) -> list[TestCase]:
    with store.session() as session:
        return list(session.exec(select(TestCase).where(TestCase.flow_id == flow_id).order_by(TestCase.id)).all())


def run_cases(
    store: Store, flow_id: str, *, env: str = SANDBOX, who: access.Principal | None, types: NodeTypes | None = None
) -> list[dict[str, Any]]:
    """Dry-run every test case of the flow's current version; one result per case."""
    who = access.require(who, "replay")
    _check_sandbox(env)
    document, version = flows.get_document(store, flow_id)
    keys = write_keys(document, types)
    results = []
    for case in list_cases(store, flow_id):
        kept: dict[tuple[str, str], list[Any]] = {}
        result = door.start(
            store,
            who,
            door.RunStart(
                env=SANDBOX,
                trigger="test",
                document=document,
                version=version,
                payload=case.payload,
                replay_inputs=case.inputs,
                dry_run=True,
                types=types,
            ),
            keep_into=kept,
        )
        produced = {node: records for (kind, node), records in kept.items() if kind == "written"}
        differences = compare_writes(case.expected, produced, keys)
        # What failed must still fail (alike), and nothing written then may be refused now.
        failing_now = {node: records for (kind, node), records in kept.items() if kind == "failed"}
        differences += compare_writes(_failures(case.expected_failed or {}), _failures(failing_now), keys)
        passed = result.error is None and not differences
        results.append(
            {"case": case.name, "id": case.id, "passed": passed, "error": result.error, "differences": differences}
        )
    return results
