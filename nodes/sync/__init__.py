"""The two-way sync mechanism that write.sql and write.http share: one decision per record (links,
per-field owners, known values, conflict policy, match rules, deletions) in synced_write.py, over
a target that only finds and writes rows: a table (sql_target.py) or an API (http_target.py).
match_index.py keeps a run's match keys on disk once a run has matched a few batches."""
