"""The engine: a flow document read (document.py), checked (validation.py, problems.py), frozen into
a plan (plan.py) and executed batch by batch (executor.py), counting every record (ledger.py);
analyst expressions in sandboxed Jinja2 (expressions.py). It knows node types only through the
registry in nodes/, and the store only through the RunServices its caller hands it."""
