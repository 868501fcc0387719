"""What importing the app costs and registers, checked in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ["stripe", "twilio", "pyvrp", "numpy", "ortools", "aiohttp"]
ROOT = Path(__file__).resolve().parents[2]


def _run_in_fresh_interpreter(code: str, tmp_path, stage: str = "local"):
    env = {**os.environ, "FIELDLINE_LOCAL_DIR": str(tmp_path), "FIELDLINE_STAGE": stage}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_importing_the_app_imports_no_heavy_sdk(tmp_path):
    code = (
        "import json, sys; import app; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    assert _run_in_fresh_interpreter(code, tmp_path) == []


def test_local_stage_routes_exist_only_in_the_local_stage(tmp_path):
    code = (
        "import json, app; "
        "print(json.dumps(sorted(p for p in app.app.routes if p.startswith('/dev'))))"
    )
    assert _run_in_fresh_interpreter(code, tmp_path, "local") == [
        "/dev/outbox",
        "/dev/plans/run",
        "/dev/reconcile",
        "/dev/stripe/confirm-card",
        "/dev/tenants",
        "/dev/tokens",
    ]
    assert _run_in_fresh_interpreter(code, tmp_path, "prod") == []


def test_the_route_manifest_matches_the_declarations():
    # Chalice registers routes from routes.json; a route added, moved or made public must be
    # in it, or the deployed API would not serve it (or would ask it for a token).
    from chalicelib.api import routing

    assert routing.MANIFEST.read_text() == routing.render(routing.generate()), (
        "chalicelib/api/routes.json is out of date: run `python -m chalicelib.api.routing`"
    )


def test_a_route_module_loads_when_its_route_is_first_called(tmp_path):
    code = (
        "import json, sys; from chalice.test import Client; import app; "
        "before = 'chalicelib.api.meta' in sys.modules; "
        "status = Client(app.app).http.get('/health').status_code; "
        "print(json.dumps([before, status, 'chalicelib.api.meta' in sys.modules, "
        "'chalicelib.api.invoices' in sys.modules]))"
    )
    assert _run_in_fresh_interpreter(code, tmp_path, "prod") == [False, 200, True, False]
