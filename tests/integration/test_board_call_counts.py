"""The day board and the technician's day cost the same DynamoDB calls at 100 and 5,000 jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench import ddbcalls
from chalicelib.domain import jobs as job_rules
from chalicelib.domain import visits as visit_rules
from chalicelib.domain.clock import iso
from chalicelib.store import keys
from chalicelib.store.jobs import child_item, job_item
from chalicelib.store.models import Item
from tests.integration.helpers import CUSTOMER

DAY = "2030-06-03"  # a Monday; Chicago is on CDT (UTC-5)
FIRST_OTHER_DAY = datetime(2030, 7, 1, 14, 0, tzinfo=UTC)


def _seed_jobs(tenant_id: str, customer_id: str, start: int, stop: int) -> None:
    """Jobs with an unassigned visit each on other days, written straight to the table."""
    with Item.batch_write() as batch:
        for n in range(start, stop):
            job, _ = job_rules.new_lead(f"seed{n:05d}", customer_id, f"Job {n}", "seed")
            job.version = 1  # batch writes skip PynamoDB's version bookkeeping
            batch.save(job_item(tenant_id, job))
            when = FIRST_OTHER_DAY + timedelta(days=n % 300)
            visit, _ = visit_rules.new_visit(
                f"seedvisit{n:05d}",
                job.job_id,
                when,
                when + timedelta(hours=3),
                60,
                "America/Chicago",
                "seed",
            )
            visit.version = 1
            index = keys.unassigned_index(tenant_id, when.date().isoformat())
            item = child_item(
                tenant_id,
                job.job_id,
                "VISIT",
                visit.visit_id,
                visit,
                gsi1=(index, keys.visit_day_sort(iso(visit.start), visit.visit_id)),
            )
            batch.save(item)


def _calls(api, path: str) -> dict[str, int]:
    with ddbcalls.counting() as calls:
        response = api.get(path)
    assert response.status_code == 200, (path, response.body)
    return dict(calls)


@pytest.mark.slow
def test_the_board_and_my_day_make_the_same_calls_at_100_and_5000_jobs(owner):
    # Given two technicians with visits that day, one of them shared, and an unassigned visit
    techs = [
        owner.post("/technicians", {"name": name, "phone": "(312) 555-0177"}).data
        for name in ("Sam Ortiz", "Eli Watts")
    ]
    customer = owner.post("/customers", CUSTOMER).data
    for hour, technician_ids in (("09", [techs[0]["id"]]), ("13", [t["id"] for t in techs])):
        job = owner.post("/leads", {"customer_id": customer["id"], "title": "Booked"}).data
        body = {
            "window_start": f"{DAY}T{hour}:00:00-05:00",
            "window_end": f"{DAY}T{hour}:59:00-05:00",
            "duration_minutes": 45,
            "technician_ids": technician_ids,
        }
        assert owner.post(f"/jobs/{job['id']}/visits", body).status_code == 201
    waiting = owner.post("/leads", {"customer_id": customer["id"], "title": "Open"}).data
    body = {"window_start": f"{DAY}T10:00:00-05:00", "window_end": f"{DAY}T12:00:00-05:00"}
    owner.post(f"/jobs/{waiting['id']}/visits", {**body, "duration_minutes": 30})
    sam = owner.as_role("technician", techs[0]["id"])
    routes = [(owner, f"/dispatch/board?date={DAY}"), (sam, f"/me/visits?date={DAY}")]

    # When the board is read with 100 and then 5,000 jobs (and their visits) in the table
    _seed_jobs(owner.tenant_id, customer["id"], 0, 100)
    at_100 = [_calls(api, path) for api, path in routes]
    _seed_jobs(owner.tenant_id, customer["id"], 100, 5_000)
    at_5000 = [_calls(api, path) for api, path in routes]

    # Then the calls are the same, and a handful
    assert at_5000 == at_100
    board, my_day = at_100
    # (one GetItem each is the caller's check: services/team.py)
    assert board == {"GetItem": 2, "Query": 2, "BatchGetItem": 3}, board
    assert my_day == {"GetItem": 3, "BatchGetItem": 3}, my_day
    assert len(owner.get(f"/dispatch/board?date={DAY}").data["unassigned"]) == 1
