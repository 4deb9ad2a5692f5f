"""SQL connector: SQLite, PostgreSQL and MySQL/MariaDB through SQLAlchemy Core, one module per job.

- `connector`: SqlConnector, one connection for a run: its engine, reflected tables, and `fetch`, the
  one place a read query is retried (app.connectors.retry's backoff).
- `engine`: making an engine with the settings every Flowbridge database needs; URLs with the password hidden.
- `errors`: sorting a driver's error into transient (worth a retry) or permanent, and its own words.
- `read`: reading a table or a query in pages by key (keyset pagination), and cursor positions as JSON.
- `lookups`: finding rows by the values of some columns (in chunks), and setting values on rows found by id.
- `values`: values on their way in (taken as a column's type) and out (plain, JSON-friendly).

Every read runs in a read-only transaction, and an analyst's query or condition holding a second
statement is refused before it is sent: a read never writes. Writing a table is app.connectors.sql_write;
what a piece of SQL may hold is app.connectors.statements. Names are imported from the module they live in.
"""
