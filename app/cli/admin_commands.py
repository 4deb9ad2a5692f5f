"""The commands that set things up: connections, stored flows (import, switch, delete, webhook),
users, the demo, the sandbox systems and the web server."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from app.cli.common import EXIT_OK, UsageError, admin, the_root, the_store
from app.errors import FlowbridgeError, NotFound


def cmd_connection_set(args: argparse.Namespace) -> int:
    from app.services.connections import save_connection

    if args.type == "sql" and not args.url:
        raise UsageError("a sql connection needs --url, e.g. postgresql://user:pass@host/db")
    if args.type == "file" and not args.path:
        raise UsageError("a file connection needs --path, the folder holding the files")
    if args.type == "http" and not args.url:
        raise UsageError("an http connection needs --url, the API's base URL, e.g. https://api.example.com/v1")
    if args.type == "odata" and not args.url:
        raise UsageError(
            "an odata connection needs --url, the service root, e.g. https://erp.example.com/odata/v4/sales"
        )
    if args.csrf and args.type != "odata":
        raise UsageError("--csrf goes with --type odata")
    if (args.dialect or args.database) and args.type != "jsonrpc":
        raise UsageError("--dialect and --database go with --type jsonrpc")
    if args.type == "jsonrpc":
        if not (args.url and args.username and args.password):
            raise UsageError(
                "a jsonrpc connection needs --url (the database's address, e.g. http://erp:8000/mydb/), "
                "--username and --password to log in"
            )
        settings = {"url": args.url, "username": args.username, "password": args.password}
        if args.dialect == "odoo" and not args.database:
            raise UsageError("an odoo connection needs --database, the Odoo database to log in to")
        settings.update({k: v for k, v in (("dialect", args.dialect), ("database", args.database)) if v})
        if args.timeout:
            settings["timeout"] = args.timeout
    elif args.type in ("http", "odata"):
        settings = _http_settings(args)
        if args.csrf:
            settings["csrf"] = True
    else:
        settings = {"url": args.url} if args.type == "sql" else {"path": str(Path(args.path).resolve())}
    save_connection(the_store(), args.name, args.env, args.type, settings, who=admin())
    print(f"connection '{args.name}' ({args.env}) saved")
    return EXIT_OK


def _http_settings(args: argparse.Namespace) -> dict[str, Any]:
    settings: dict[str, Any] = {"base_url": args.url, "auth": "none"}
    if args.login:
        if not (args.username and args.password):
            raise UsageError("a session login needs --username and --password")
        settings.update(auth="session", login=args.login, username=args.username, password=args.password)
    elif args.token:
        settings.update(auth="bearer", token=args.token)
    elif args.username:
        if not args.password:
            raise UsageError("basic auth needs --password with --username")
        settings.update(auth="basic", username=args.username, password=args.password)
    elif args.api_key:
        settings.update(auth="api_key", api_key=args.api_key, api_key_header=args.api_key_header)
    elif args.oauth2_token_url:
        if not (args.client_id and args.client_secret):
            raise UsageError("OAuth2 client credentials need --client-id and --client-secret with --oauth2-token-url")
        settings.update(
            auth="oauth2_authorization_code" if args.oauth2_authorize_url else "oauth2_client_credentials",
            token_url=args.oauth2_token_url,
            client_id=args.client_id,
            client_secret=args.client_secret,
        )
        if args.oauth2_authorize_url:
            settings["authorize_url"] = args.oauth2_authorize_url
        if args.scope:
            settings["scope"] = args.scope
        if args.token_auth_method:
            settings["token_auth_method"] = args.token_auth_method
    if args.timeout:
        settings["timeout"] = args.timeout
    if args.error_path:
        settings["error_path"] = args.error_path
    return settings


def cmd_connection_authorize(args: argparse.Namespace) -> int:
    from app.services.authorize import authorize

    def show(address: str) -> None:
        print("Open this address in a browser, sign in and allow Flowbridge:", flush=True)
        print(address, flush=True)

    authorize(the_store(), args.name, args.env, who=admin(), show=show, port=args.port, timeout=args.timeout)
    print(f"connection '{args.name}' ({args.env}) authorized; its refresh token is kept sealed with its settings")
    return EXIT_OK


def cmd_connection_list(args: argparse.Namespace) -> int:
    from app.services.connections import connections

    rows = connections(the_store())
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no connections yet; add one with `flowbridge connection set` or `flowbridge demo init`")
    for row in [] if args.json else rows:
        print(f"{row['name']:<12} {row['env']:<11} {row['type']:<5} {row['target']}")
    return EXIT_OK


def cmd_flow_import(args: argparse.Namespace) -> int:
    from app.services.flows import import_flow_file

    root = the_root()
    for name in args.files:
        flow_id, version = import_flow_file(
            root.store, Path(name), comment=args.comment or f"imported from {name}", types=root.node_types
        )
        print(f"{name}: stored as flow '{flow_id}' version {version}")
    return EXIT_OK


def cmd_flow_list(args: argparse.Namespace) -> int:
    from app.services.flow_reads import flows

    rows = flows(the_store())
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


def cmd_flow_switch(args: argparse.Namespace) -> int:
    from app.services.switches import switch

    try:
        flow = switch(the_store(), args.flow_id, args.action == "on", who=admin(), reason=args.reason or "")
    except NotFound as error:
        raise UsageError(str(error)) from None
    print(f"flow '{flow.id}' is {'on' if flow.enabled else 'off'}")
    return EXIT_OK


def cmd_flow_delete(args: argparse.Namespace) -> int:
    from app.services.flows import delete_flow

    try:
        delete_flow(the_store(), args.flow_id, who=admin())
    except NotFound as error:
        raise UsageError(str(error)) from None
    print(f"flow '{args.flow_id}' deleted (its runs and dead letters are kept)")
    return EXIT_OK


def cmd_flow_webhook(args: argparse.Namespace) -> int:
    from app.services.flow_reads import flow
    from app.services.webhooks import secret_for

    store = the_store()
    try:
        flow(store, args.flow_id)
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


def cmd_user_add(args: argparse.Namespace) -> int:
    from app.services.access import add_user

    token = add_user(the_store(), args.name, args.role)
    print(f"user '{args.name}' ({args.role}) saved; API token (shown once): {token}")
    print("  sign in to the web app with this name and token; the API takes it as Authorization: Bearer <token>")
    return EXIT_OK


def cmd_user_list(args: argparse.Namespace) -> int:
    from app.services.access import list_users

    users = list_users(the_store())
    if not users:
        print("no users: the web app and the API are open to everyone as admin")
    for user in users:
        print(f"{user.name}  {user.role}  since {user.created_at:%Y-%m-%d}")
    return EXIT_OK


def cmd_user_remove(args: argparse.Namespace) -> int:
    from app.services.access import remove_user

    try:
        remove_user(the_store(), args.name)
    except NotFound as error:
        raise UsageError(str(error)) from None
    print(f"user '{args.name}' removed; their token no longer works")
    return EXIT_OK


def cmd_demo_init(args: argparse.Namespace) -> int:
    from app.services.demo import init_demo

    report = init_demo(the_store(), Path(args.dir), accounts=args.accounts)
    for line in report:
        print(line)
    return EXIT_OK


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from app.services.demo import serve_sandbox

    serve_sandbox(
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
            sandboxes.start(Path(args.sandboxes), who=admin())  # the Sandbox page shows them, resets them, sets faults
        except FlowbridgeError as error:
            raise UsageError(str(error)) from None
        print(f"sandbox CRM and ERP APIs on 127.0.0.1:8701 and :8702 (data in {args.sandboxes})")
        atexit.register(sandboxes.shut_down)
    print(
        f"Flowbridge on http://{args.host}:{args.port} (store: {args.store or os.environ.get('FLOWBRIDGE_DB_URL') or 'flowbridge.db'}); Ctrl+C stops it"
    )
    serve(args.host, args.port, args.store)
    return EXIT_OK
