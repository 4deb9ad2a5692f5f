"""`flowbridge sandbox serve` and http connections as a user types them, and the demo's API connections."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from app.services.demo import init_demo
from app.store.connections import connection_spec
from tests.serving import comes_up

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_sandbox_serve_serves_both_apis_until_interrupted_and_a_flow_runs_against_them(cli, tmp_path):
    crm_port, erp_port = free_port(), free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "sandbox",
            "serve",
            "--dir",
            "sb",
            "--accounts",
            "40",
            "--crm-port",
            str(crm_port),
            "--erp-port",
            str(erp_port),
            "--token",
            "t0k",
        ],
        cwd=tmp_path,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert comes_up(
            lambda: httpx.get(f"http://127.0.0.1:{erp_port}/_health", timeout=1).status_code == 200,
            server,
            timeout=20,
            step=0.1,
        ), "the sandbox did not start"
        reply = httpx.get(f"http://127.0.0.1:{crm_port}/accounts", headers={"Authorization": "Bearer t0k"})
        assert reply.json()["total"] == 40
        for system, port in (("crm", crm_port), ("erp", erp_port)):
            code, _, _ = cli(
                "connection",
                "set",
                f"{system}_api",
                "--env",
                "sandbox",
                "--type",
                "http",
                "--url",
                f"http://127.0.0.1:{port}",
                "--token",
                "t0k",
            )
            assert code == 0
        code, _, _ = cli("flow", "import", str(REPO / "flows" / "erp_stock_to_crm_products_http.json"))
        code, out, _ = cli("run", "erp_stock_to_crm_products_http", "--json")
        summary = json.loads(out)
        assert code == 0 and summary["status"] == "succeeded" and summary["totals"]["read"] == 60
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=20)
    assert server.returncode == 0 and "Traceback" not in out + err
    assert f"sandbox CRM on http://127.0.0.1:{crm_port}" in out
    assert (tmp_path / "sb" / "crm_api.db").is_file() and (tmp_path / "sb" / "erp_api.seed.db").is_file()


def test_an_http_connection_keeps_its_secret_encrypted_and_needs_a_url(cli, tmp_path):
    code, _, err = cli("connection", "set", "billing", "--env", "production", "--type", "http", "--token", "x")
    assert code == 2 and "needs --url" in err
    code, _, _ = cli(
        "connection",
        "set",
        "billing",
        "--env",
        "production",
        "--type",
        "http",
        "--url",
        "https://billing.example.com/v2",
        "--username",
        "ada",
        "--password",
        "hunter2",
    )
    assert code == 0
    code, out, _ = cli("connection", "list", "--json")
    assert [(c["name"], c["type"]) for c in json.loads(out)] == [("billing", "http")]
    assert "hunter2" not in out
    assert b"hunter2" not in (tmp_path / "flowbridge.db").read_bytes()


def test_demo_init_registers_the_api_connections_for_both_environments(store, tmp_path):
    init_demo(store, tmp_path / "demo", accounts=30)
    for env in ("sandbox", "production"):
        for system, port in (("crm", 8701), ("erp", 8702)):
            spec = connection_spec(store, f"{system}_api", env)
            assert spec.type == "http" and spec.settings["base_url"] == f"http://127.0.0.1:{port}"
            assert spec.settings["token"] == "sandbox-token"
        assert connection_spec(store, "crm", env).type == "sql"  # the SQL ones are kept


def test_an_http_connection_can_say_where_its_answers_report_errors(cli, tmp_path):
    from app.store.database import Store

    code, out, err = cli(
        "connection",
        "set",
        "tryton",
        "--env",
        "sandbox",
        "--type",
        "http",
        "--url",
        "http://127.0.0.1:8000/db/",
        "--error-path",
        "error",
    )
    assert code == 0, err
    store = Store(f"sqlite:///{tmp_path / 'flowbridge.db'}")
    try:
        assert connection_spec(store, "tryton", "sandbox").settings["error_path"] == "error"
    finally:
        store.close()


def test_an_oauth2_connection_set_from_the_command_line_writes_through_its_api(cli, tmp_path):
    from app.sandbox.http_serve import serve_app
    from tests.http.oauth2_api import CLIENT_ID, CLIENT_SECRET, TokenServer, oauth2_api
    from tests.http.test_oauth2 import WRITE

    server = TokenServer()
    served = serve_app(oauth2_api(server), name="oauth2 api")
    try:
        base = ["connection", "set", "erp_oauth", "--env", "sandbox", "--type", "http", "--url", served.url]
        code, _, err = cli(*base, "--oauth2-token-url", f"{served.url}/oauth/token", "--client-id", CLIENT_ID)
        assert code == 2 and "need --client-id and --client-secret" in err and "Traceback" not in err
        code, _, err = cli(
            *base,
            "--oauth2-token-url",
            f"{served.url}/oauth/token",
            "--client-id",
            CLIENT_ID,
            "--client-secret",
            CLIENT_SECRET,
            "--token-auth-method",
            "client_secret_post",
        )
        assert code == 0, err
        code, listed, _ = cli("connection", "list")
        assert "erp_oauth" in listed and CLIENT_SECRET not in listed
        document = {
            "schema_version": 1,
            "id": "one_order",
            "name": "One order",
            "nodes": [
                {"id": "start", "type": "trigger.manual"},
                {"id": "shape", "type": "map", "config": {"fields": {"number": "SO-CLI", "total": "{{ 5 }}"}}},
                WRITE,  # the API tests' own write of orders, through connection erp_oauth
            ],
            "edges": [{"from": "start", "to": "shape"}, {"from": "shape", "to": "write"}],
        }
        path = tmp_path / "one_order.json"
        path.write_text(json.dumps(document))
        code, out, err = cli("run", str(path), "--env", "sandbox")
        assert code == 0, out + err
        assert list(server.orders) == ["SO-CLI"] and server.token_requests == 1
    finally:
        served.stop()


def test_connection_authorize_gets_a_users_consent_through_127_0_0_1_and_keeps_the_refresh_token(cli, tmp_path):
    import os
    import socket
    import subprocess
    import sys

    import httpx

    from app.sandbox.http_serve import serve_app
    from app.store.database import Store
    from tests.http.oauth2_api import CLIENT_ID, CLIENT_SECRET, TokenServer, oauth2_api

    server = TokenServer()
    served = serve_app(oauth2_api(server), name="oauth2 api")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    try:
        code, _, err = cli(
            "connection", "set", "erp_oauth", "--env", "sandbox", "--type", "http", "--url", served.url,
            "--oauth2-token-url", f"{served.url}/oauth/token", "--oauth2-authorize-url", f"{served.url}/oauth/authorize",
            "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET,
        )  # fmt: skip
        assert code == 0, err
        env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{tmp_path / 'flowbridge.db'}"}
        command = [sys.executable, "-m", "app.cli", "connection", "authorize", "erp_oauth", "--env", "sandbox"]
        process = subprocess.Popen(
            [*command, "--port", str(port), "--timeout", "30"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        assert process.stdout.readline().startswith("Open this address in a browser")
        address = process.stdout.readline().strip()
        assert address.startswith(f"{served.url}/oauth/authorize?") and "code_challenge=" in address
        page = httpx.get(address, follow_redirects=True, timeout=10)  # the browser: consent, then the redirect
        assert page.status_code == 200 and "you may close this tab" in page.text
        assert process.wait(timeout=30) == 0
        assert "authorized; its refresh token is kept sealed" in process.stdout.read()
        store = Store(env["FLOWBRIDGE_DB_URL"])
        try:
            kept = connection_spec(store, "erp_oauth", "sandbox").settings["refresh_token"]
        finally:
            store.close()
        assert kept in server.refresh_tokens  # the provider's, exchanged for the code with its PKCE proof
    finally:
        served.stop()
