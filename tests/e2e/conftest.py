"""Start the local stage exactly as `make run` does, and drive it over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from localstage import emulators

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def stage(tmp_path_factory):
    port, stripe_port = emulators.free_port(), emulators.free_port()
    log = tmp_path_factory.mktemp("stage") / "stage.log"
    env = {**os.environ, "PORT": str(port), "STRIPE_PORT": str(stripe_port)}
    for name in [n for n in env if n.startswith("FIELDLINE_") or n == "AWS_ENDPOINT_URL"]:
        env.pop(name)  # the stage configures itself, as it does for a user
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "localstage"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        emulators.wait_until_up(f"{base}/health", process, timeout=180)
    except RuntimeError:
        process.kill()
        raise RuntimeError(log.read_text()) from None
    yield Stage(base, stripe_port, process, log)
    process.send_signal(signal.SIGINT)  # what Ctrl-C does
    process.wait(timeout=20)
    # Ctrl-C stops everything the stage started: localstripe no longer answers.
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{stripe_port}/v1/customers", timeout=2)


class Stage:
    def __init__(self, base: str, stripe_port: int, process, log: Path):
        self.base, self.stripe_port, self.process, self.log = base, stripe_port, process, log
        self.http = requests.Session()

    def call(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.base + path, headers=headers, timeout=30, **kwargs)
