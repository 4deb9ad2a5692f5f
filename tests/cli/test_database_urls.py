"""The README's database URLs as a user types them: plain `postgresql://` and `mysql://`, for the store
(FLOWBRIDGE_DB_URL) and for a connection, on a fresh install (no driver named in the URL)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa


def plain(url: str) -> str:
    """The URL as the README writes it: postgresql://… or mysql://…, no driver."""
    return url.replace("postgresql+psycopg2://", "postgresql://").replace("mysql+pymysql://", "mysql://")


@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_a_plain_url_opens_the_store_and_a_connection_reads_through_it(server, cli, tmp_path, request):
    url = request.getfixturevalue(server)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name VARCHAR(40))")
        conn.exec_driver_sql("INSERT INTO accounts VALUES (1, 'Ada'), (2, 'Grace')")
    engine.dispose()
    store_url = plain(url)
    assert "+" not in store_url.split("://")[0]
    cli.env["FLOWBRIDGE_DB_URL"] = store_url
    code, out, err = cli("flow", "list")
    assert code == 0, err
    code, _, err = cli("connection", "set", "src", "--env", "sandbox", "--type", "sql", "--url", plain(url))
    assert code == 0, err
    code, _, err = cli("connection", "set", "files", "--env", "sandbox", "--type", "file", "--path", str(tmp_path))
    assert code == 0, err
    flow = {
        "schema_version": 1,
        "id": "copy",
        "name": "copy",
        "nodes": [
            {"id": "start", "type": "trigger.manual"},
            {"id": "read", "type": "read.sql", "config": {"connection": "src", "table": "accounts"}},
            {"id": "out", "type": "write.file", "config": {"connection": "files", "path": "out.jsonl"}},
        ],
        "edges": [{"from": "start", "to": "read"}, {"from": "read", "to": "out"}],
    }
    (tmp_path / "copy.json").write_text(json.dumps(flow))
    code, out, err = cli("run", str(tmp_path / "copy.json"), "--json")
    assert code == 0, err
    assert json.loads(out)["totals"]["read"] == 2
    assert [json.loads(line)["name"] for line in (tmp_path / "out.jsonl").read_text().splitlines()] == ["Ada", "Grace"]
