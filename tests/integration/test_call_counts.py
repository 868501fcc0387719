"""DynamoDB calls per request stay flat as the table grows, and no Scan is ever issued."""

from __future__ import annotations

import pytest

from bench import ddbcalls
from chalicelib.domain import jobs as job_rules
from chalicelib.domain.timeline import event
from chalicelib.store.jobs import event_item, job_item
from chalicelib.store.models import Item
from tests.integration.helpers import CUSTOMER


def _seed_jobs(tenant_id: str, customer_id: str, count: int) -> None:
    """Write jobs straight to the table: the API's behaviour is not what is measured here."""
    with Item.batch_write() as batch:
        for n in range(count):
            job, created = job_rules.new_lead(f"seed{n:05d}", customer_id, f"Job {n}", "seed")
            job.version = 1  # batch writes skip PynamoDB's version bookkeeping
            batch.save(job_item(tenant_id, job))
            batch.save(event_item(tenant_id, created))
            batch.save(event_item(tenant_id, event(job.job_id, "NoteAdded", "seed")))


def _list_routes(owner, job_id: str, customer_id: str) -> list[str]:
    return [
        "/jobs",
        "/jobs?stage=lead",
        f"/jobs?customer_id={customer_id}",
        f"/jobs/{job_id}",
        f"/jobs/{job_id}/timeline",
        "/customers",
        "/customers?q=dana",
        "/technicians",
        "/settings",
    ]


def _calls_per_route(owner, routes: list[str]) -> dict[str, dict[str, int]]:
    counts = {}
    for route in routes:
        with ddbcalls.counting() as calls:
            response = owner.get(route)
        assert response.status_code == 200, (route, response.body)
        counts[route] = dict(calls)
    return counts


@pytest.mark.slow
def test_list_and_read_routes_make_the_same_calls_at_100_and_5000_jobs(owner):
    customer = owner.post("/customers", CUSTOMER).data
    job = owner.post("/leads", {"customer_id": customer["id"], "title": "Measured"}).data
    routes = _list_routes(owner, job["id"], customer["id"])

    _seed_jobs(owner.tenant_id, customer["id"], 100)
    at_100 = _calls_per_route(owner, routes)
    _seed_jobs(owner.tenant_id, customer["id"], 4_900)
    at_5000 = _calls_per_route(owner, routes)

    assert at_5000 == at_100
    # The job's detail reads its header and visit tally (GetItem) and one Query per kind it
    # shows (quotes, invoices, next visits, latest notes): more calls than one Query of the whole
    # job, but each reads only what is shown, however long the job's history (bench.growth).
    # Every request also reads its caller's user item (one GetItem: a deactivated user's token
    # is refused at once, services/team.py).
    detail = at_100.pop(f"/jobs/{job['id']}")
    assert detail == {"GetItem": 3, "Query": 4}, detail
    assert all(sum(calls.values()) <= 4 for calls in at_100.values()), at_100


def test_the_scan_guard_fails_any_scan_loudly(moto_endpoint):
    from chalicelib.integrations.aws import client

    with pytest.raises(ddbcalls.ForbiddenCall):
        client("dynamodb").scan(TableName="fieldline-test")
