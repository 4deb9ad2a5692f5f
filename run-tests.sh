#!/usr/bin/env bash
# Installs everything the test suite needs (a virtualenv with the project and its test extras,
# and the Debian packages below) and runs the whole suite.
# Extra arguments go to pytest, e.g. ./run-tests.sh -k ledger
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: chromium + chromedriver (browser tests), faketime (the suite run at other dates).
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 \
        || ! command -v faketime >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
            faketime >/dev/null
    else
        echo "note: chromium/chromedriver/faketime missing and not root; the tests needing them will skip" >&2
    fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# CI (FLOWBRIDGE_CHECKS=1) also holds the code to the lint, format and type rules in pyproject.toml.
if [ "${FLOWBRIDGE_CHECKS:-0}" = 1 ]; then
    .venv/bin/ruff check .
    .venv/bin/ruff format --check .
    .venv/bin/mypy
fi
# On every core (pytest-xdist; FLOWBRIDGE_TEST_WORKERS=1 runs in one process). loadgroup keeps the
# tests sharing a real ERP or a browser on one worker (tests/conftest.py).
exec .venv/bin/python -m pytest -n "${FLOWBRIDGE_TEST_WORKERS:-auto}" --dist loadgroup "$@"
