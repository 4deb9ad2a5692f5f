"""Faults from real database drivers, sorted into transient (retry) and permanent, with no secrets."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.connectors.retry import with_retries
from app.connectors.sql.engine import make_engine, sa_url_hidden
from app.connectors.sql.errors import classify
from app.errors import ConnectorError, TransientError
from tests.connectors.support import Database, connector_for

PASSWORD = "s3cret-Pa55"
CLOSED_PORT = {  # nothing listens on port 1
    "postgresql": f"postgresql+psycopg2://flowbridge:{PASSWORD}@127.0.0.1:1/erp",
    "mariadb": f"mysql+pymysql://flowbridge:{PASSWORD}@127.0.0.1:1/erp",
}


@pytest.mark.parametrize("server", sorted(CLOSED_PORT))
def test_connection_refused_is_transient_names_the_connection_and_hides_the_password(server: str) -> None:
    connector = connector_for(CLOSED_PORT[server])
    attempts = []

    def list_tables() -> list[str]:
        attempts.append(1)
        return connector.tables()

    with pytest.raises(TransientError) as error:
        with_retries(list_tables, attempts=3, initial_wait=0.001, max_wait=0.01)

    assert len(attempts) == 3
    message = str(error.value)
    assert message.startswith("connection 'erp' (sandbox): ")
    assert "refused" in message.lower() or "can't connect" in message.lower()
    assert PASSWORD not in message
    connector.close()


def test_reading_through_a_refused_connection_gives_up_after_a_bounded_number_of_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import app.connectors.sql.connector as sql  # where SqlConnector.fetch finds its retry policy

    attempts = []
    real = sql.with_retries

    def quick(action, **_options):
        def counted():
            attempts.append(1)
            return action()

        return real(counted, attempts=2, initial_wait=0.001, max_wait=0.01)

    monkeypatch.setattr(sql, "with_retries", quick)
    connector = connector_for(CLOSED_PORT["postgresql"])
    with pytest.raises(TransientError):
        list(connector.read(query="SELECT 1 AS id", key=["id"]))
    assert len(attempts) == 2


def test_retries_stop_at_once_on_a_permanent_error() -> None:
    attempts = []

    def refuse() -> None:
        attempts.append(1)
        raise ConnectorError("table 'x' does not exist")

    with pytest.raises(ConnectorError):
        with_retries(refuse, attempts=5, initial_wait=0.001, max_wait=0.01)
    assert len(attempts) == 1


def test_a_missing_table_is_permanent_and_named(db: Database) -> None:
    from app.connectors.sql_write import SqlTableWriter

    for use in (
        lambda: db.connector.table("suppliers"),
        lambda: SqlTableWriter(db.connector, "suppliers", ["id"]),
        lambda: list(db.connector.read(table="suppliers")),
    ):
        with pytest.raises(ConnectorError) as error:
            use()
        assert not isinstance(error.value, TransientError)
        assert str(error.value) == "connection 'erp' (sandbox): table 'suppliers' does not exist"


def test_a_sqlite_file_that_cannot_be_opened_is_a_clear_error(tmp_path) -> None:
    connector = connector_for(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder.db'}")
    with pytest.raises(ConnectorError, match="connection 'erp' \\(sandbox\\): unable to open database file"):
        connector.tables()
    connector.close()


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg2://flowbridge:{PASSWORD}@127.0.0.1:1/erp",
        f"nosuchdb://flowbridge:{PASSWORD}@127.0.0.1/erp",
        f"flowbridge:{PASSWORD}@127.0.0.1/erp",
        f"postgresql+nosuchdriver://flowbridge:{PASSWORD}@127.0.0.1/erp",
    ],
)
def test_no_error_message_shows_the_password(url: str) -> None:
    try:
        connector = connector_for(url)
        connector.tables()
    except ConnectorError as error:
        assert PASSWORD not in str(error)
        assert PASSWORD not in repr(error.__cause__ or "")
    else:
        pytest.fail("the connection should not work")
    assert PASSWORD not in sa_url_hidden(url)


def test_sa_url_hidden_keeps_what_helps_and_hides_the_password() -> None:
    assert sa_url_hidden(CLOSED_PORT["postgresql"]) == "postgresql+psycopg2://flowbridge:***@127.0.0.1:1/erp"
    assert sa_url_hidden("sqlite:///data/erp.db") == "sqlite:///data/erp.db"


def test_classify_keeps_the_first_line_of_the_drivers_words() -> None:
    engine = make_engine("sqlite://")
    with pytest.raises(sa.exc.OperationalError) as raised, engine.connect() as conn:
        conn.exec_driver_sql("SELECT * FROM nowhere")
    error = classify(raised.value, "connection 'erp' (sandbox)")
    assert type(error) is ConnectorError
    assert str(error) == "connection 'erp' (sandbox): no such table: nowhere"


def test_a_retry_inside_a_retry_runs_once_so_attempts_do_not_multiply() -> None:
    """write.sql retries its batch 3 times and the connector its reads 4 times: nested, a database
    that is down was tried 12 times. The outermost policy is the one that retries."""
    connector = connector_for(CLOSED_PORT["postgresql"])
    tries = []
    sa.event.listen(connector.engine, "do_connect", lambda *_args: tries.append(1))

    def read_everything() -> list:
        return list(connector.read(query="SELECT 1 AS id", key=["id"]))

    with pytest.raises(TransientError):
        with_retries(read_everything, attempts=3, initial_wait=0.001, max_wait=0.01)
    assert len(tries) == 3
    connector.close()
