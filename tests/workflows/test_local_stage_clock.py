"""The local stage's clock, over HTTP: `python -m localstage` with a day passing per second."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from localstage import emulators

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    port, stripe_port = emulators.free_port(), emulators.free_port()
    log = tmp_path_factory.mktemp("clock") / "stage.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIELDLINE_")}
    env.update({"PORT": str(port), "STRIPE_PORT": str(stripe_port)})
    env["FIELDLINE_TIME_SCALE"] = "86400"  # a day a second
    env.pop("AWS_ENDPOINT_URL", None)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "localstage"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        emulators.wait_until_up(f"{base}/health", process, timeout=90)
    except RuntimeError:
        process.kill()
        raise RuntimeError(log.read_text()) from None
    yield base
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)


def _eventually(read, ready, timeout: float = 30):
    """Poll the stage until `ready(read())`; the clock works in the background."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def test_the_local_stage_texts_reminders_and_chases_invoices_on_its_own_clock(api):
    http = requests.Session()
    tenant = http.post(f"{api}/dev/tenants", json={"name": "Clockwork Heating"}).json()
    http.headers["Authorization"] = f"Bearer {tenant['owner_token']}"
    # Given a tenant that chases invoices 1 and 2 days after they are due
    policy = [{"days_from_due": 1}, {"days_from_due": 2}]
    assert http.patch(f"{api}/settings", json={"dunning_policy": policy}).status_code == 200
    shift = {"days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "start": "07:00"}
    tech = http.post(
        f"{api}/technicians",
        json={"name": "Sam Ortiz", "phone": "(312) 555-0177", "shift": {**shift, "end": "19:00"}},
    ).json()
    customer = {"name": "Dana Whitfield", "phone": "(312) 555-0142"}
    job = http.post(f"{api}/leads", json={"title": "Boiler", "customer": customer}).json()
    # When the office books a visit for 10:00 tomorrow
    zone = ZoneInfo("America/New_York")
    tomorrow = (datetime.now(zone) + timedelta(days=1)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    visit = {
        "window_start": tomorrow.isoformat(),
        "window_end": (tomorrow + timedelta(hours=2)).isoformat(),
        "duration_minutes": 60,
        "technician_ids": [tech["id"]],
    }
    assert http.post(f"{api}/jobs/{job['id']}/visits", json=visit).status_code == 201
    # And sends an invoice due today
    invoice = http.post(
        f"{api}/jobs/{job['id']}/invoices",
        json={"kind": "progress", "due_days": 0, "line_items": [_line(18900)]},
    ).json()
    assert http.post(f"{api}/jobs/{job['id']}/invoices/{invoice['id']}/send").status_code == 200

    # Then within seconds the reminder and both dunning texts reach the outbox
    def outbox():
        return [m["body"] for m in http.get(f"{api}/dev/outbox?to=+13125550142").json()["items"]]

    def done(bodies):
        return sum("friendly reminder" in b for b in bodies) == 2 and any(
            "we'll see you" in b for b in bodies
        )

    assert done(_eventually(outbox, done)), outbox()
    # And after the last step the invoice is with collections
    shown = _eventually(
        lambda: http.get(f"{api}/jobs/{job['id']}/invoices/{invoice['id']}").json(),
        lambda i: i["status"] == "uncollectible",
    )
    assert shown["status"] == "uncollectible"
    # And a reconciliation run can be started by hand
    started = http.post(f"{api}/dev/reconcile")
    assert started.status_code == 202 and "reconciliation" in started.json()["execution_arn"]


def _line(cents: int) -> dict:
    return {"description": "Service", "quantity": 1, "unit_price_cents": cents}
