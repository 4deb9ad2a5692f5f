"""What the API and protocol benchmarks share: each side started as a user starts it (a process),
timed as a whole, and the best of the tries reported as rates and their ratio."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def flowbridge_run(work: Path, env: dict[str, str], flow_id: str, inserted: int) -> float:
    """`flowbridge run FLOW --json` in `work`: its seconds; it must have inserted `inserted` records."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "run", flow_id, "--json"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    summary = json.loads(done.stdout) if done.stdout.strip() else {"error": done.stderr[-2000:]}
    assert summary.get("totals", {}).get("inserted") == inserted, summary
    return seconds


def script_run(*command: str) -> float:
    """A hand-written script's seconds (`python script.py ARGS`)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, *command], check=True)
    return time.perf_counter() - started


def report(what: str, records: int, tries: int, ours: list[float], theirs: list[float], unit: str) -> None:
    flowbridge, script = records / min(ours), records / min(theirs)
    print(f"{unit + ' per side:':<34}{records:,} {what}, best of {tries}")
    print(f"hand-written httpx script:        {script:,.0f} {unit}/s ({min(theirs):.2f} s)")
    print(f"flowbridge run (durable outcome): {flowbridge:,.0f} {unit}/s ({min(ours):.2f} s)")
    print(f"ratio: {flowbridge / script:.2f} (target >= 0.7)")
