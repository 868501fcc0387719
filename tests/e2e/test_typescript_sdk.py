"""The TypeScript SDK (sdk/typescript) as a client developer gets it: its types are what
openapi-typescript (default options) makes of the stage's /openapi.json, it builds under
`tsc --strict`, and the README's lead-to-paid journey runs through it against the local stage.

Needs Node.js and the SDK's node_modules (`make test` installs them); without them these tests
skip, unless FIELDLINE_REQUIRE_SDK_TESTS=1 (as `make test` sets), when that fails them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
SDK = Path(__file__).resolve().parents[2] / "sdk" / "typescript"
BIN = SDK / "node_modules" / ".bin"


def require_sdk() -> None:
    if shutil.which("node") and (BIN / "tsc").exists():
        return
    message = "the SDK's tests need node and sdk/typescript/node_modules (make test installs them)"
    if os.environ.get("FIELDLINE_REQUIRE_SDK_TESTS") == "1":
        pytest.fail(message)
    pytest.skip(message)


def run(command: list[str | Path], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(part) for part in command],
        cwd=SDK,
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


@pytest.fixture(scope="module")
def compiled() -> subprocess.CompletedProcess:
    """The SDK and its journey compiled by tsc --strict (tsconfig.json) into dist/."""
    require_sdk()
    shutil.rmtree(SDK / "dist", ignore_errors=True)
    return run([BIN / "tsc", "-p", "."])


def test_the_committed_types_are_what_the_stages_document_generates(stage, tmp_path):
    require_sdk()
    document = tmp_path / "openapi.json"
    document.write_text(stage.call("GET", "/openapi.json").text)
    generated = tmp_path / "schema.d.ts"
    result = run([BIN / "openapi-typescript", document, "-o", generated])
    assert result.returncode == 0, result.stderr
    committed = (SDK / "src" / "schema.d.ts").read_text()
    assert generated.read_text() == committed, "stale: regenerate with `make sdk-types`"


def test_the_sdk_and_its_journey_compile_under_strict(compiled):
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


def test_the_readmes_journey_and_a_stale_change_through_the_sdk(stage, compiled):
    assert compiled.returncode == 0, "does not compile (see the test above)"
    env = {
        **os.environ,
        "FIELDLINE_API": stage.base,
        "FIELDLINE_STRIPE": f"http://127.0.0.1:{stage.stripe_port}",
    }
    result = run(["node", "--test", "dist/test/"], env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# pass 2" in result.stdout and "# fail 0" in result.stdout
