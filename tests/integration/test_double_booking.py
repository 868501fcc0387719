"""Twenty offices booking one plumber at once: the database lets exactly one through."""

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.integration.helpers import CUSTOMER

RACERS = 20
DAY = "2030-06-03"  # a Monday; Chicago is at UTC-5


def test_twenty_racing_bookings_of_one_technician_let_exactly_one_through(owner):
    # Imported here: the store reads its settings on import, after conftest points them at moto.
    from chalicelib.domain.callers import Caller
    from chalicelib.domain.errors import FieldlineError
    from chalicelib.domain.visits import TechDay
    from chalicelib.services import scheduling
    from chalicelib.store import keys
    from chalicelib.store.records import get

    # Given one plumber and twenty jobs, each with an unassigned visit on the same morning
    # (separate jobs, so nothing but the technician's day stands between the bookings)
    tech = owner.post("/technicians", {"name": "Sam Ortiz", "phone": "(312) 555-0177"}).data
    customer = owner.post("/customers", CUSTOMER).data
    visits = []
    for i in range(RACERS):
        job = owner.post("/leads", {"customer_id": customer["id"], "title": f"Job {i}"}).data
        visit = owner.post(
            f"/jobs/{job['id']}/visits",
            {
                "window_start": f"{DAY}T09:{i:02d}:00-05:00",
                "window_end": f"{DAY}T12:00:00-05:00",
                "duration_minutes": 90,
            },
        )
        assert visit.status_code == 201, visit.body
        visits.append((job["id"], visit.data["id"]))
    office = Caller(tenant_id=owner.tenant_id, user_id="office-user", role="office")
    start_together = threading.Barrier(RACERS)

    def book(job_and_visit):
        job_id, visit_id = job_and_visit
        start_together.wait()
        try:
            scheduling.assign(office, job_id, visit_id, [tech["id"]], None)
            return ("booked", visit_id)
        except FieldlineError as refused:
            return (refused.code, visit_id)

    # When twenty threads assign them to the plumber at the same moment
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        outcomes = list(pool.map(book, visits))

    # Then exactly one booking wins and every other one is a double booking
    booked = [visit_id for outcome, visit_id in outcomes if outcome == "booked"]
    refused = [outcome for outcome, _ in outcomes if outcome != "booked"]
    assert len(booked) == 1, outcomes
    assert refused == ["double_booking"] * (RACERS - 1)
    # And the plumber's day holds that one visit, and only it
    lock = get(keys.tech_day(owner.tenant_id, tech["id"], DAY), TechDay)
    assert [b.visit_id for b in lock.bookings] == booked
    scheduled = [
        visit_id
        for job_id, visit_id in visits
        if owner.get(f"/jobs/{job_id}/visits/{visit_id}").data["status"] == "scheduled"
    ]
    assert scheduled == booked
