"""What an analyst's piece of SQL may hold: one statement, never a second one after a ';'."""

from __future__ import annotations


def second_statement_at(sql: str) -> int | None:
    """Where a piece of SQL would start a second statement: the index of a ';' before its end, or None.

    Deliberately blunt: any ';' but a trailing one counts, even inside a quoted text. Telling a
    literal ';' from a separator would mean parsing each dialect's quoting exactly as its server
    does ('a\\' ends a text on PostgreSQL, not on MySQL), and one disagreement lets a second
    statement through; a read that needs a ';' in a text writes chr(59) (char(59) on
    SQLite and MySQL)."""
    body = sql.rstrip().rstrip(";").rstrip()
    index = body.find(";")
    return None if index < 0 else index
