#!/usr/bin/env bash
# Installs Flowbridge in a virtualenv, creates the demo (SQLite CRM and ERP, connections, example
# flows) in ./demo with the store in ./flowbridge.db, and starts the web app on
# http://127.0.0.1:8080 (Ctrl+C stops it). Extra arguments go to `flowbridge serve`, e.g. --port 9000.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/flowbridge demo init --dir demo
# --sandboxes also serves the sandbox CRM and ERP REST APIs the HTTP example flows use.
exec .venv/bin/flowbridge serve --sandboxes demo/http "$@"
