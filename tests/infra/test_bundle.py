"""The deployment package as `make synth` and `cdk deploy` build it: every wheel for the Lambda
runtime, inside Lambda's size limit, and importable on its own.

This synthesizes with the real dependencies (pip downloads the Lambda wheels, ≈ 1 min), then
unpacks the function code and runs it in an interpreter that sees nothing but the bundle and
the standard library, as the Lambda runtime does.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import NamedTuple

import pytest

from infra.parts.packaging import NOT_DEPLOYED
from tests.infra.conftest import ROOT, Synthesized, synthesize

pytestmark = [pytest.mark.infra, pytest.mark.slow]

# The runtime the project runs on (.python-version), which Chalice packages for.
RUNTIME = "python" + (ROOT / ".python-version").read_text().strip()
# Lambda's limit for a function's code, unzipped (layers included; Fieldline has none).
UNZIPPED_LIMIT = 262_144_000


class Built(NamedTuple):
    synthesized: Synthesized
    archive: Path  # the one code package every function runs
    unpacked: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    synthesized = synthesize(tmp_path_factory.mktemp("cdk.out"))
    (archive,) = synthesized.outdir.glob("asset.*.zip")
    unpacked = tmp_path_factory.mktemp("bundle")
    zipfile.ZipFile(archive).extractall(unpacked)
    return Built(synthesized, archive, unpacked)


def test_every_function_runs_on_the_projects_python_within_lambdas_size_limit(built):
    functions = built.synthesized.resources("AWS::Serverless::Function")
    assert {f["Properties"]["Runtime"] for f in functions.values()} == {RUNTIME}
    unzipped = sum(info.file_size for info in zipfile.ZipFile(built.archive).infolist())
    assert unzipped < UNZIPPED_LIMIT, f"{unzipped / 1e6:.0f} MB unzipped"


def _installed(bundle: Path) -> set[str]:
    return {d.name.split("-")[0].lower() for d in bundle.glob("*.dist-info")}


def test_every_requirement_is_bundled_and_nothing_it_never_imports(built):
    bundle = built.unpacked
    required = {
        re.split(r"[\\[=<>]", line)[0].lower().replace("-", "_")
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    installed = _installed(bundle)
    assert required <= installed, required - installed
    assert not installed & set(NOT_DEPLOYED)
    assert "chalice" not in installed  # Chalice adds its runtime (chalice/app.py) itself
    assert (bundle / "chalice" / "app.py").exists()
    assert (bundle / "chalicelib" / "api" / "routes.json").exists()
    assert (bundle / "chalicelib" / "pages" / "templates" / "layout.html").exists()


def test_the_bundle_runs_on_its_own(built):
    bundle = built.unpacked
    # -I -S: no user or site packages, nothing from this venv; only the bundle and the stdlib.
    code = f"""
import importlib, json, pkgutil, sys
sys.path.insert(0, {str(bundle)!r})
import app
for module in pkgutil.walk_packages([{str(bundle / "chalicelib")!r}], "chalicelib."):
    importlib.import_module(module.name)
import numpy, pyvrp, stripe, twilio.rest
from chalicelib.domain.routing import (
    Location, RoutingProblem, StraightLineTravel, Technician, Visit,
)
from chalicelib.integrations import routing_pyvrp
home = Location(40.0, -75.0)
problem = RoutingProblem(
    technicians=(Technician("t1", home, 8 * 3600, 17 * 3600),),
    visits=(Visit("v1", Location(40.01, -75.01), 9 * 3600, 12 * 3600, 3600),),
)
proposal = routing_pyvrp.solve(problem, StraightLineTravel(), max_iterations=50)
from chalicelib.pages import render
print(json.dumps({{
    "routes": len(app.app.routes),
    "planned": [s.visit_id for r in proposal.routes for s in r.stops],
    "page": render.not_found().body,
}}))
"""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code],
        cwd=bundle,
        env={"FIELDLINE_STAGE": "prod", "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["routes"] > 50
    assert found["planned"] == ["v1"]
    assert "<h1>Page not found</h1>" in found["page"]  # the pages' templates are packaged
