"""Real ERPs for the tests (see tryton.py): started once per session, skipped with the reason where
they cannot run, and required in CI (FLOWBRIDGE_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.conftest import POSTGRES_ADMIN_URL, _unavailable
from tests.real.cap import CapServer, CapUnavailable
from tests.real.tryton import Tryton, TrytonUnavailable, running_tryton


@pytest.fixture(scope="session")
def tryton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tryton]:
    # A developer's Tryton already running (its REST address and key, e.g. from a first session):
    # FLOWBRIDGE_TEST_TRYTON="http://127.0.0.1:8000/db/rest/model KEY" saves two minutes a try.
    running = os.environ.get("FLOWBRIDGE_TEST_TRYTON", "").split()
    if len(running) == 2:
        yield Tryton(running[0], running[1], running[0].rstrip("/").split("/")[-3])
        return
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 5})
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError as error:
        _unavailable(f"Tryton needs PostgreSQL on 127.0.0.1: {str(error.orig).strip().splitlines()[0]}")
    try:
        with running_tryton(tmp_path_factory.mktemp("tryton"), POSTGRES_ADMIN_URL) as running:
            yield running
    except TrytonUnavailable as error:
        _unavailable(str(error))


@pytest.fixture(scope="session")
def cap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CapServer]:
    try:
        server = CapServer(tmp_path_factory.mktemp("cap"))
        server.start()
    except CapUnavailable as error:
        _unavailable(str(error))
    yield server
    server.stop()
