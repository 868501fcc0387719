"""Cold start: the time to import `app` in a fresh interpreter, against a baseline that imports
only chalice, boto3 and pynamodb (what any app on this stack pays).

    python -m bench.coldstart [--repeat 15]

Runs are interleaved (baseline, app, baseline, app, ...) so machine noise hits both alike, and
the median of each is compared. Target: ratio <= 1.3.
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
APP = "import app"


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
    time_import(APP, env)  # warm the bytecode cache, as a deployed package ships .pyc
    baseline, app = [], []
    started = time.perf_counter()
    for _ in range(args.repeat):
        baseline.append(time_import(BASELINE, env))
        app.append(time_import(APP, env))
    base_ms, app_ms = statistics.median(baseline) * 1000, statistics.median(app) * 1000
    print(f"repetitions        {args.repeat} (interleaved, {time.perf_counter() - started:.1f}s)")
    print(f"baseline import    {base_ms:7.1f} ms  (chalice + boto3 + pynamodb, median)")
    print(f"app import         {app_ms:7.1f} ms  (median)")
    print(f"ratio              {app_ms / base_ms:7.2f}  (target <= 1.30)")


if __name__ == "__main__":
    main()
