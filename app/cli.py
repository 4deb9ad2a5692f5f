"""The `flowbridge` command. Every error is a sentence on stderr and an exit code, never a traceback.

Exit codes: 0 success; 1 a run failed or has failed records, or a file is invalid; 2 bad usage
(an unknown option, flow, run or environment).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

from app.errors import FlowbridgeError, InvalidFlow, NotFound

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
LOG_FILE = Path(tempfile.gettempdir()) / "flowbridge.log"


class UsageError(FlowbridgeError):
    """The command line asks for something that cannot be (exit 2)."""


def _store():
    """The store of this command's process, from its composition root (app/composition.py)."""
    from app.composition import Flowbridge, Settings

    return Flowbridge(Settings.from_environment()).store


# --- commands -------------------------------------------------------------------------------------


def cmd_validate(args: argparse.Namespace) -> int:
    from app.engine.document import read_document_file
    from app.engine.problems import one_line
    from app.engine.validation import validate_document

    failed = False
    for name in args.files:
        document, problems = read_document_file(Path(name))
        if document is not None:
            problems = [p.in_file(name) for p in validate_document(document)]
        for problem in problems:
            print(problem)
        if problems:
            failed = True
        elif not args.quiet:
            print(f"{one_line(name)}: valid")
    return EXIT_FAILED if failed else EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from app.engine.executor import summary
    from app.one_run_process import settle_before_the_run
    from app.services import door
    from app.services.runs import load_flow
    from app.store import runs

    store = _store()
    try:
        document, version = load_flow(store, args.flow)
    except NotFound as error:
        raise UsageError(str(error)) from None
    settle_before_the_run()
    result = door.start(
        store,
        _admin(),
        door.RunStart(
            env=args.env,
            document=document,
            version=version,
            dry_run=args.dry_run,
            full_resync=args.full,
            batch_size=args.batch_size,
        ),
    )
    if args.json:
        output = summary(result)
        if args.dry_run:  # what it would write, and the records that would fail with their reasons
            output["changes"] = result.changes
            output["would_fail"] = runs.kept_records(store, result.run_id, "failed")
        print(json.dumps(output, indent=2, default=str))
    else:
        _print_result(result, args.dry_run)
    return EXIT_OK if result.status == "succeeded" else EXIT_FAILED


DRY = "dry run: nothing was written"


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
    from app.store import runs

    rows = runs.list_runs(_store(), flow_id=args.flow, limit=args.limit)
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
    from app.services.overview import run_row
    from app.store import runs

    store = _store()
    try:
        run = runs.get_run(store, args.run_id)
    except NotFound as error:
        raise UsageError(str(error)) from None
    ledger = runs.run_ledger(store, run.id)
    letters = runs.dead_letters(store, run_id=run.id, status=None, limit=args.limit)
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
        total = runs.count_dead_letters(store, run.id)
        shown = f"{len(letters)} of {total}" if total > len(letters) else str(total)
        print(f"  failed records ({shown}):")
        for letter in letters:
            print(f"    #{letter.id} at node '{letter.node_id}': {letter.reason}")
            print(f"      {json.dumps(letter.record, default=str)[:300]}")
    return EXIT_OK


def cmd_connection_set(args: argparse.Namespace) -> int:
    from app.store.connections import set_connection

    if args.type == "sql" and not args.url:
        raise UsageError("a sql connection needs --url, e.g. postgresql://user:pass@host/db")
    if args.type == "file" and not args.path:
        raise UsageError("a file connection needs --path, the folder holding the files")
    if args.type == "http" and not args.url:
        raise UsageError("an http connection needs --url, the API's base URL, e.g. https://api.example.com/v1")
    if args.type == "http":
        settings = _http_settings(args)
    else:
        settings = {"url": args.url} if args.type == "sql" else {"path": str(Path(args.path).resolve())}
    set_connection(_store(), args.name, args.env, args.type, settings)
    print(f"connection '{args.name}' ({args.env}) saved")
    return EXIT_OK


def _http_settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {"base_url": args.url, "auth": "none"}
    if args.token:
        settings.update(auth="bearer", token=args.token)
    elif args.username:
        if not args.password:
            raise UsageError("basic auth needs --password with --username")
        settings.update(auth="basic", username=args.username, password=args.password)
    elif args.api_key:
        settings.update(auth="api_key", api_key=args.api_key, api_key_header=args.api_key_header)
    if args.timeout:
        settings["timeout"] = args.timeout
    return settings


def cmd_connection_list(args: argparse.Namespace) -> int:
    from app.store.connections import list_connections

    rows = list_connections(_store())
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no connections yet; add one with `flowbridge connection set` or `flowbridge demo init`")
    for row in [] if args.json else rows:
        print(f"{row['name']:<12} {row['env']:<11} {row['type']:<5} {row['target']}")
    return EXIT_OK


def cmd_flow_import(args: argparse.Namespace) -> int:
    from app.services.flows import import_flow_file

    store = _store()
    for name in args.files:
        flow_id, version = import_flow_file(store, Path(name), comment=args.comment or f"imported from {name}")
        print(f"{name}: stored as flow '{flow_id}' version {version}")
    return EXIT_OK


def cmd_flow_list(args: argparse.Namespace) -> int:
    from app.store.flows import list_flows

    rows = list_flows(_store())
    if args.json:
        print(
            json.dumps(
                [{"id": f.id, "name": f.name, "version": f.current_version, "enabled": f.enabled} for f in rows],
                indent=2,
            )
        )
        return EXIT_OK
    if not rows:
        print("no flows yet; import one with `flowbridge flow import FILE` or run `flowbridge demo init`")
    for flow in rows:
        print(f"{flow.id:<36} v{flow.current_version:<4} {'on ' if flow.enabled else 'off'}  {flow.name}")
    return EXIT_OK


def _admin() -> Any:
    """The command line acts as this machine's admin (see access.machine_admin)."""
    from app.services.access import machine_admin

    return machine_admin()


def _who() -> str:
    return _admin().name


def cmd_flow_switch(args: argparse.Namespace) -> int:
    from app.services.switches import switch

    try:
        flow = switch(_store(), args.flow_id, args.action == "on", who=_admin(), reason=args.reason or "")
    except NotFound as error:
        raise UsageError(str(error)) from None
    print(f"flow '{flow.id}' is {'on' if flow.enabled else 'off'}")
    return EXIT_OK


def cmd_flow_delete(args: argparse.Namespace) -> int:
    from app.services.flows import delete_flow

    try:
        delete_flow(_store(), args.flow_id, who=_admin())
    except NotFound as error:
        raise UsageError(str(error)) from None
    print(f"flow '{args.flow_id}' deleted (its runs and dead letters are kept)")
    return EXIT_OK


def cmd_flow_webhook(args: argparse.Namespace) -> int:
    from app.services.webhooks import secret_for
    from app.store.flows import get_flow

    store = _store()
    try:
        get_flow(store, args.flow_id)
    except NotFound as error:
        raise UsageError(str(error)) from None
    secret = secret_for(store, args.flow_id, rotate=args.rotate)
    print(f"POST http://HOST:PORT/hooks/{args.flow_id}")
    print(f"secret: {secret}")
    print(
        "send it as X-Flowbridge-Token, or sign each call: X-Flowbridge-Timestamp: <unix seconds> and "
        'X-Flowbridge-Signature: sha256=<HMAC-SHA256 of "<timestamp>.<body>">'
    )
    return EXIT_OK


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from app.services import dead_letters as letters
    from app.store import runs

    store = _store()
    if args.action in ("retry", "discard") and not args.ids:
        raise UsageError(f"name the dead letters to {args.action}, e.g. flowbridge dead-letters {args.action} 12 13")
    if args.action == "retry":
        for run_id in letters.retry(store, args.ids, who=_admin()):
            print(f"retried in run {run_id}")
        return EXIT_OK
    if args.action == "discard":
        letters.discard(store, args.ids, who=_admin())
        print(f"discarded {', '.join(f'#{i}' for i in args.ids)}")
        return EXIT_OK
    rows = runs.dead_letters(store, flow_id=args.flow, status="open", limit=args.limit)
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
        report = replay(_store(), args.run_id, env=args.env, flow_version=args.flow_version, who=_admin())
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

    store = _store()
    if args.save:
        try:
            case = save_case(store, args.save, args.name or args.save, who=_admin())
        except NotFound as error:
            raise UsageError(str(error)) from None
        print(f"test case #{case.id} '{case.name}' saved on flow '{case.flow_id}'")
        return EXIT_OK
    if not args.flow_id:
        raise UsageError("name a flow: flowbridge test FLOW_ID (or --save RUN_ID to make a case)")
    try:
        results = run_cases(store, args.flow_id, who=_admin())
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


def cmd_user_add(args: argparse.Namespace) -> int:
    from app.services.access import add_user

    token = add_user(_store(), args.name, args.role)
    print(f"user '{args.name}' ({args.role}) saved; API token (shown once): {token}")
    print("  sign in to the web app with this name and token; the API takes it as Authorization: Bearer <token>")
    return EXIT_OK


def cmd_user_list(args: argparse.Namespace) -> int:
    from app.services.access import list_users

    users = list_users(_store())
    if not users:
        print("no users: the web app and the API are open to everyone as admin")
    for user in users:
        print(f"{user.name}  {user.role}  since {user.created_at:%Y-%m-%d}")
    return EXIT_OK


def cmd_user_remove(args: argparse.Namespace) -> int:
    from app.services.access import remove_user

    try:
        remove_user(_store(), args.name)
    except NotFound as error:
        raise UsageError(str(error)) from None
    print(f"user '{args.name}' removed; their token no longer works")
    return EXIT_OK


def cmd_conflicts(args: argparse.Namespace) -> int:
    from app.store.sync import open_conflicts

    rows = open_conflicts(_store(), env=args.env, flow_id=args.flow)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": c.id,
                        "env": c.env,
                        "flow_id": c.flow_id,
                        "entity": c.entity,
                        "field": c.field,
                        "source": {"system": c.source_system, "id": c.source_id, "value": c.source_value},
                        "target": {"system": c.target_system, "id": c.target_id, "value": c.target_value},
                        "created_at": c.created_at,
                    }
                    for c in rows
                ],
                indent=2,
                default=str,
            )
        )
        return EXIT_OK
    if not rows:
        print("no open conflicts")
    for c in rows:
        print(
            f"#{c.id} {c.env} {c.entity} field '{c.field}': {c.source_system} {c.source_id} says "
            f"{c.source_value!r}, {c.target_system} {c.target_id} says {c.target_value!r} (flow {c.flow_id})"
        )
    return EXIT_OK


def cmd_demo_init(args: argparse.Namespace) -> int:
    from app.services.demo import init_demo

    report = init_demo(_store(), Path(args.dir), accounts=args.accounts)
    for line in report:
        print(line)
    return EXIT_OK


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from app.sandbox.http_serve import serve_forever

    serve_forever(
        Path(args.dir),
        host=args.host,
        crm_port=args.crm_port,
        erp_port=args.erp_port,
        token=args.token,
        accounts=args.accounts,
        fresh=args.fresh,
    )
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from app.ui.main import serve

    if args.store:
        os.environ["FLOWBRIDGE_DB_URL"] = args.store
    if args.sandboxes:  # the demo's CRM and ERP REST APIs, for the HTTP example flows
        import atexit

        from app.services import sandboxes

        try:
            sandboxes.start(Path(args.sandboxes))  # the Sandbox page shows them, resets them, sets faults
        except FlowbridgeError as error:
            raise UsageError(str(error)) from None
        print(f"sandbox CRM and ERP APIs on 127.0.0.1:8701 and :8702 (data in {args.sandboxes})")
        atexit.register(sandboxes.stop)
    print(
        f"Flowbridge on http://{args.host}:{args.port} (store: {args.store or os.environ.get('FLOWBRIDGE_DB_URL') or 'flowbridge.db'}); Ctrl+C stops it"
    )
    serve(args.host, args.port, args.store)
    return EXIT_OK


# --- wiring ---------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own exit(2) with usage, kept as is
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="flowbridge", description="Keep a CRM and an ERP in sync with flows.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    validate = commands.add_parser("validate", help="check flow documents; one line per problem")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("-q", "--quiet", action="store_true", help="print nothing for valid files")
    validate.set_defaults(handler=cmd_validate)

    run = commands.add_parser("run", help="run a flow once, now, and print its summary")
    run.add_argument("flow", metavar="FLOW", help="a flow file or a stored flow id")
    run.add_argument("--env", choices=("sandbox", "production"), default="sandbox")
    run.add_argument("--json", action="store_true", help="print one JSON object")
    run.add_argument("--full", action="store_true", help="ignore read cursors: resync everything")
    run.add_argument("--dry-run", action="store_true", help="write nothing; report what would change")
    run.add_argument("--batch-size", type=int, metavar="N")
    run.set_defaults(handler=cmd_run)

    runs = commands.add_parser("runs", help="list stored runs, newest first")
    runs.add_argument("--flow", metavar="ID")
    runs.add_argument("--limit", type=int, default=50)
    runs.add_argument("--json", action="store_true")
    runs.set_defaults(handler=cmd_runs)

    show = commands.add_parser("run-show", help="a run's ledger and its failed records with their reasons")
    show.add_argument("run_id", metavar="RUN_ID")
    show.add_argument("--limit", type=int, default=100, help="failed records to show")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_run_show)

    connection = commands.add_parser("connection", help="manage connections").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    conn_set = connection.add_parser("set", help="add or change a connection")
    conn_set.add_argument("name")
    conn_set.add_argument("--env", choices=("sandbox", "production"), required=True)
    conn_set.add_argument("--type", choices=("sql", "file", "http"), required=True)
    conn_set.add_argument("--url", help="SQLAlchemy URL (sql) or the API's base URL (http)")
    conn_set.add_argument("--path", help="folder (file)")
    conn_set.add_argument("--token", help="bearer token (http)")
    conn_set.add_argument("--username", help="basic auth user (http)")
    conn_set.add_argument("--password", help="basic auth password (http)")
    conn_set.add_argument("--api-key", help="API key sent in a header (http)")
    conn_set.add_argument("--api-key-header", default="X-API-Key", help="header for --api-key (default X-API-Key)")
    conn_set.add_argument("--timeout", type=float, metavar="SECONDS", help="longest wait for one call (http)")
    conn_set.set_defaults(handler=cmd_connection_set)
    conn_list = connection.add_parser("list", help="list connections (passwords hidden)")
    conn_list.add_argument("--json", action="store_true")
    conn_list.set_defaults(handler=cmd_connection_list)

    flow = commands.add_parser("flow", help="manage stored flows").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    flow_import = flow.add_parser("import", help="store flow files as new versions")
    flow_import.add_argument("files", nargs="+", metavar="FILE")
    flow_import.add_argument("--comment")
    flow_import.set_defaults(handler=cmd_flow_import)
    for action, text in (
        ("on", "switch a flow on (its schedule or webhook starts runs)"),
        ("off", "switch a flow off"),
    ):
        flow_switch = flow.add_parser(action, help=text)
        flow_switch.add_argument("flow_id", metavar="ID")
        flow_switch.add_argument("--reason")
        flow_switch.set_defaults(handler=cmd_flow_switch)
    flow_delete = flow.add_parser("delete", help="delete a flow and its versions (runs are kept)")
    flow_delete.add_argument("flow_id", metavar="ID")
    flow_delete.set_defaults(handler=cmd_flow_delete)
    flow_hook = flow.add_parser("webhook", help="the flow's webhook address and secret")
    flow_hook.add_argument("flow_id", metavar="ID")
    flow_hook.add_argument("--rotate", action="store_true", help="make a new secret (the old one stops working)")
    flow_hook.set_defaults(handler=cmd_flow_webhook)
    flow_list = flow.add_parser("list", help="list stored flows")
    flow_list.add_argument("--json", action="store_true")
    flow_list.set_defaults(handler=cmd_flow_list)

    letters = commands.add_parser("dead-letters", help="failed records: list by reason, retry, discard")
    letters.add_argument("action", nargs="?", choices=("list", "retry", "discard"), default="list")
    letters.add_argument("ids", nargs="*", type=int, metavar="ID")
    letters.add_argument("--flow", metavar="ID")
    letters.add_argument("--limit", type=int, default=1000)
    letters.add_argument("--json", action="store_true")
    letters.set_defaults(handler=cmd_dead_letters)

    replay = commands.add_parser("replay", help="run a stored run's input again in the sandbox and compare")
    replay.add_argument("run_id", metavar="RUN_ID")
    replay.add_argument("--env", default="sandbox", help="only sandbox is allowed")
    replay.add_argument("--flow-version", help="a version number, or 'current' (default: the run's own)")
    replay.add_argument("--json", action="store_true")
    replay.set_defaults(handler=cmd_replay)

    test = commands.add_parser("test", help="run a flow's saved test cases (exit 1 if any fails)")
    test.add_argument("flow_id", nargs="?", metavar="FLOW_ID")
    test.add_argument("--save", metavar="RUN_ID", help="save a run's input and writes as a test case")
    test.add_argument("--name", help="the test case's name (with --save)")
    test.add_argument("--json", action="store_true")
    test.set_defaults(handler=cmd_test)

    users = commands.add_parser("user", help="API users and their roles").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    user_add = users.add_parser("add", help="add a user (or give them a new token)")
    user_add.add_argument("name")
    user_add.add_argument("--role", choices=("admin", "analyst", "tester", "viewer"), required=True)
    user_add.set_defaults(handler=cmd_user_add)
    users.add_parser("list", help="users and their roles").set_defaults(handler=cmd_user_list)
    user_remove = users.add_parser("remove", help="remove a user (their token stops working)")
    user_remove.add_argument("name")
    user_remove.set_defaults(handler=cmd_user_remove)

    conflicts = commands.add_parser("conflicts", help="fields changed on both sides, held for review")
    conflicts.add_argument("--env", choices=("sandbox", "production"))
    conflicts.add_argument("--flow", metavar="ID")
    conflicts.add_argument("--json", action="store_true")
    conflicts.set_defaults(handler=cmd_conflicts)

    demo = commands.add_parser("demo", help="the demo CRM and ERP").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    demo_init = demo.add_parser("init", help="create demo databases, connections and example flows")
    demo_init.add_argument("--dir", default="demo", help="where the demo databases go (default ./demo)")
    demo_init.add_argument("--accounts", type=int, default=600)
    demo_init.set_defaults(handler=cmd_demo_init)

    sandbox = commands.add_parser("sandbox", help="the sandbox CRM and ERP as HTTP services").add_subparsers(
        dest="action", required=True, metavar="ACTION", parser_class=_Parser
    )
    sandbox_serve = sandbox.add_parser("serve", help="serve the sandbox CRM and ERP REST APIs until Ctrl+C")
    sandbox_serve.add_argument("--host", default="127.0.0.1")
    sandbox_serve.add_argument("--crm-port", type=int, default=8701)
    sandbox_serve.add_argument("--erp-port", type=int, default=8702)
    sandbox_serve.add_argument("--dir", default="sandbox", help="where their SQLite files go (default ./sandbox)")
    sandbox_serve.add_argument("--token", default="sandbox-token", help="the bearer token they accept")
    sandbox_serve.add_argument("--accounts", type=int, default=600, help="CRM accounts in new seeded data")
    sandbox_serve.add_argument("--fresh", action="store_true", help="seed the data again (else kept from last time)")
    sandbox_serve.set_defaults(handler=cmd_sandbox_serve)

    serve = commands.add_parser("serve", help="start the web app (flows, editor, runs)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument(
        "--store", metavar="URL", help="the store's database URL (default: FLOWBRIDGE_DB_URL or ./flowbridge.db)"
    )
    serve.add_argument(
        "--sandboxes", metavar="DIR", help="also serve the sandbox CRM and ERP REST APIs (ports 8701, 8702)"
    )
    serve.set_defaults(handler=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Details (retries, tracebacks of internal errors) go to a log file, never to the terminal.
    logging.basicConfig(
        level=logging.WARNING, filename=str(LOG_FILE), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as error:
        print(f"flowbridge: {error}", file=sys.stderr)
        return EXIT_USAGE
    except InvalidFlow as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        return EXIT_FAILED
    except FlowbridgeError as error:
        print(f"flowbridge: {error}", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:  # `flowbridge runs | head`: the reader left; nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("flowbridge: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: say so in one line, keep the traceback in a file
        logging.getLogger("flowbridge.cli").error("internal error\n%s", traceback.format_exc())
        print(f"flowbridge: internal error: {type(error).__name__}: {error} (details in {LOG_FILE})", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
