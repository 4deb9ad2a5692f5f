"""The sync scenarios hold whatever today's date is: run with the clock years ahead and years behind.

The demo systems stamp `updated_at` with the clock whenever a sync writes a row, and the product
stamps its runs with it; libfaketime moves both for a child pytest, as a machine whose date is 2031
(or 2019) would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# libfaketime 0.9.10 leaves the monotonic clock alone only if asked, and then its clock_nanosleep
# refuses Python's time.sleep with EINVAL; the child waits on an Event instead, which it handles.
SLEEP_SHIM = "import threading, time\ntime.sleep = threading.Event().wait\n"


@pytest.mark.parametrize("fake_now", ["2031-05-06 04:00:00", "2019-03-01 12:00:00"], ids=["2031", "2019"])
def test_the_sync_scenarios_pass_with_the_clock_at_another_date(fake_now, faketime_library, tmp_path):
    (tmp_path / "shim").mkdir()
    (tmp_path / "shim" / "sitecustomize.py").write_text(SLEEP_SHIM)
    env = {
        **os.environ,
        "LD_PRELOAD": faketime_library,
        "FAKETIME": f"@{fake_now}",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "PYTHONPATH": str(tmp_path / "shim"),
    }
    years = (
        "import datetime, sqlite3; print(datetime.date.today().year, "
        "sqlite3.connect(':memory:').execute(\"SELECT strftime('%Y', 'now')\").fetchone()[0])"
    )
    probe = subprocess.run(
        [sys.executable, "-c", years], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    year = fake_now[:4]
    assert probe.stdout.split() == [year, year], probe.stdout + probe.stderr  # both clocks moved
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-k",
            "sqlite",
            f"--basetemp={tmp_path / 'runs'}",
            str(ROOT / "tests/sync/test_scenarios.py"),
        ],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert " passed" in summary and "skipped" not in summary and "deselected" in summary, summary
