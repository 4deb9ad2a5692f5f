"""The data behind the sandbox REST APIs: which resources each system serves, over its SQLite file.

Each system (the demo CRM and ERP of app/sandbox/demo_databases.py) keeps its live file and a seed copy
that a reset restores. Reads page, filter and sort; writes take JSON values as the columns' types
and write a record with its child rows (an order's lines) in one transaction.
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.sandbox.demo_databases import create_demo_databases

SYSTEMS = ("crm", "erp")

# A record (or child row) as the API reads and answers it. Named out here because inside
# SystemData the method `list` hides the builtin.
Record = dict[str, Any]
Records = list[Record]


# --- what each system serves --------------------------------------------------------------------


@dataclass(frozen=True)
class Child:
    """Rows of another table served inside their parent, e.g. an order's `lines`."""

    field: str
    table: str
    parent_key: str  # the child's column naming its parent
    order: str


@dataclass(frozen=True)
class Expand:
    """A related record the client may ask for with ?expand=NAME, e.g. an opportunity's account."""

    name: str
    table: str
    key: str  # the related table's key
    via: str  # this resource's column holding that key


@dataclass(frozen=True)
class Resource:
    name: str
    table: str
    key: str
    view: str | None = None  # SQL read instead of the table: adds computed, read-only fields
    children: tuple[Child, ...] = ()
    expands: tuple[Expand, ...] = ()
    check: str | None = None  # name of an extra check run before a write (see _CHECKS)

    @property
    def source(self) -> str:
        return self.view or f"SELECT * FROM {self.table}"


RESOURCES: dict[str, tuple[Resource, ...]] = {
    "crm": (
        Resource("accounts", "accounts", "id"),
        Resource("contacts", "contacts", "id"),
        Resource(
            "opportunities",
            "opportunities",
            "id",
            children=(Child("lines", "opportunity_lines", "opportunity_id", "line_no"),),
            expands=(Expand("account", "accounts", "id", "account_id"),),
        ),
        Resource("products", "products", "id"),
        Resource("invoices", "invoices", "id"),
    ),
    "erp": (
        Resource("customers", "customers", "customer_number"),
        Resource(
            "products",
            "products",
            "id",
            view="SELECT p.*, COALESCE((SELECT SUM(s.quantity) FROM stock_levels s WHERE s.product_id = p.id), 0) "
            "AS stock_on_hand FROM products p",
        ),
        Resource(
            "stock",
            "stock_levels",
            "id",
            view="SELECT s.*, p.sku FROM stock_levels s JOIN products p ON p.id = s.product_id",
        ),
        Resource(
            "sales_orders",
            "sales_orders",
            "order_number",
            children=(Child("lines", "sales_order_lines", "order_number", "line_no"),),
            expands=(Expand("customer", "customers", "customer_number", "customer_number"),),
            check="sales_order",
        ),
        Resource(
            "invoices",
            "invoices",
            "invoice_number",
            view="SELECT i.*, COALESCE((SELECT SUM(p.amount) FROM payments p WHERE p.invoice_number = "
            "i.invoice_number), 0) AS amount_paid, c.crm_id AS crm_account_id FROM invoices i "
            "JOIN customers c ON c.customer_number = i.customer_number",
            expands=(Expand("customer", "customers", "customer_number", "customer_number"),),
        ),
        Resource("payments", "payments", "id"),
    ),
}


class ApiError(Exception):
    """A request the API refuses: its status and the sentence it answers with."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


# --- the data behind one system --------------------------------------------------------------------


@dataclass
class _Columns:
    names: list[str]  # as read (table columns and computed ones)
    writable: set[str]
    types: dict[str, str]  # declared type of each table column, upper-cased
    autoincrement: bool


class SystemData:
    """One system's SQLite file and its seed copy; requests are served one at a time per system
    (a sandbox needs no concurrency, and it keeps resets and writes simple and safe)."""

    def __init__(self, system: str, path: Path, seed_path: Path) -> None:
        self.system, self.path, self.seed_path = system, Path(path), Path(seed_path)
        self.resources = {r.name: r for r in RESOURCES[system]}
        self.lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._last_stamp = ""
        with self.connect() as conn:
            self.columns = {name: self._describe(conn, r) for name, r in self.resources.items()}
            self.child_columns = {
                c.table: self._table_columns(conn, c.table) for r in self.resources.values() for c in r.children
            }

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """The system's one connection, for one request at a time."""
        with self.lock:
            if self._conn is None:
                conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA synchronous=NORMAL")  # a sandbox: quick writes over surviving a power cut
                # Creates seen by their Idempotency-Key, as payment and CRM APIs keep them: the same
                # key again answers the record made the first time (kept in the file: a restart keeps it).
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS _idempotency (key TEXT PRIMARY KEY, resource TEXT NOT NULL, "
                    "item_id NOT NULL)"
                )
                self._conn = conn
            yield self._conn

    def close(self) -> None:
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    @staticmethod
    def _table_columns(conn: sqlite3.Connection, table: str) -> dict[str, str]:
        return {row["name"]: (row["type"] or "").upper() for row in conn.execute(f"PRAGMA table_info({table})")}

    def _describe(self, conn: sqlite3.Connection, resource: Resource) -> _Columns:
        types = self._table_columns(conn, resource.table)
        names = [d[0] for d in conn.execute(f"SELECT * FROM ({resource.source}) LIMIT 0").description]
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (resource.table,)).fetchone()[0]
        return _Columns(names, set(types) - {"updated_at"}, types, "AUTOINCREMENT" in sql.upper())

    def reset(self) -> None:
        """Put the seeded data back (the whole file, from the seed copy)."""
        with self.lock:
            self.close()
            seed = sqlite3.connect(self.seed_path)
            target = sqlite3.connect(self.path)
            try:
                seed.backup(target)
            finally:
                seed.close()
                target.close()
            self._last_stamp = ""

    def stamp(self) -> str:
        """Now, as the demo data writes times; never twice the same, so a cursor sees every change."""
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        if now <= self._last_stamp:
            moment = dt.datetime.strptime(self._last_stamp, "%Y-%m-%d %H:%M:%S.%f") + dt.timedelta(milliseconds=1)
            now = moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        self._last_stamp = now
        return now

    # --- reading ---------------------------------------------------------------------------------

    def resource(self, name: str) -> Resource:
        if name not in self.resources:
            raise ApiError(
                404, f"this {self.system.upper()} has no resource '{name}'; it has {', '.join(self.resources)}"
            )
        return self.resources[name]

    def typed(self, resource: Resource, column: str, value: Any, where: str) -> Any:
        """A value as its column holds it; a value that cannot be of that type is refused."""
        kind = self.columns[resource.name].types.get(column, "")
        if value is None or value == "" and where == "filter":
            return None
        if isinstance(value, bool):
            value = int(value)
        try:
            if "INT" in kind:
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                return int(value)
            if any(t in kind for t in ("REAL", "DOUBLE", "FLOAT", "NUMERIC")):
                return float(value)
        except (TypeError, ValueError):
            raise ApiError(
                422 if where == "body" else 400, f"{where} field '{column}' must be a number, not {value!r}"
            ) from None
        if isinstance(value, (dict, list)):
            raise ApiError(422, f"field '{column}' must be a single value, not {type(value).__name__}")
        return str(value) if "TEXT" in kind and not isinstance(value, str) else value

    def list(
        self,
        resource: Resource,
        filters: dict[str, str],
        *,
        page: int,
        per_page: int,
        sort: str | None,
        updated_since: str | None,
        expand: Sequence[str],
    ) -> tuple[Records, int]:
        columns = self.columns[resource.name]
        where, args = [], []
        for name, value in filters.items():
            if name not in columns.names:
                raise ApiError(400, f"unknown filter '{name}'; {resource.name} has fields {', '.join(columns.names)}")
            typed = self.typed(resource, name, value, "filter")
            where.append(f'r."{name}" IS NULL' if typed is None else f'r."{name}" = ?')
            args += [] if typed is None else [typed]
        if updated_since is not None:
            if "updated_at" not in columns.names:
                raise ApiError(400, f"{resource.name} have no updated_at; updated_since cannot be used")
            where.append('r."updated_at" >= ?')
            args.append(updated_since)
        order = []
        for name in (sort or "").split(","):
            name = name.strip()
            if not name:
                continue
            descending = name.startswith("-")
            name = name.lstrip("-")
            if name not in columns.names:
                raise ApiError(400, f"cannot sort by '{name}'; {resource.name} has fields {', '.join(columns.names)}")
            order.append(f'r."{name}"' + (" DESC" if descending else ""))
        if not order and updated_since is not None:
            order.append('r."updated_at"')
        order.append(f'r."{resource.key}"')
        condition = f" WHERE {' AND '.join(where)}" if where else ""
        with self.connect() as conn:
            total = conn.execute(f"SELECT COUNT(*) FROM ({resource.source}) AS r{condition}", args).fetchone()[0]
            rows = [
                dict(row)
                for row in conn.execute(
                    f"SELECT * FROM ({resource.source}) AS r{condition} ORDER BY {', '.join(order)} LIMIT ? OFFSET ?",
                    [*args, per_page, (page - 1) * per_page],
                )
            ]
            self._attach(conn, resource, rows, expand)
        return rows, total

    def get(self, resource: Resource, item_id: Any, expand: Sequence[str] = ()) -> Record | None:
        with self.connect() as conn:
            return self._get(conn, resource, item_id, expand)

    def _get(
        self, conn: sqlite3.Connection, resource: Resource, item_id: Any, expand: Sequence[str] = ()
    ) -> Record | None:
        row = conn.execute(
            f'SELECT * FROM ({resource.source}) AS r WHERE r."{resource.key}" = ?', (item_id,)
        ).fetchone()
        if row is None:
            return None
        rows = [dict(row)]
        self._attach(conn, resource, rows, expand)
        return rows[0]

    def _written(self, conn: sqlite3.Connection, resource: Resource, item_id: Any) -> Record:
        """A record this transaction wrote, or an idempotency key made: the API deletes no records,
        so it is there (a reset drops the idempotency keys with the rest)."""
        record = self._get(conn, resource, item_id)
        if record is None:
            raise RuntimeError(f"{resource.name} {item_id!r} was written but cannot be read back")
        return record

    def _attach(self, conn: sqlite3.Connection, resource: Resource, rows: Records, expand: Sequence[str]) -> None:
        """Children inside each row, and the related records asked for with ?expand."""
        known = {e.name: e for e in resource.expands}
        for name in expand:
            if name not in known:
                raise ApiError(
                    400, f"cannot expand '{name}' on {resource.name}" + (f"; try {', '.join(known)}" if known else "")
                )
        if not rows:
            return
        for child in resource.children:
            ids = [row[resource.key] for row in rows]
            found: dict[Any, Records] = {i: [] for i in ids}
            marks = ",".join("?" * len(ids))
            for line in conn.execute(
                f'SELECT * FROM {child.table} WHERE "{child.parent_key}" IN ({marks}) '
                f'ORDER BY "{child.parent_key}", "{child.order}"',
                ids,
            ):
                found[line[child.parent_key]].append(dict(line))
            for row in rows:
                row[child.field] = found[row[resource.key]]
        for name in expand:
            link = known[name]
            ids = list({row[link.via] for row in rows if row.get(link.via) is not None})
            related = {}
            if ids:
                marks = ",".join("?" * len(ids))
                related = {
                    r[link.key]: dict(r)
                    for r in conn.execute(f'SELECT * FROM {link.table} WHERE "{link.key}" IN ({marks})', ids)
                }
            for row in rows:
                row[name] = related.get(row.get(link.via))

    # --- writing ---------------------------------------------------------------------------------

    def _values(self, resource: Resource, body: Any) -> tuple[dict[str, Any], dict[str, Records]]:
        if not isinstance(body, dict):
            raise ApiError(422, "the body must be a JSON object")
        columns = self.columns[resource.name]
        children = {c.field: c for c in resource.children}
        values, child_rows = {}, {}
        for name, value in body.items():
            if name in children:
                child_rows[name] = self._child_values(children[name], value)
            elif name in columns.writable:
                values[name] = self.typed(resource, name, value, "body")
            elif name in columns.names:
                raise ApiError(422, f"field '{name}' of {resource.name} is read-only")
            else:
                raise ApiError(
                    422,
                    f"unknown field '{name}'; {resource.name} has fields "
                    f"{', '.join(sorted(columns.writable | set(children)))}",
                )
        return values, child_rows

    def _child_values(self, child: Child, value: Any) -> Records:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise ApiError(422, f"field '{child.field}' must be a list of objects")
        allowed = set(self.child_columns[child.table]) - {"id", child.parent_key}
        rows = []
        for index, item in enumerate(value, 1):
            unknown = sorted(set(item) - allowed)
            if unknown:
                raise ApiError(422, f"{child.field} item {index}: unknown field(s) {', '.join(unknown)}")
            nested = sorted(k for k, v in item.items() if isinstance(v, (dict, list)))
            if nested:
                raise ApiError(422, f"{child.field} item {index}: field(s) {', '.join(nested)} must be single values")
            rows.append(item)
        return rows

    def _write(
        self,
        conn: sqlite3.Connection,
        resource: Resource,
        values: dict[str, Any],
        children: dict[str, Records],
        item_id: Any,
        exists: bool,
    ) -> Any:
        """Insert or update one record and replace its children, in the caller's transaction."""
        if resource.check:
            _CHECKS[resource.check](conn, values, children, exists and item_id)
        columns = self.columns[resource.name]
        if "updated_at" in columns.types:
            values = {**values, "updated_at": self.stamp()}
        try:
            if exists:
                if values:
                    sets = ", ".join(f'"{k}" = ?' for k in values)
                    conn.execute(
                        f'UPDATE {resource.table} SET {sets} WHERE "{resource.key}" = ?', [*values.values(), item_id]
                    )
            else:
                if item_id is not None:
                    values = {resource.key: item_id, **values}
                names, marks = ", ".join(f'"{k}"' for k in values), ", ".join("?" * len(values))
                statement = (
                    f"INSERT INTO {resource.table} ({names}) VALUES ({marks})"
                    if values
                    else f"INSERT INTO {resource.table} DEFAULT VALUES"
                )
                cursor = conn.execute(statement, list(values.values()))
                item_id = values.get(resource.key, cursor.lastrowid)
            for child in resource.children:
                if child.field not in children:
                    continue
                conn.execute(f'DELETE FROM {child.table} WHERE "{child.parent_key}" = ?', (item_id,))
                for row in children[child.field]:
                    row = {**row, child.parent_key: item_id}
                    names = ", ".join(f'"{k}"' for k in row)
                    conn.execute(
                        f"INSERT INTO {child.table} ({names}) VALUES ({', '.join('?' * len(row))})", list(row.values())
                    )
        except sqlite3.IntegrityError as error:
            text = str(error)
            raise ApiError(
                409 if text.startswith("UNIQUE") else 422, f"refused by the {self.system.upper()}: {text}"
            ) from None
        return item_id

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def create(self, resource: Resource, body: Any, idempotency_key: str | None = None) -> tuple[Record, bool]:
        """Make a record; (the record, whether it was made now). A create with an idempotency key
        seen before makes nothing and answers the record that key made."""
        values, children = self._values(resource, body)
        item_id = values.pop(resource.key, None)
        with self.transaction() as conn:
            if idempotency_key:
                seen = conn.execute(
                    "SELECT item_id FROM _idempotency WHERE key = ? AND resource = ?", (idempotency_key, resource.name)
                ).fetchone()
                if seen is not None:
                    return self._written(conn, resource, seen[0]), False
            if item_id is not None and self._get(conn, resource, item_id) is not None:
                raise ApiError(409, f"{resource.name} {item_id} exists already")
            item_id = self._write(conn, resource, values, children, item_id, exists=False)
            if idempotency_key:
                conn.execute(
                    "INSERT INTO _idempotency (key, resource, item_id) VALUES (?, ?, ?)",
                    (idempotency_key, resource.name, item_id),
                )
            return self._written(conn, resource, item_id), True

    def put(self, resource: Resource, item_id: Any, body: Any, *, create: bool) -> tuple[Record, bool]:
        """PUT (create=True) makes the record with this id or updates the fields given; PATCH only
        updates. Returns the record and whether it was created."""
        values, children = self._values(resource, body)
        given = values.pop(resource.key, item_id)
        if given != item_id:
            raise ApiError(422, f"the body's {resource.key} {given!r} is not the one in the address ({item_id!r})")
        with self.transaction() as conn:
            exists = self._get(conn, resource, item_id) is not None
            if not exists and not create:
                raise ApiError(404, f"there is no {resource.name} {item_id}")
            self._write(conn, resource, values, children, item_id, exists=exists)
            return self._written(conn, resource, item_id), not exists

    def item_id(self, resource: Resource, text: str) -> Any:
        if "INT" in self.columns[resource.name].types.get(resource.key, ""):
            try:
                return int(text)
            except ValueError:
                raise ApiError(404, f"there is no {resource.name} {text!r}") from None
        return text


def _check_sales_order(conn: sqlite3.Connection, values: dict, children: dict, existing_id: Any) -> None:
    """The ERP refuses an order for an unknown customer or with an unknown product, saying which."""
    customer = values.get("customer_number")
    if (
        customer is not None
        and conn.execute("SELECT 1 FROM customers WHERE customer_number = ?", (customer,)).fetchone() is None
    ):
        raise ApiError(422, f"there is no customer {customer}")
    if not existing_id and customer is None:
        raise ApiError(422, "a sales order needs a customer_number")
    for index, line in enumerate(children.get("lines", []), 1):
        sku = line.get("sku")
        if conn.execute("SELECT 1 FROM products WHERE sku = ?", (sku,)).fetchone() is None:
            raise ApiError(422, f"line {index}: unknown product sku {sku!r}")


_CHECKS = {"sales_order": _check_sales_order}


def prepare_data(folder: Path, *, accounts: int = 600, seed: int = 7, fresh: bool = False) -> dict[str, SystemData]:
    """The CRM and ERP files in `folder` (made from the demo generator when missing, or `fresh`),
    with the seed copies that /_reset restores."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    seeds = {s: folder / f"{s}_api.seed.db" for s in SYSTEMS}
    live = {s: folder / f"{s}_api.db" for s in SYSTEMS}
    if fresh or not all(p.is_file() for p in seeds.values()):
        create_demo_databases(seeds["crm"], seeds["erp"], seed=seed, accounts=accounts)
        for system in SYSTEMS:
            live[system].unlink(missing_ok=True)
    for system in SYSTEMS:
        if not live[system].is_file():
            shutil.copyfile(seeds[system], live[system])
            with sqlite3.connect(live[system]) as conn:  # WAL: readers (a tester's sqlite3) never wait
                conn.execute("PRAGMA journal_mode=WAL")
    return {s: SystemData(s, live[s], seeds[s]) for s in SYSTEMS}
