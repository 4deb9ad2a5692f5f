"""The commands about runs: validate and run a flow, list and show runs, replay, test cases, dead
letters and sync conflicts."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from app.cli.common import DRY, EXIT_FAILED, EXIT_OK, UsageError, admin, the_node_types, the_root, the_store
from app.errors import NotFound


def cmd_validate(args: argparse.Namespace) -> int:
    from app.problems import one_line
    from app.services.flows import check_flow_file

    failed, types = False, the_node_types()
    for name in args.files:
        problems = check_flow_file(name, types)
        for problem in problems:
            print(problem)
        if problems:
            failed = True
        elif not args.quiet:
            print(f"{one_line(name)}: valid")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from app.one_run_process import settle_before_the_run
    from app.services import door, run_reads
    from app.services.runs import load_flow, new_run_id

    if args.flow == "cancel":
        return _cancel(args)
    if args.run_id is not None:
        raise UsageError(f"unexpected '{args.run_id}': `flowbridge run FLOW` runs one flow")
    root = the_root()
    store = root.store
    try:
        document, version = load_flow(store, args.flow)
    except NotFound as error:
        raise UsageError(str(error)) from None
    settle_before_the_run()
    who, run_id = admin(), new_run_id()
    start = door.RunStart(
        env=args.env,
        document=document,
        version=version,
        dry_run=args.dry_run,
        full_resync=args.full,
        batch_size=args.batch_size,
        types=root.node_types,
        run_id=run_id,
    )
    with _followed(store, run_id, who, on_terminal=not args.json and sys.stdout.isatty()):
        result = door.start(store, who, start)
    if args.json:
        output = run_reads.result_summary(result)
        if args.dry_run:  # what it would write, and the records that would fail with their reasons
            output["changes"] = result.changes
            output["would_fail"] = run_reads.would_fail(store, result.run_id)
        print(json.dumps(output, indent=2, default=str))
    else:
        _print_result(result, args.dry_run)
    return EXIT_OK if result.status == "succeeded" else EXIT_FAILED


@contextmanager
def _followed(store: Any, run_id: str, who: Any, *, on_terminal: bool) -> Iterator[None]:
    """A progress line and a clean Ctrl+C on a terminal; nothing extra otherwise."""
    from app.cli.run_progress import ProgressLine, stopped_by_ctrl_c

    if not on_terminal:
        yield
        return
    with stopped_by_ctrl_c(store, run_id, who), ProgressLine(store, run_id, sys.stdout):
        yield


def _cancel(args: argparse.Namespace) -> int:
    from app.services.run_stops import stop_run

    if not args.run_id:
        raise UsageError("`flowbridge run cancel RUN_ID` needs the run's id (see `flowbridge runs`)")
    try:
        run = stop_run(the_store(), admin(), args.run_id)
    except NotFound as error:
        raise UsageError(str(error)) from None
    if run.status == "cancelled":
        print(f"run {run.id} of {run.flow_id} was waiting its turn: cancelled; its records stay with it")
    else:
        print(
            f"run {run.id} of {run.flow_id} stops at the end of its current batch, its cursor where that batch left it"
        )
    return EXIT_OK


def _print_result(result: Any, dry_run: bool = False) -> None:
    seconds = (result.finished_at - result.started_at).total_seconds()
    print(
        f"run {result.run_id} of {result.flow_id} ({result.env}): {result.status} in {seconds:.2f}s"
        + (f" — {DRY}; the counts say what it would have done" if dry_run else "")
    )
    print("  " + " · ".join(f"{k} {v}" for k, v in result.totals.items()))
    if result.error:
        print(f"  error: {result.error}")
    _print_ledger(result.ledger.summary())
    if result.totals["failed"]:
        print(f"  {result.totals['failed']} record(s) failed; see `flowbridge run-show {result.run_id}`")


def _print_ledger(ledger: dict[str, dict[str, Any]]) -> None:
    rows = [("node", "in", "out", "failed", "written", "seconds")]
    for node_id, counts in ledger.items():
        out = ", ".join(f"{port} {n}" for port, n in counts.get("out", {}).items()) or "-"
        written = ", ".join(f"{k} {counts[k]}" for k in ("inserted", "updated", "unchanged") if k in counts) or "-"
        rows.append(
            (
                node_id,
                str(counts.get("in", 0)),
                out,
                str(counts.get("failed", 0)),
                written,
                f"{counts.get('seconds', 0):.3f}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def cmd_runs(args: argparse.Namespace) -> int:
    from app.services.overview import run_row
    from app.services.run_reads import find_runs

    rows = find_runs(the_store(), flow_id=args.flow, limit=args.limit)
    if args.json:
        print(json.dumps([run_row(r) for r in rows], indent=2, default=str))
        return EXIT_OK
    if not rows:
        print("no runs yet" + (f" of flow '{args.flow}'" if args.flow else ""))
    for run in rows:
        totals = " ".join(f"{k}={v}" for k, v in (run.totals or {}).items())
        status = f"{run.status} (dry run)" if run.dry_run else run.status
        print(f"{run.id}  {run.flow_id}  {run.env}  {status}  {run.started_at:%Y-%m-%d %H:%M:%S}  {totals}")
    return EXIT_OK


def cmd_run_show(args: argparse.Namespace) -> int:
    from app.services import run_reads
    from app.services.overview import run_row

    store = the_store()
    try:
        run = run_reads.run(store, args.run_id)
    except NotFound as error:
        raise UsageError(str(error)) from None
    ledger = run_reads.run_page(store, run.id).ledger
    letters = run_reads.dead_letters(store, run_id=run.id, status=None, limit=args.limit)
    if args.json:
        print(
            json.dumps(
                {
                    **run_row(run),
                    "nodes": ledger,
                    "dead_letters": [
                        {"id": d.id, "node_id": d.node_id, "reason": d.reason, "record": d.record, "status": d.status}
                        for d in letters
                    ],
                },
                indent=2,
                default=str,
            )
        )
        return EXIT_OK
    print(
        f"run {run.id} of {run.flow_id} (version {run.flow_version or 'file'}, {run.env}, {run.trigger})"
        + (f" — {DRY}" if run.dry_run else "")
    )
    print(
        f"  status {run.status}; started {run.started_at:%Y-%m-%d %H:%M:%S}"
        + (f", finished {run.finished_at:%H:%M:%S}" if run.finished_at else "")
    )
    print("  " + " · ".join(f"{k} {v}" for k, v in (run.totals or {}).items()))
    if run.error:
        print(f"  error: {run.error}")
    _print_ledger(ledger)
    if letters:
        total = run_reads.count_dead_letters(store, run.id)
        shown = f"{len(letters)} of {total}" if total > len(letters) else str(total)
        print(f"  failed records ({shown}):")
        for letter in letters:
            print(f"    #{letter.id} at node '{letter.node_id}': {letter.reason}")
            print(f"      {json.dumps(letter.record, default=str)[:300]}")
    return EXIT_OK


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from app.services import dead_letters as letters
    from app.services import run_reads

    root = the_root()
    store = root.store
    if args.action in ("retry", "discard") and not args.ids:
        raise UsageError(f"name the dead letters to {args.action}, e.g. flowbridge dead-letters {args.action} 12 13")
    if args.action == "retry":
        for run_id in letters.retry(store, args.ids, who=admin(), types=root.node_types):
            print(f"retried in run {run_id}")
        return EXIT_OK
    if args.action == "discard":
        letters.discard(store, args.ids, who=admin())
        print(f"discarded {', '.join(f'#{i}' for i in args.ids)}")
        return EXIT_OK
    rows = run_reads.dead_letters(store, flow_id=args.flow, status="open", limit=args.limit)
    if args.json:
        from app.services.overview import letter_row

        print(json.dumps([letter_row(d) for d in rows], indent=2, default=str))
        return EXIT_OK
    if not rows:
        print("no open dead letters")
    for group in letters.reasons(store, args.flow):
        print(f"{group['count']:>5}  {group['flow_id']} at {group['node_id']}: {group['reason']}")
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from app.services.replay import replay

    try:
        report = replay(the_store(), args.run_id, env=args.env, flow_version=args.flow_version, who=admin())
    except NotFound as error:
        raise UsageError(str(error)) from None
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        original, again = report["original"], report["replay"]
        print(
            f"run {original['run_id']} ({original['env']}, version {original['flow_version'] or 'file'}, "
            f"{original['status']}) replayed as {again['run_id']} (sandbox, version {again['flow_version']}, "
            f"{again['status']})"
        )
        for node, counts in report["nodes"].items():
            print(f"  {node:<16} original {_counts(counts['original'])}  |  replay {_counts(counts['replay'])}")
        print(f"  {len(report['records'])} target record(s) differ")
        for diff in report["records"][:50]:
            print(
                f"    {diff['node']} {diff['key']}: {', '.join(diff['fields']) or ('only in the replay' if diff['before'] is None else 'only in the original')}"
            )
    return EXIT_OK if report["replay"]["error"] is None else EXIT_FAILED


def _counts(counts: dict[str, Any] | None) -> str:
    if not counts:
        return "-"
    written = (
        "/".join(str(counts.get(k, 0)) for k in ("inserted", "updated", "unchanged")) if "inserted" in counts else ""
    )
    return f"in {counts.get('in', 0)} out {sum(counts.get('out', {}).values())} failed {counts.get('failed', 0)}" + (
        f" written {written}" if written else ""
    )


def cmd_test(args: argparse.Namespace) -> int:
    from app.services.replay import run_cases, save_case

    root = the_root()
    store = root.store
    if args.save:
        try:
            case = save_case(store, args.save, args.name or args.save, who=admin())
        except NotFound as error:
            raise UsageError(str(error)) from None
        print(f"test case #{case.id} '{case.name}' saved on flow '{case.flow_id}'")
        return EXIT_OK
    if not args.flow_id:
        raise UsageError("name a flow: flowbridge test FLOW_ID (or --save RUN_ID to make a case)")
    try:
        results = run_cases(store, args.flow_id, who=admin(), types=root.node_types)
    except NotFound as error:
        raise UsageError(str(error)) from None
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    elif not results:
        print(f"flow '{args.flow_id}' has no test cases; save one with flowbridge test --save RUN_ID")
    for result in [] if args.json else results:
        print(
            f"{'PASS' if result['passed'] else 'FAIL'}  {result['case']}"
            + (f": {result['error']}" if result["error"] else "")
        )
        for diff in result["differences"][:20]:
            print(f"      {diff['node']} {diff['key']}: expected {diff['before']}, got {diff['after']}")
    return EXIT_OK if all(r["passed"] for r in results) else EXIT_FAILED


def cmd_conflicts(args: argparse.Namespace) -> int:
    from app.services.conflicts import open_conflicts

    rows = open_conflicts(the_store(), env=args.env, flow_id=args.flow)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return EXIT_OK
    if not rows:
        print("no open conflicts")
    for c in rows:
        source, target = c["source"], c["target"]
        print(
            f"#{c['id']} {c['env']} {c['entity']} field '{c['field']}': {source['system']} {source['id']} says "
            f"{source['value']!r}, {target['system']} {target['id']} says {target['value']!r} (flow {c['flow_id']})"
        )
    return EXIT_OK
