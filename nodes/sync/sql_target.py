"""A two-way sync's target when it is a database table (write.sql with `sync`).

The sync mechanism (nodes/sync/synced_write.py) decides what to write; this finds and writes the rows:
look-ups by key in one query per batch, match rules in SQL for a small run and in a local index
for a large one, and new rows inserted in one batch with their ids read back by the write's key.
"""

from __future__ import annotations

from typing import Any

from nodes.base import NodeContext, id_text


class SqlSyncTarget:
    def __init__(self, config: dict[str, Any], sync: dict[str, Any], context: NodeContext, children: list) -> None:
        from app.connectors.sql_write import SqlTableWriter
        from app.errors import ConnectorError

        self.context = context
        self.system = config["connection"]
        self.label = self.table = config["table"]
        self.connector = context.connection(config["connection"])
        reflected = self.connector.table(self.table)
        self.columns = {c.name for c in reflected.columns}
        primary = [c.name for c in reflected.primary_key.columns]
        target_id = sync.get("target_id") or (primary[0] if len(primary) == 1 else None)
        if not target_id:
            raise ConnectorError(f"table {self.table} has no single-column primary key; set sync.target_id")
        self.id_field: str = target_id
        self.key = [k for k in ([config["key"]] if isinstance(config.get("key"), str) else config.get("key") or [])]
        self.writer = SqlTableWriter(
            self.connector, self.table, [self.id_field], "upsert", children, insert_without_key=True
        )
        self.key_writer = SqlTableWriter(self.connector, self.table, self.key, "upsert", children) if self.key else None
        self.match_index: Any = None  # built once a run has matched a few batches (see nodes/sync/match_index.py)
        self.match_queries = 0

    def has_field(self, name: str) -> bool:
        return name in self.columns

    def find_by_key(self, values: list[dict[str, Any]]) -> list[dict[str, Any] | str | None]:
        """The row holding each record's key (None: none), in one query."""
        from app.connectors.sql_write import key_of

        keys = [tuple(v[k] for k in self.key) for v in values]
        rows = self.connector.lookup(self.table, self.key, keys, [*self.key, self.id_field]) if keys else []
        found = {key_of(row, self.key): row for row in rows}
        return [found.get(key_of(v, self.key)) for v in values]

    def rows_by_id(self, ids: list[str]) -> dict[str, dict[str, Any] | str]:
        rows = self.connector.lookup(self.table, [self.id_field], [(x,) for x in ids]) if ids else []
        return {id_text(r[self.id_field]): r for r in rows}

    def match_rows(
        self, rules: list[dict[str, Any]], rule: dict[str, Any], keys: list[tuple], normalise: Any
    ) -> tuple[list[dict[str, Any]], dict[tuple, str]]:
        """Rows matching normalised keys: by SQL for the first batches, then by the index."""
        return self._matching(rules, rule, keys, normalise), {}

    def _matching(
        self, rules: list[dict[str, Any]], rule: dict[str, Any], keys: list[tuple], normalise: Any
    ) -> list[dict[str, Any]]:
        fetch = list(dict.fromkeys([c for r in rules for c in r["columns"]] + [*self.key, self.id_field]))
        if self.match_index is None:
            self.match_queries += 1
            if self.match_queries <= 2:  # a small run never pays for the index
                return self.connector.match_rows(
                    self.table, rule["columns"], rule.get("normalise", "text"), keys, fetch
                )
            from nodes.sync.match_index import MatchIndex

            self.match_index = MatchIndex(self.context.temp_path("match.sqlite"), rules, normalise, fetch)
            quote = self.connector.engine.dialect.identifier_preparer.quote
            query = f"SELECT {', '.join(quote(c) for c in fetch)} FROM {quote(self.table)}"
            for records, _ in self.connector.read(query=query, key=[self.id_field], batch_size=5000):
                self.match_index.add(records, self.id_field)
        return self.match_index.find(rules.index(rule), keys)

    def write(self, items: list[Any], writes: list[dict[str, Any]], dry_run: bool, link_for: Any) -> list[Any]:
        """Write the merged rows (one transaction per writer); new rows get their target ids.

        New rows that carry the write's key (crm_id) go in one batch insert and their ids are read
        back by that key: a row-by-row insert to learn each id would cost ten times more. The links
        are kept by the sync after the batch: `link_for` is for targets that cannot roll back."""
        keyed = [
            n
            for n, item in enumerate(items)
            if item.current is None and self.key and all(writes[n].get(k) not in (None, "") for k in self.key)
        ]
        rest = [n for n in range(len(items)) if n not in set(keyed)]
        outcomes: list[Any] = [None] * len(items)
        if keyed:
            assert self.key_writer is not None
            for n, outcome in zip(keyed, self.key_writer.write([writes[n] for n in keyed], dry_run=dry_run)):
                outcomes[n] = outcome
            if not dry_run:
                self._read_back_ids([items[n] for n in keyed if outcomes[n].outcome != "failed"])
        if rest:
            for n, outcome in zip(rest, self.writer.write([writes[n] for n in rest], dry_run=dry_run)):
                outcomes[n] = outcome
                if items[n].target_id is None and outcome.inserted_key:
                    items[n].target_id = id_text(outcome.inserted_key.get(self.id_field))
        return outcomes

    def _read_back_ids(self, items: list[Any]) -> None:
        from app.connectors.sql_write import key_of

        keys = [tuple(item.values[k] for k in self.key) for item in items]
        rows = self.connector.lookup(self.table, self.key, keys, [*self.key, self.id_field]) if keys else []
        ids = {key_of(row, self.key): id_text(row[self.id_field]) for row in rows}
        for item in items:
            item.target_id = ids.get(key_of(item.values, self.key))

    def written(self, items: list[Any]) -> None:
        """Keep the match index true to the rows this run wrote."""
        if self.match_index is not None and items:
            self.match_index.add(
                [{**(i.current or {}), **i.values, self.id_field: i.target_id} for i in items], self.id_field
            )

    def set_where(self, ids: list[str], values: dict[str, Any], dry_run: bool) -> int:
        return self.connector.set_where(self.table, self.id_field, ids, values, dry_run=dry_run)

    def close(self) -> None:
        if self.match_index is not None:
            self.match_index.close()
