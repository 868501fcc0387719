"""Start the emulators the local stage and the tests share: moto in-process, localstripe."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

LOOPBACK = "127.0.0.1"
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def start_moto(port: int | None = None):
    """An in-process moto server on loopback. Returns (server, endpoint_url)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    os.environ.update(FAKE_AWS_ENV)
    # AWS_ENDPOINT_URL would send every boto3 client elsewhere (DESIGN §7).
    os.environ.pop("AWS_ENDPOINT_URL", None)
    port = port or free_port()
    server = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    return server, f"http://{LOOPBACK}:{port}"


def create_table(endpoint_url: str, table_name: str) -> None:
    import boto3

    from chalicelib.store.table import create_table as create

    client = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="us-east-1")
    create(client, table_name)


def start_localstripe(port: int, log_path: Path | None = None) -> subprocess.Popen:
    """localstripe as a child process; waits until it answers."""
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    command = [sys.executable, "-m", "localstripe", "--port", str(port)]
    process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    wait_until_up(f"http://{LOOPBACK}:{port}/v1/customers", process, headers=stripe_auth())
    return process


def stripe_auth() -> dict[str, str]:
    return {"Authorization": "Bearer sk_test_local"}


def wait_until_up(url: str, process=None, headers=None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers, if only to refuse
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout}s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def register_stripe_webhook(stripe_port: int, url: str, secret: str) -> None:
    """localstripe signs and posts its events to `url` like Stripe does."""
    import urllib.parse

    data = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    request = urllib.request.Request(
        f"http://{LOOPBACK}:{stripe_port}/_config/webhooks/fieldline",
        data=data,
        headers=stripe_auth(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5)
