"""The synthesized stack, built once per session in a fresh interpreter.

Synthesizing runs `chalice package`, which imports app.py for a deployed stage and reads its
settings once; a separate process keeps that away from the rest of the session. The app is
packaged without its requirements (`--no-dependencies`): the template is the same, and no
wheel is downloaded. `make synth` bundles them.

Without the deployment tooling (infra/requirements.txt) these tests skip, unless
FIELDLINE_REQUIRE_INFRA_TESTS=1 (as `make test` sets), when its absence fails them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
STAGE = "prod"
PUBLISHABLE_KEY = "pk_test_fieldline"
STACK = f"fieldline-{STAGE}"
TOOLING = ("aws_cdk", "cfnlint", "statelint")


def pytest_configure(config):
    config.addinivalue_line("markers", "infra: checks the synthesized CDK stack (infra/)")


def require_tooling() -> None:
    missing = [module for module in TOOLING if importlib.util.find_spec(module) is None]
    if not missing:
        return
    message = (
        f"deployment tooling missing ({', '.join(missing)}): pip install -r infra/requirements.txt"
    )
    if os.environ.get("FIELDLINE_REQUIRE_INFRA_TESTS") == "1":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Synthesized:
    outdir: Path
    template_path: Path
    template: dict[str, Any]
    seconds: float

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.template["Resources"].items()
            if resource["Type"] == resource_type
        }


def synthesize(outdir: Path, *options: str) -> Synthesized:
    require_tooling()
    # The app's settings come from the stack, not from whatever this session has set.
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("FIELDLINE_") and name != "AWS_ENDPOINT_URL"
    }
    started = time.monotonic()
    command = [sys.executable, "infra/synth.py", "--stage", STAGE, "--outdir", str(outdir)]
    command += ["-c", f"stripe_publishable_key={PUBLISHABLE_KEY}"]
    result = subprocess.run([*command, *options], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    path = outdir / f"{STACK}.template.json"
    return Synthesized(outdir, path, json.loads(path.read_text()), time.monotonic() - started)


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("cdk.out"), "--no-dependencies")


@pytest.fixture(scope="session")
def template(synthesized):
    from aws_cdk.assertions import Template

    return Template.from_json(synthesized.template)


@pytest.fixture(scope="session")
def app_declarations() -> dict[str, Any]:
    """What the app itself declares (its task mapping, its functions), read in a fresh process."""
    code = (
        "import json, app\n"
        "from chalice.utils import to_cfn_resource_name\n"
        "from chalicelib.handlers.tasks import SUBSTITUTIONS\n"
        "print(json.dumps({'substitutions': {name: to_cfn_resource_name(fn) for name, fn in "
        "SUBSTITUTIONS.items()}, 'functions': sorted(to_cfn_resource_name(f.name) for f in "
        "app.app.pure_lambda_functions), 'event_sources': sorted([to_cfn_resource_name(e.name), "
        "type(e).__name__] for e in app.app.event_sources)}))"
    )
    env = {n: v for n, v in os.environ.items() if not n.startswith("FIELDLINE_")}
    env["FIELDLINE_STAGE"] = STAGE
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
