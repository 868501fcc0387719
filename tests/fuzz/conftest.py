"""The local stage the fuzzer attacks, started as `make run` starts it, and one tenant's objects.

The stage runs in its own process on free ports (moto's too, so the invariants can read its
table afterwards) and is stopped with Ctrl-C's signal when the session ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from localstage import emulators
from tests.integration.helpers import CUSTOMER, new_tenant

ROOT = Path(__file__).resolve().parents[2]
# The stage's log (with the traceback of any 500) outlives the run, for whoever reproduces it.
LOG = ROOT / "test-artifacts" / "fuzz" / "stage.log"
TABLE = "fieldline-local"  # localstage's table
LINE = {"description": "Labour", "quantity": 2, "unit_price_cents": 12500, "taxable": True}


@pytest.fixture
def owner(client):
    """A tenant of the in-process app (chalice.test.Client), for the tests that need no stage."""
    return new_tenant(client)


@pytest.fixture
def reader(moto_endpoint):
    """Reads the in-process app's table (the session's moto) for the invariants."""
    from tests.conftest import TABLE as SESSION_TABLE
    from tests.invariants import local_reader

    return local_reader(moto_endpoint, SESSION_TABLE)


@dataclass
class Stage:
    base: str
    moto: str
    process: subprocess.Popen
    log: Path

    def call(self, method: str, path: str, token: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # A new connection each time: see `caller` in test_openapi_fuzz.
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)


# Module scope: the stage (and its clock) stops as soon as the fuzzing module is done, rather
# than idling beside the rest of the session.
@pytest.fixture(scope="module")
def fuzz_stage():
    port, stripe_port, moto_port = (emulators.free_port() for _ in range(3))
    log = LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PORT": str(port),
        "STRIPE_PORT": str(stripe_port),
        "MOTO_PORT": str(moto_port),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    for name in [n for n in env if n.startswith("FIELDLINE_") or n == "AWS_ENDPOINT_URL"]:
        env.pop(name)  # the stage configures itself, as it does for a user
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "localstage"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        emulators.wait_until_up(f"{base}/health", process, timeout=60)
    except RuntimeError:
        process.kill()
        raise RuntimeError(log.read_text()) from None
    yield Stage(base, f"http://127.0.0.1:{moto_port}", process, log)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=20)


@dataclass
class Seeded:
    """One tenant's objects at every step of a job, so fuzzed requests reach real objects."""

    tenant_id: str
    token: str
    ids: dict[str, str]
    # Destructive operations get objects of their own, so a fuzzer that cancels the job early
    # does not turn every later request into a 409.
    spare: dict[str, str]


@pytest.fixture(scope="module")
def seeded(fuzz_stage) -> Seeded:
    stage = fuzz_stage
    created = stage.call("POST", "/dev/tenants", json={"name": "Fuzz Plumbing"}).json()
    token = created["owner_token"]

    def post(path: str, body: dict | None = None) -> dict:
        response = stage.call("POST", path, token, json=body or {})
        assert response.status_code in (200, 201), (path, response.text)
        return response.json()

    soon = datetime.now(UTC).replace(hour=15, minute=0, second=0, microsecond=0)
    soon += timedelta(days=7 - soon.weekday() if soon.weekday() >= 4 else 1)  # a weekday
    window = {
        "window_start": soon.isoformat(),
        "window_end": (soon + timedelta(hours=2)).isoformat(),
        "duration_minutes": 60,
    }
    customer = post("/customers", CUSTOMER)
    technician = post("/technicians", {"name": "Sam Rivera", "phone": "312-555-0111"})
    job = post("/leads", {"customer_id": customer["id"], "title": "Leaking water heater"})
    quote = post(f"/jobs/{job['id']}/quotes", {"options": [{"name": "Good", "line_items": [LINE]}]})
    sent_quote = post(f"/jobs/{job['id']}/quotes/{quote['id']}/send")
    visit = post(f"/jobs/{job['id']}/visits", {**window, "technician_ids": [technician["id"]]})
    invoice = post(f"/jobs/{job['id']}/invoices", {"kind": "progress", "line_items": [LINE]})
    sent_invoice = post(f"/jobs/{job['id']}/invoices/{invoice['id']}/send")
    spare_job = post("/leads", {"customer_id": customer["id"], "title": "Spare"})
    spare_visit = post(f"/jobs/{spare_job['id']}/visits", window)
    spare_invoice = post(
        f"/jobs/{spare_job['id']}/invoices", {"kind": "progress", "line_items": [LINE]}
    )
    checklist = {"items": [{"id": "shutoff", "label": "Water shut off", "required": True}]}
    stage.call("PUT", f"/jobs/{job['id']}/visits/{visit['id']}/checklist", token, json=checklist)
    ids = {
        "customer_id": customer["id"],
        "technician_id": technician["id"],
        "job_id": job["id"],
        "quote_id": quote["id"],
        "visit_id": visit["id"],
        "invoice_id": invoice["id"],
        "quote_token": sent_quote["link"].rsplit("/", 1)[1],
        "invoice_token": sent_invoice["link"].rsplit("/", 1)[1],
        "visit_token": _visit_token(created["tenant_id"], job["id"], visit["id"]),
        "name": "help",
        "item_id": "shutoff",
        "filename": "fieldline.css",
    }
    spare = {
        "job_id": spare_job["id"],
        "invoice_id": spare_invoice["id"],
        "visit_id": spare_visit["id"],
    }
    return Seeded(created["tenant_id"], token, ids, spare)


def _visit_token(tenant_id: str, job_id: str, visit_id: str) -> str:
    """The link a reminder would text (the stage signs with the local link secret)."""
    from chalicelib.config import LOCAL_SECRETS
    from chalicelib.domain import links

    claims = links.LinkClaims(
        kind="visit",
        tenant_id=tenant_id,
        job_id=job_id,
        object_id=visit_id,
        expires_at=datetime.now(UTC) + timedelta(days=30),
    )
    return links.sign(claims, LOCAL_SECRETS["link_secret"])
