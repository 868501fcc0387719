"""Lambda SnapStart's runtime hooks (chalicelib/snapstart.py): what the API loads before the
snapshot, and what each restored environment makes anew."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_before_the_snapshot_every_route_of_the_deployed_stage_is_loaded_and_built():
    # In a fresh interpreter, as a deployed API function initializes
    code = (
        "import json, sys, app\n"
        "from chalicelib import snapstart\n"
        "from chalicelib.api import routing\n"
        "lazy = sorted(m for m in sys.modules if m.startswith('chalicelib.api.') and "
        "m.split('.')[-1] in routing.MODULES)\n"
        "loaded = snapstart.before_snapshot()\n"
        "from chalicelib.api.http import ROUTES\n"
        "unbuilt = [r.path for r in ROUTES for m in (r.body, r.query, r.response) "
        "if m is not None and not m.__pydantic_complete__]\n"
        "print(json.dumps({'lazy': lazy, 'loaded': loaded, 'unbuilt': unbuilt, "
        "'in_memory': sorted(set(loaded + list(snapstart.LIBRARIES)) - set(sys.modules)), "
        "'dev': [m for m in sys.modules if m in ('chalicelib.api.dev', "
        "'chalicelib.api.devstripe')]}))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDLINE_")}
    env["FIELDLINE_STAGE"] = "prod"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    # Before the hook a cold start had loaded no route module (they load on first use)
    assert found["lazy"] == []
    # After it, every route module of the stage, its models built, and the SDKs, are in memory
    assert len(found["loaded"]) == len(set(found["loaded"])) > 10
    assert found["in_memory"] == [] and found["unbuilt"] == []
    # The local stage's helpers are not part of a deployed stage
    assert found["dev"] == []


def test_the_hooks_are_registered_with_lambdas_runtime_where_there_is_one(monkeypatch):
    from chalicelib import snapstart

    registered: dict[str, object] = {}
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_before_snapshot = lambda hook: registered.setdefault("before", hook)
    runtime.register_after_restore = lambda hook: registered.setdefault("after", hook)
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)

    assert snapstart.register() is True
    assert registered == {"before": snapstart.before_snapshot, "after": snapstart.after_restore}
    # Elsewhere (the local stage, tests) there is no runtime and nothing to register
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)
    assert snapstart.register() is False


def test_environments_restored_from_one_snapshot_share_no_randomness_nor_clients():
    from chalicelib import snapstart
    from chalicelib.integrations import aws

    # Given one snapshot's state: the random module's, and a client made before it
    random.seed(1234)
    snapshot = random.getstate()
    aws.client("s3")
    draws = []
    for _ in range(2):  # two environments restored from it
        random.setstate(snapshot)
        snapstart.after_restore()
        draws.append(random.random())
        # Then neither reuses the client (nor its connections); each makes its own
        assert aws.client.cache_info().currsize == 0
    # And their jitter differs
    assert draws[0] != draws[1]
