"""DynamoDB calls each read route makes, as listed in docs/PERFORMANCE.md.

    python -m bench.calls

Starts moto in-process, seeds one tenant with a job carrying a quote, a visit, an invoice and
notes, then counts (botocore hooks, bench/ddbcalls.py) the calls of each route. The counts do
not depend on how many jobs the table holds: tests/integration/test_call_counts.py proves it
at 100 and 5,000 jobs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bench import ddbcalls
from bench.overhead import moto_table


def main() -> None:
    ddbcalls.install()
    with moto_table():
        report()


def report() -> None:
    from chalice.test import Client

    import app as fieldline

    client = Client(fieldline.app)
    call = _caller(client)
    # No Stripe account: the bench runs without localstripe, and counts DynamoDB calls only.
    tenant = {"name": "Calls Plumbing", "stripe": "none"}
    token = call("POST", "/dev/tenants", tenant)["owner_token"]
    auth = _caller(client, token)
    ids = _seed(auth)
    print(f"{'route':58} calls  by operation")
    for path in _routes(ids):
        with ddbcalls.counting() as calls:
            try:
                auth("GET", path.format(**ids))
            except AssertionError:
                continue  # a route this build does not have yet
        ops = ", ".join(f"{op} {n}" for op, n in sorted(calls.items()))
        print(f"GET {path.format(**ids):54} {sum(calls.values()):5}  {ops}")


def _caller(client, token: str | None = None):
    def call(method: str, path: str, body=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = json.dumps(body) if body is not None else b""
        response = client.http.request(method, path, headers=headers, body=payload)
        assert response.status_code < 400, (path, response.body)
        return json.loads(response.body) if response.body else None

    return call


def _seed(auth) -> dict[str, str]:
    customer = auth("POST", "/customers", {"name": "Dana Calls", "phone": "312-555-0142"})
    tech = auth(
        "POST",
        "/technicians",
        {
            "name": "Sam",
            "phone": "312-555-0111",
            "shift": {
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                "start": "00:00",
                "end": "23:59",
            },
        },
    )
    job = auth("POST", "/leads", {"customer_id": customer["id"], "title": "Calls job"})
    line = {"description": "Labour", "quantity": 1, "unit_price_cents": 10000, "taxable": True}
    auth("POST", f"/jobs/{job['id']}/quotes", {"options": [{"name": "Good", "line_items": [line]}]})
    start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=15, minute=0, second=0)
    auth(
        "POST",
        f"/jobs/{job['id']}/visits",
        {
            "window_start": start.isoformat(),
            "window_end": (start + timedelta(hours=2)).isoformat(),
            "duration_minutes": 60,
            "technician_ids": [tech["id"]],
        },
    )
    invoice = auth(
        "POST", f"/jobs/{job['id']}/invoices", {"kind": "progress", "line_items": [line]}
    )
    auth("POST", f"/jobs/{job['id']}/invoices/{invoice['id']}/send")
    for n in range(3):
        auth("POST", f"/jobs/{job['id']}/notes", {"text": f"note {n}"})
    return {
        "job_id": job["id"],
        "customer_id": customer["id"],
        "technician_id": tech["id"],
        "day": start.date().isoformat(),
    }


def _routes(ids: dict[str, str]) -> list[str]:
    return [
        "/settings",
        "/technicians",
        "/technicians/{technician_id}",
        "/customers",
        "/customers?q=dana",
        "/customers?q=312555",
        "/customers/{customer_id}",
        "/jobs",
        "/jobs?stage=scheduled",
        "/jobs?customer_id={customer_id}",
        "/jobs/{job_id}",
        "/jobs/{job_id}/timeline",
        "/invoices?status=sent",
        "/reports/ar-aging",
        "/messages?status=sent",
        "/dispatch/board?date={day}",
    ]


if __name__ == "__main__":
    main()
