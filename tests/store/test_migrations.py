"""A user's store made by an older Flowbridge upgrades with the product, keeping its data."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from app.store.database import MIGRATIONS, Store
from app.store.flows import get_document


def test_a_store_at_the_first_migration_upgrades_to_the_latest_and_keeps_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.exec_driver_sql(
            "INSERT INTO flow (id, name, description, current_version, enabled, created_at, "
            "updated_at) VALUES ('old', 'Old flow', '', 1, 0, '2026-01-01', '2026-01-01')"
        )
        connection.exec_driver_sql(
            "INSERT INTO flowversion (flow_id, version, document, comment, author, created_at) "
            "VALUES ('old', 1, '{\"id\": \"old\"}', '', 'ada', '2026-01-01')"
        )
    engine.dispose()
    store = Store(url)
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"synclink", "conflict", "flowswitch", "alert", "webhooksecret"} <= tables
    assert "samples" in {c["name"] for c in sa.inspect(store.engine).get_columns("nodeledger")}
    assert get_document(store, "old") == ({"id": "old"}, 1)


def test_the_store_runs_on_postgresql(postgres_url):
    store = Store(postgres_url)
    assert "run" in sa.inspect(store.engine).get_table_names()
    store.close()
