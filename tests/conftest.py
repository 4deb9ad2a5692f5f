"""Shared fixtures: a store per test, the demo per test, real database servers on 127.0.0.1, and
the `flowbridge` command as a user types it.

Tests that need PostgreSQL or MariaDB skip with the reason when the server is not there, unless
FLOWBRIDGE_REQUIRE_SERVICES=1 (CI), where they fail instead.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.composition import Flowbridge, Settings
from app.store.database import Store

POSTGRES_ADMIN_URL = os.environ.get(
    "FLOWBRIDGE_TEST_POSTGRES", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
MARIADB_ADMIN_URL = os.environ.get("FLOWBRIDGE_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/mysql")
REQUIRE_SERVICES = os.environ.get("FLOWBRIDGE_REQUIRE_SERVICES") == "1"


@pytest.fixture(autouse=True)
def _isolated_secret_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Every test gets its own key file beside its own store, never the developer's.
    monkeypatch.delenv("FLOWBRIDGE_SECRET_KEY", raising=False)
    monkeypatch.delenv("FLOWBRIDGE_DB_URL", raising=False)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


@pytest.fixture
def root(store: Store) -> Iterator[Flowbridge]:
    """A composition root on the test's store, as a server builds one; the runs it queued have
    finished when the test ends."""
    built = Flowbridge(Settings(), store=store)
    yield built
    built.stop()


@pytest.fixture(scope="session")
def demo_databases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo's CRM and ERP databases, generated once for the whole run (each test gets a copy)."""
    from app.sandbox.demo_databases import create_demo_databases

    folder = tmp_path_factory.mktemp("demo_made_once")
    made = (folder / "crm.db", folder / "erp.db")
    create_demo_databases(*made, accounts=600)
    return made


@pytest.fixture
def demo(store: Store, tmp_path: Path, demo_databases: tuple[Path, Path]) -> dict:
    """The demo (600 accounts) in tmp_path/demo, registered in `store`; paths to its databases."""
    from app.services.demo import init_demo

    folder = tmp_path / "demo"
    init_demo(store, folder, made_before=demo_databases)
    return {
        env: {system: folder / f"{system}_{env}.db" for system in ("crm", "erp")} for env in ("sandbox", "production")
    } | {"folder": folder}


def _unavailable(reason: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (FLOWBRIDGE_REQUIRE_SERVICES=1: required here)")
    pytest.skip(reason)


def _fresh_database(admin_url: str, name: str, dialect_label: str) -> Iterator[str]:
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as error:
        _unavailable(
            f"{dialect_label} is not reachable at {sa.make_url(admin_url).host}: "
            f"{str(error.orig).strip().splitlines()[0]}"
        )
        return
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            if admin.dialect.name == "postgresql":
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for this test (dropped afterwards)."""
    yield from _fresh_database(POSTGRES_ADMIN_URL, f"fb_test_{secrets.token_hex(4)}", "PostgreSQL")


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A new, empty MariaDB database for this test (dropped afterwards)."""
    yield from _fresh_database(MARIADB_ADMIN_URL, f"fb_test_{secrets.token_hex(4)}", "MariaDB")


@pytest.fixture
def database_factory(tmp_path: Path):
    """make(kind) -> URL of a new empty database: 'sqlite' (a file), 'postgresql' or 'mariadb'."""
    cleanups = []

    def make(kind: str) -> str:
        if kind == "sqlite":
            return f"sqlite:///{tmp_path / f'db_{secrets.token_hex(4)}.db'}"
        admin, label = (POSTGRES_ADMIN_URL, "PostgreSQL") if kind == "postgresql" else (MARIADB_ADMIN_URL, "MariaDB")
        generator = _fresh_database(admin, f"fb_test_{secrets.token_hex(4)}", label)
        url = next(generator)
        cleanups.append(generator)
        return url

    yield make
    for generator in cleanups:
        next(generator, None)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on a SQLite file, a PostgreSQL database and a MariaDB database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'target.db'}"
    elif request.param == "postgresql":
        yield request.getfixturevalue("postgres_url")
    else:
        yield request.getfixturevalue("mariadb_url")


@pytest.fixture
def cli(tmp_path: Path):
    """Run `flowbridge ...` in tmp_path with its own store; returns (exit code, stdout, stderr).
    `cli.env` is the environment it runs with (for a long-running command started by hand)."""
    env = {**os.environ, "FLOWBRIDGE_DB_URL": f"sqlite:///{tmp_path / 'flowbridge.db'}"}
    env.pop("FLOWBRIDGE_SECRET_KEY", None)

    def call(*args: str) -> tuple[int, str, str]:
        done = subprocess.run(
            [sys.executable, "-m", "app.cli", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert "Traceback" not in done.stdout + done.stderr
        return done.returncode, done.stdout, done.stderr

    call.env = env
    return call


FAKETIME_LIBRARIES = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
)


@pytest.fixture
def faketime_library() -> str:
    """Path of libfaketime (Debian's `faketime`): preloaded, it moves a process' clock, SQLite's 'now' too."""
    for path in FAKETIME_LIBRARIES:
        if Path(path).exists():
            return path
    _unavailable("libfaketime is not installed (apt-get install faketime)")
    return ""


# Parts whose tests share a costly session fixture (a real Tryton and CAP; one `flowbridge serve`
# with its Chromium): under pytest-xdist (run-tests.sh runs the suite on every core) each part goes
# to one worker, so it is started once, not once per worker.
SHARED_SESSION_PARTS = ("real", "browser")


def _longest_first(item: pytest.Item) -> int:
    # The workers are fed in this order: the longest work starts first, so no worker is left
    # alone with it at the end.
    part = Path(str(item.path)).parent.name
    if part == "real":
        return 0
    if item.get_closest_marker("slow") or part == "browser":
        return 1
    return 2


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups to share the work out
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        part = Path(str(item.path)).parent.name
        if part in SHARED_SESSION_PARTS:
            item.add_marker(pytest.mark.xdist_group(part))
    items.sort(key=_longest_first)
