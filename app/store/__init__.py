"""The store: flows and their versions, runs, ledgers, dead letters, cursors and connections."""
