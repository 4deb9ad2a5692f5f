"""Writing a generated SQLite file so that a reader never sees it half made."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def building_database(path: Path) -> Iterator[sqlite3.Connection]:
    """A fresh database next to `path`; it replaces `path` only once the block ends without error
    (on an error the half-made file is removed and `path` is left as it was)."""
    conn, tmp = _open_for_writing(path)
    try:
        yield conn
        _finish(conn, tmp, path)
    except BaseException:
        conn.close()
        tmp.unlink(missing_ok=True)
        raise


def _open_for_writing(path: Path) -> tuple[sqlite3.Connection, Path]:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".building")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    # Generation is throw-away work: no journal and no fsync until the file is complete.
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-65536")
    return conn, tmp


def _finish(conn: sqlite3.Connection, tmp: Path, path: Path) -> None:
    conn.commit()
    # Leave an ordinary rollback-journal database behind (journal_mode OFF is per connection).
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    # A stale WAL or journal of an older file would be applied to the new one: remove them.
    for extra in ("-wal", "-shm", "-journal"):
        path.with_name(path.name + extra).unlink(missing_ok=True)
    tmp.replace(path)
