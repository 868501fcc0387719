"""Cold start: the time to import `app` in a fresh interpreter, against a baseline that imports
only chalice, boto3 and pynamodb (what any app on this stack pays), and what a function's first
request then loads.

    python -m bench.coldstart [--repeat 15]

`import app` is what Lambda's init phase runs. Routes and handlers load their modules on first
use (chalicelib/api/routing.py), so the rows after it show the other half of a cold start: the
modules a first request of each kind imports (middleware, models, services, SDK adapters they
import at module level). Runs are interleaved (baseline, app, ..., baseline, app, ...) so
machine noise hits all alike, and the median of each is compared. Target: `import app` ratio
<= 1.3.

The API function runs with Lambda SnapStart (chalicelib/snapstart.py): the last rows time its
before-snapshot hook (paid once per published version, not per cold start) and what a first
request in an environment restored from the snapshot still imports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "import chalice, boto3, pynamodb.models"
FIRST_USE = "import app, chalicelib.api.middleware"
SCENARIOS = {
    "import app": "import app",
    "+ first GET /jobs/{job_id}": f"{FIRST_USE}, chalicelib.api.jobs",
    "+ first POST /invoices/...": f"{FIRST_USE}, chalicelib.api.invoices",
    "+ first Stripe webhook": f"{FIRST_USE}, chalicelib.api.webhooks",
    "+ first stream batch": "import app, chalicelib.handlers.stream",
    "+ every route and handler": (
        "import app, chalicelib.api.middleware; from chalicelib.api.routing import "
        "declared_routes; declared_routes(); import chalicelib.handlers.consumer, "
        "chalicelib.handlers.tasks, chalicelib.handlers.schedule, chalicelib.handlers.stream"
    ),
}


# SnapStart: the hook's cost, then what a restored environment's first requests still import
# (a token refused, a customer link that checks out to nothing: no AWS call is needed).
SNAPSTART = """
import resource, sys, time
import app
from chalicelib import snapstart
started = time.perf_counter()
snapstart.before_snapshot()
hook = time.perf_counter() - started
snapped = set(sys.modules)
from chalice.test import Client
with Client(app.app) as client:
    snapped |= set(sys.modules)
    started = time.perf_counter()
    client.http.get("/jobs/j1", headers={"Authorization": "Bearer not-a-token"})
    client.http.get("/p/invoices/not-a-link")
    first = time.perf_counter() - started
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(hook, len(snapped), first, len(set(sys.modules) - snapped), rss)
"""


def time_import(statement: str, env: dict[str, str]) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    result = subprocess.run(
        [sys.executable, "-X", "frozen_modules=on", "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    env = {
        **os.environ,
        "FIELDLINE_STAGE": "prod",  # what a deployed function imports (no /dev routes)
        "FIELDLINE_LOCAL_DIR": tempfile.mkdtemp(),
        "PYTHONDONTWRITEBYTECODE": "0",
    }
    for statement in SCENARIOS.values():  # warm the bytecode cache: a deployed package ships .pyc
        time_import(statement, env)
    baseline: list[float] = []
    runs: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    started = time.perf_counter()
    for _ in range(args.repeat):
        baseline.append(time_import(BASELINE, env))
        for name, statement in SCENARIOS.items():
            runs[name].append(time_import(statement, env))
    base_ms = statistics.median(baseline) * 1000
    print(f"repetitions  {args.repeat} (interleaved, {time.perf_counter() - started:.1f}s)")
    print(f"{'baseline (chalice + boto3 + pynamodb)':40} {base_ms:7.1f} ms")
    for name, times in runs.items():
        ms = statistics.median(times) * 1000
        target = "  (target <= 1.30)" if name == "import app" else ""
        print(f"{name:40} {ms:7.1f} ms  ratio {ms / base_ms:5.2f}{target}")
    snapstart(env, max(3, args.repeat // 3))


def snapstart(env: dict[str, str], repeat: int) -> None:
    rows = []
    for _ in range(repeat):
        result = subprocess.run(
            [sys.executable, "-X", "frozen_modules=on", "-c", SNAPSTART],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append([float(v) for v in result.stdout.strip().splitlines()[-1].split()])
    hook, modules, first, added, rss = (
        statistics.median(column) for column in zip(*rows, strict=True)
    )
    print(f"SnapStart ({repeat} runs)")
    hook_row = f"{modules:.0f} modules loaded, peak RSS {rss:.0f} MB"
    print(f"{'  before-snapshot hook (once a version)':40} {hook * 1000:7.1f} ms  {hook_row}")
    first_row = f"+{added:.0f} modules imported"
    print(f"{'  restored: first 2 requests':40} {first * 1000:7.1f} ms  {first_row}")


if __name__ == "__main__":
    main()
