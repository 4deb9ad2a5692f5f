"""Database URLs as users write them: `postgresql://…` and `mysql://…` work with the drivers Flowbridge
installs, whichever SQLAlchemy picks by default (2.1 takes psycopg 3 for PostgreSQL, mysqlclient for
MySQL — the latter is not installed, so a bare mysql:// or mariadb:// URL is given PyMySQL)."""

from __future__ import annotations

import importlib.util

import sqlalchemy as sa


def with_driver(url: str | sa.URL) -> sa.URL:
    """The URL, parsed, with a driver Flowbridge has when it names none (ArgumentError if not a URL)."""
    parsed = sa.make_url(url)
    backend, driver = parsed.get_backend_name(), parsed.drivername
    if backend in ("mysql", "mariadb") and "+" not in driver and importlib.util.find_spec("MySQLdb") is None:
        return parsed.set(drivername=f"{backend}+pymysql")
    return parsed
