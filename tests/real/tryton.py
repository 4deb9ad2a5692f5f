"""A real Tryton 8 ERP for the tests: trytond and its modules from PyPI in a virtualenv of their own,
a fresh database on the PostgreSQL server of 127.0.0.1, the countries and their subdivisions
imported, a REST key for the admin, and `trytond` serving it on a free port.

The virtualenv is kept in .real-systems/ (made once, about a minute); each test session makes its
own database (about two minutes) and drops it afterwards.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.serving import comes_up

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".real-systems" / "tryton-8"
PACKAGES = [
    "trytond>=8,<8.1",
    "trytond-party>=8,<8.1",
    "trytond-country>=8,<8.1",
    "proteus>=8,<8.1",
    "pycountry",
    "psycopg[binary,pool]",
]
KEY = "flowbridge-tests-rest-key"
MAKE_KEY = """
import sys
from proteus import config, Model
config.set_trytond(database=sys.argv[1], config_file=sys.argv[2])
admin, = Model.get("res.user").find([("login", "=", "admin")])
Model.get("res.user.application")(user=admin, application="rest", key=sys.argv[3], state="validated").save()
"""


class TrytonUnavailable(Exception):
    """Tryton could not be installed or started here; the message says why."""


@dataclass(frozen=True)
class Tryton:
    url: str  # the REST API of its database: .../<db>/rest/model
    key: str
    database: str

    @property
    def database_url(self) -> str:
        """The database's own address, where JSON-RPC is served (at rpc/)."""
        return self.url.removesuffix("rest/model").rstrip("/") + "/"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"bearer {self.key}"}, timeout=30)


def _run(command: list[str], what: str, timeout: float, **options) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **options)
    if done.returncode != 0:
        raise TrytonUnavailable(f"{what} failed: {(done.stderr or done.stdout).strip()[-1500:]}")


def _installed() -> Path:
    python = VENV / "bin" / "python"
    if not (VENV / "bin" / "trytond").exists():
        VENV.parent.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "venv", str(VENV)], "making Tryton's virtualenv", 120)
        _run([str(python), "-m", "pip", "install", "-q", *PACKAGES], "installing Tryton from PyPI", 900)
    return VENV / "bin"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_tryton(folder: Path, postgres_admin: str) -> Iterator[Tryton]:
    """Tryton on a fresh database of the PostgreSQL server `postgres_admin` (an SQLAlchemy URL)."""
    import sqlalchemy as sa

    bin_ = _installed()
    database = f"fb_tryton_{secrets.token_hex(4)}"
    server = sa.make_url(postgres_admin)
    port = _free_port()
    (folder / "data").mkdir(parents=True, exist_ok=True)
    conf = folder / "trytond.conf"
    conf.write_text(
        f"[database]\nuri = postgresql://{server.username or 'postgres'}@{server.host or '127.0.0.1'}:"
        f"{server.port or 5432}/\npath = {folder / 'data'}\n[web]\nlisten = 127.0.0.1:{port}\n"
    )
    (folder / "adminpass").write_text("admin\n")
    env = {**os.environ, "TRYTONPASSFILE": str(folder / "adminpass")}
    admin = sa.create_engine(postgres_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
    process = None
    try:
        for arguments, what in (
            (["--all", "--email", "admin@example.com"], "creating Tryton's database"),
            (["-u", "party", "country", "--activate-dependencies"], "activating its modules"),
        ):
            _run([str(bin_ / "trytond-admin"), "-c", str(conf), "-d", database, *arguments], what, 900, env=env)
        _run(
            [str(bin_ / "trytond_import_countries"), "-c", str(conf), "-d", database],
            "importing countries and subdivisions",
            900,
            env=env,
        )
        _run([str(bin_ / "python"), "-c", MAKE_KEY, database, str(conf), KEY], "making a REST key", 300, env=env)
        log = (folder / "trytond.log").open("w")
        process = subprocess.Popen(
            [str(bin_ / "trytond"), "-c", str(conf), "-d", database], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        tryton = Tryton(f"http://127.0.0.1:{port}/{database}/rest/model", KEY, database)
        if not comes_up(
            lambda: tryton.client().get("/country.country", params={"s": 1}).status_code == 200,
            process,
            timeout=120,
            step=0.3,
        ):
            raise TrytonUnavailable(f"trytond did not start: {(folder / 'trytond.log').read_text()[-1500:]}")
        yield tryton
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.dispose()
