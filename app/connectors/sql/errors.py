"""A database driver's error as the project's own: transient (worth a retry) or permanent, in its words."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc

from app.errors import ConnectorError, TransientError

# Faults worth a retry, by the code the driver gives: PostgreSQL SQLSTATEs (whole class 08 too),
# MySQL/MariaDB error numbers, SQLite result codes. An error with a code not listed is permanent.
_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03", "53300", "53400"}
_TRANSIENT_MYSQL_ERRORS = {
    1040,
    1053,
    1077,
    1078,
    1079,
    1080,
    1152,
    1153,
    1154,
    1155,
    1156,
    1157,
    1158,
    1159,
    1160,
    1161,
    1205,
    1213,
    1927,
    2002,
    2003,
    2005,
    2006,
    2012,
    2013,
    2026,
    2055,
    4031,
}
_TRANSIENT_SQLITE_ERRORS = ("SQLITE_BUSY", "SQLITE_LOCKED")
# Faults with no code (the driver could not reach the server): known by their words.
_TRANSIENT_HINTS = (
    "database is locked",
    "connection refused",
    "could not connect",
    "server closed the connection",
    "lost connection",
    "timeout",
    "timed out",
    "connection reset",
    "broken pipe",
    "can't connect",
    "terminating connection",
    "connection is closed",
    "connection was killed",
    "gone away",
    "the database system is starting up",
    "the database system is shutting down",
)


def classify(error: Exception, where: str) -> ConnectorError:
    """Turn a database error into the project's own: transient (retry) or permanent."""
    if isinstance(error, ConnectorError):
        return error
    message = driver_message(error)
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return TransientError(f"{where}: connection lost ({message})")
    if isinstance(error, exc.NoSuchTableError):
        return ConnectorError(f"{where}: table '{error}' does not exist")
    if is_transient(error):
        return TransientError(f"{where}: {message}")
    return ConnectorError(f"{where}: {message}")


def is_transient(error: Exception) -> bool:
    """Worth a retry: the driver's error code says so, or, lacking one, its words say so."""
    if isinstance(error, TransientError):
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    original = getattr(error, "orig", None) or error
    sqlstate = getattr(original, "pgcode", None)
    if sqlstate:
        return sqlstate.startswith("08") or sqlstate in _TRANSIENT_SQLSTATES
    sqlite_name = getattr(original, "sqlite_errorname", None)
    if sqlite_name:
        return sqlite_name.startswith(_TRANSIENT_SQLITE_ERRORS)
    mysql_code = _mysql_code(original)
    if mysql_code is not None:
        return mysql_code in _TRANSIENT_MYSQL_ERRORS
    if not isinstance(error, (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, OSError)):
        return False
    return any(hint in driver_message(error).lower() for hint in _TRANSIENT_HINTS)


def driver_message(error: Exception, whole: bool = False) -> str:
    """What the database driver said (its first line, or all of it on one line), without
    SQLAlchemy's wrapping (which adds the statement and its parameters)."""
    original = getattr(error, "orig", None) or error
    if _mysql_code(original) is not None and len(original.args) > 1:
        text = f"{original.args[1]} (error {original.args[0]})"
    else:
        text = str(original)
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return type(original).__name__
    return " ".join(lines) if whole else lines[0]


def _mysql_code(original: Any) -> int | None:
    args = getattr(original, "args", ())
    if type(original).__module__.startswith(("pymysql", "MySQLdb", "mysql")) and args and isinstance(args[0], int):
        return args[0]
    return None
