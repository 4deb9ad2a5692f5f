"""The service layer: what the CLI, the web UI, the REST API and the scheduler all call."""
