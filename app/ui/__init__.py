"""The web UI (NiceGUI): one module per page around one shared frame; pages call app.services only."""
