"""The `flowbridge` command line's grammar: every command, its options and its handler."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from app.cli.admin_commands import (
    cmd_connection_authorize,
    cmd_connection_list,
    cmd_connection_set,
    cmd_demo_init,
    cmd_flow_delete,
    cmd_flow_import,
    cmd_flow_list,
    cmd_flow_switch,
    cmd_flow_webhook,
    cmd_sandbox_serve,
    cmd_serve,
    cmd_user_add,
    cmd_user_list,
    cmd_user_remove,
)
from app.cli.common import EXIT_USAGE
from app.cli.run_commands import (
    cmd_conflicts,
    cmd_dead_letters,
    cmd_replay,
    cmd_run,
    cmd_run_show,
    cmd_runs,
    cmd_test,
    cmd_validate,
)
from app.cli.worker_commands import cmd_worker, cmd_workers
from app.environments import ENVIRONMENTS
from app.services.access import ROLES


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own exit(2) with usage, kept as is
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="flowbridge", description="Keep a CRM and an ERP in sync with flows.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    validate = commands.add_parser("validate", help="check flow documents; one line per problem")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument("-q", "--quiet", action="store_true", help="print nothing for valid files")
    validate.set_defaults(handler=cmd_validate)

    run = commands.add_parser(
        "run",
        help="run a flow once, now, and print its summary; `run cancel RUN_ID` stops a run",
        description="Run a flow once, now. On a terminal a progress line follows it, and Ctrl+C stops it "
        "at its next batch boundary. `flowbridge run cancel RUN_ID` stops a run started anywhere "
        "(the web app, a schedule, another terminal) the same way.",
    )
    run.add_argument("flow", metavar="FLOW", help="a flow file or a stored flow id (or `cancel`)")
    run.add_argument("run_id", metavar="RUN_ID", nargs="?", help="with `cancel`: the run to stop")
    run.add_argument("--env", choices=ENVIRONMENTS, default="sandbox")
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
    conn_set.add_argument("--env", choices=ENVIRONMENTS, required=True)
    conn_set.add_argument("--type", choices=("sql", "file", "http", "jsonrpc", "odata"), required=True)
    conn_set.add_argument(
        "--url",
        help="SQLAlchemy URL (sql), the API's base URL (http), the database's address (jsonrpc) or the "
        "service root (odata)",
    )
    conn_set.add_argument("--path", help="folder (file)")
    conn_set.add_argument("--token", help="bearer token (http)")
    conn_set.add_argument("--username", help="basic auth user (http), or the user who logs in (jsonrpc, --login)")
    conn_set.add_argument("--password", help="basic auth password (http), or the login's password (jsonrpc)")
    conn_set.add_argument(
        "--login",
        metavar="PRESET",
        choices=("erpnext",),
        help="log in with --username and --password and carry the session (http): erpnext",
    )
    conn_set.add_argument("--dialect", choices=("tryton", "odoo"), help="the JSON-RPC system (jsonrpc; default tryton)")
    conn_set.add_argument("--database", help="the database logged in to (jsonrpc, --dialect odoo)")
    conn_set.add_argument("--api-key", help="API key sent in a header (http)")
    conn_set.add_argument("--api-key-header", default="X-API-Key", help="header for --api-key (default X-API-Key)")
    conn_set.add_argument(
        "--oauth2-token-url", metavar="URL", help="OAuth2 client credentials: the token endpoint (http)"
    )
    conn_set.add_argument(
        "--oauth2-authorize-url",
        metavar="URL",
        help="OAuth2 authorization code: where users give consent (then `flowbridge connection authorize`)",
    )
    conn_set.add_argument("--client-id", help="OAuth2 client id (with --oauth2-token-url)")
    conn_set.add_argument("--client-secret", help="OAuth2 client secret (with --oauth2-token-url)")
    conn_set.add_argument("--scope", help="OAuth2 scopes asked for, space-separated (optional)")
    conn_set.add_argument(
        "--token-auth-method",
        choices=("client_secret_basic", "client_secret_post"),
        help="how the client authenticates at the token endpoint (default client_secret_basic)",
    )
    conn_set.add_argument("--timeout", type=float, metavar="SECONDS", help="longest wait for one call (http)")
    conn_set.add_argument(
        "--error-path",
        metavar="PATH",
        help="where a 2xx answer reports an error, e.g. error for JSON-RPC (http): such an answer is a refusal",
    )
    conn_set.add_argument(
        "--csrf",
        action="store_true",
        help="fetch an SAP-style CSRF token (X-CSRF-Token: Fetch) before writes (odata)",
    )
    conn_set.set_defaults(handler=cmd_connection_set)
    conn_auth = connection.add_parser(
        "authorize", help="give an OAuth2 connection a user's consent, through a browser and 127.0.0.1"
    )
    conn_auth.add_argument("name")
    conn_auth.add_argument("--env", choices=ENVIRONMENTS, required=True)
    conn_auth.add_argument(
        "--port", type=int, default=8765, help="the redirect's port on 127.0.0.1, as registered (default 8765)"
    )
    conn_auth.add_argument("--timeout", type=float, default=300, metavar="SECONDS", help="how long to wait")
    conn_auth.set_defaults(handler=cmd_connection_authorize)
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
    user_add.add_argument("--role", choices=ROLES, required=True)
    user_add.set_defaults(handler=cmd_user_add)
    users.add_parser("list", help="users and their roles").set_defaults(handler=cmd_user_list)
    user_remove = users.add_parser("remove", help="remove a user (their token stops working)")
    user_remove.add_argument("name")
    user_remove.set_defaults(handler=cmd_user_remove)

    conflicts = commands.add_parser("conflicts", help="fields changed on both sides, held for review")
    conflicts.add_argument("--env", choices=ENVIRONMENTS)
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

    worker = commands.add_parser(
        "worker", help="run queued runs from a PostgreSQL store (servers with FLOWBRIDGE_RUN_QUEUE=workers)"
    )
    worker.add_argument("--concurrency", type=int, default=2, help="runs at a time in this process (default 2)")
    worker.set_defaults(handler=cmd_worker)
    workers = commands.add_parser("workers", help="the workers alive, what each runs and since when")
    workers.set_defaults(handler=cmd_workers)
    return parser
