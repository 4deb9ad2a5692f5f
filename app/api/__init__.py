"""The REST API and the webhook endpoint (FastAPI routes on the web app's server)."""
